"""Partner data in the person's language (issue 13, item 4): structured opening (weekly walk-in
and appointment windows, or walk-in/appointment without days), the year or date the hours were
published, interpreter and step-free access, and a short note per language. The free-text
`hours` stays as the hours *as published*, for staff only.

Revision ID: 0009_structured_hours
Revises: 0008_card_in_place
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_structured_hours"
down_revision: str | None = "0008_card_in_place"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("access", sa.String(12), nullable=True))
        batch.add_column(sa.Column("opening", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("opening_as_of", sa.String(10), nullable=True))
        batch.add_column(sa.Column("interpreter", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("accessible", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("notes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        for column in ("notes", "accessible", "interpreter", "opening_as_of", "opening",
                       "access"):
            batch.drop_column(column)
