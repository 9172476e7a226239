"""The channel as a dimension of the anonymous signals (issue 19): "telegram" or "web" (our
web chat) on each event and on each journey rollup. Rows from before stay without one.

Revision ID: 0012_signal_channel
Revises: 0011_translation_review
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_signal_channel"
down_revision: str | None = "0011_translation_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signal_events") as batch:
        batch.add_column(sa.Column("channel", sa.String(8), nullable=True))
    with op.batch_alter_table("signal_journeys") as batch:
        batch.add_column(sa.Column("channel", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signal_journeys") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("signal_events") as batch:
        batch.drop_column("channel")
