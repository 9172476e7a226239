"""One card per referral, kept current (issue 13, item 12): the Telegram message id of a sent
partner card, so that later changes edit that message; staff members' display names for the
referral page's history (item 13).

Revision ID: 0008_card_in_place
Revises: 0007_outbox_lease
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_card_in_place"
down_revision: str | None = "0007_outbox_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(sa.Column("display_name", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("display_name")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("message_id")
