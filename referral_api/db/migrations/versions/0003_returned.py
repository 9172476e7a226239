"""The "returned" action: destination country, return date and reintegration partner.

Revision ID: 0003_returned
Revises: 0002_staff
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_returned"
down_revision: str | None = "0002_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("return_country", sa.String(2), nullable=True))
        batch.add_column(sa.Column("return_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reintegration_partner", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("reintegration_partner")
        batch.drop_column("return_date")
        batch.drop_column("return_country")
