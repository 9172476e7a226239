"""Outbox that never drops and never repeats itself (issue 15): a keyed chat hash for per-chat
order, a claim lease so that a crash repeats at most what was in flight, a per-class delivery
deadline, and the `held` status for messages that have no target yet (a partner without a
group, no COORDINATOR_CHAT_ID).

Revision ID: 0007_outbox_lease
Revises: 0006_followup
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral_api.db.base import UtcDateTime

revision: str = "0007_outbox_lease"
down_revision: str | None = "0006_followup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("chat_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("give_up_at", UtcDateTime(), nullable=True))
    op.create_index("ix_outbox_pending_chat", "outbox", ["chat_key", "id"],
                    postgresql_where=sa.text("status = 'pending'"),
                    sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_chat", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("give_up_at")
        batch.drop_column("claimed_until")
        batch.drop_column("chat_key")
