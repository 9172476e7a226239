"""Staff app, admin slice: account deactivation, session revocation, partner editing (issue 4).

Revision ID: 0004_staff_admin
Revises: 0003_returned
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_staff_admin"
down_revision: str | None = "0003_returned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # session_epoch: written into the signed session cookie; logout, deactivation and a
    # password reset bump it, so every older cookie of the account stops working at once.
    with op.batch_alter_table("staff_accounts") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("session_epoch")
