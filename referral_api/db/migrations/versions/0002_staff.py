"""Staff accounts and the audit log.

Revision ID: 0002_staff
Revises: 0001_initial
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_staff"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"],
                                name=op.f("fk_staff_accounts_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_accounts_email")),
    )
    op.create_index(op.f("ix_staff_accounts_partner_id"), "staff_accounts", ["partner_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(100), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["staff_accounts.id"],
                                name=op.f("fk_audit_log_account_id_staff_accounts")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="SET NULL",
                                name=op.f("fk_audit_log_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_account_id"), "audit_log", ["account_id"])
    op.create_index(op.f("ix_audit_log_referral_id"), "audit_log", ["referral_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_referral_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_account_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_staff_accounts_partner_id"), table_name="staff_accounts")
    op.drop_table("staff_accounts")
