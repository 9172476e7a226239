"""Anonymous signals and outreach campaigns (issue 7).

Revision ID: 0005_signals
Revises: 0004_staff_admin
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_signals"
down_revision: str | None = "0004_staff_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"],
                                name="fk_campaigns_partner_id_partners"),
        sa.ForeignKeyConstraint(["created_by"], ["staff_accounts.id"], ondelete="SET NULL",
                                name="fk_campaigns_created_by_staff_accounts"),
        sa.PrimaryKeyConstraint("code", name="pk_campaigns"),
    )
    op.create_index("ix_campaigns_partner_id", "campaigns", ["partner_id"])
    op.create_table(
        "signal_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("value", sa.String(24), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("province", sa.String(3), nullable=True),
        sa.Column("campaign", sa.String(64), nullable=True),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signal_events"),
    )
    op.create_index("ix_signal_events_pseudonym", "signal_events", ["pseudonym"])
    op.create_table(
        "signal_journeys",
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("province", sa.String(3), nullable=True),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("topics", sa.Integer(), nullable=False),
        sa.Column("obstacles", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "pseudonym", name="pk_signal_journeys"),
    )
    op.create_index("ix_signal_journeys_month_campaign", "signal_journeys",
                    ["month", "campaign"])
    with op.batch_alter_table("referrals") as batch:  # batch: SQLite (the demo) too
        batch.add_column(sa.Column("signal_key_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("signal_key_enc")
    op.drop_table("signal_journeys")
    op.drop_table("signal_events")
    op.drop_table("campaigns")
