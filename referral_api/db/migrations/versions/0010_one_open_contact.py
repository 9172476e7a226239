"""Fair use of slots (issue 17, item 3): at most one open referral per person per partner,
kept by a partial unique index (two bookings at the same instant cannot both pass), and an
index for the per-person booking rate.

Revision ID: 0010_one_open_contact
Revises: 0009_structured_hours
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_one_open_contact"
down_revision: str | None = "0009_structured_hours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status NOT IN ('closed', 'cancelled') AND chat_key IS NOT NULL")


def upgrade() -> None:
    op.create_index("uq_referrals_open_per_partner", "referrals", ["chat_key", "partner_id"],
                    unique=True, postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_referrals_open_per_partner", table_name="referrals")
