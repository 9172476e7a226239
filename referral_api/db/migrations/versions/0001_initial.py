"""Initial schema (partners, availability, counsellors, referrals, claims, events, relay, outbox).

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(10), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("hours", sa.Text(), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("province", sa.String(8), nullable=True),
        sa.Column("notification_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity_per_slot", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_table(
        "partner_availability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE",
                                name=op.f("fk_partner_availability_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_availability")),
    )
    op.create_index(op.f("ix_partner_availability_partner_id"), "partner_availability",
                    ["partner_id"])
    op.create_table(
        "partner_counsellors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], ondelete="CASCADE",
                                name=op.f("fk_partner_counsellors_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_counsellors")),
        sa.UniqueConstraint("partner_id", "telegram_user_id",
                            name=op.f("uq_partner_counsellors_partner_id_telegram_user_id")),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(8), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("contact_mode", sa.String(16), nullable=False),
        sa.Column("slot_start", _utc(), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("interpreter", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=True),
        sa.Column("chat_id_enc", sa.Text(), nullable=True),
        sa.Column("chat_key", sa.String(64), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("consent_version", sa.String(32), nullable=False),
        sa.Column("consent_at", _utc(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("purged_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"],
                                name=op.f("fk_referrals_partner_id_partners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("reference", name=op.f("uq_referrals_reference")),
    )
    op.create_index(op.f("ix_referrals_chat_key"), "referrals", ["chat_key"])
    op.create_index(op.f("ix_referrals_partner_id"), "referrals", ["partner_id"])
    op.create_table(
        "slot_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("slot_start", _utc(), nullable=False),
        sa.Column("seat", sa.SmallInteger(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"],
                                name=op.f("fk_slot_claims_partner_id_partners")),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE",
                                name=op.f("fk_slot_claims_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_claims")),
        sa.UniqueConstraint("partner_id", "slot_start", "seat",
                            name=op.f("uq_slot_claims_partner_id_slot_start_seat")),
    )
    op.create_index(op.f("ix_slot_claims_referral_id"), "slot_claims", ["referral_id"])
    op.create_table(
        "referral_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE",
                                name=op.f("fk_referral_events_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_events")),
    )
    op.create_index(op.f("ix_referral_events_referral_id"), "referral_events", ["referral_id"])
    op.create_table(
        "relay_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE",
                                name=op.f("fk_relay_messages_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_messages")),
    )
    op.create_index(op.f("ix_relay_messages_referral_id"), "relay_messages", ["referral_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("chat_id_enc", sa.Text(), nullable=True),
        sa.Column("chat_kind", sa.String(16), nullable=False),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", _utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE",
                                name=op.f("fk_outbox_referral_id_referrals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_referral_id"), "outbox", ["referral_id"])
    op.create_index("ix_outbox_status_not_before", "outbox", ["status", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_not_before", table_name="outbox")
    op.drop_index(op.f("ix_outbox_referral_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_relay_messages_referral_id"), table_name="relay_messages")
    op.drop_table("relay_messages")
    op.drop_index(op.f("ix_referral_events_referral_id"), table_name="referral_events")
    op.drop_table("referral_events")
    op.drop_index(op.f("ix_slot_claims_referral_id"), table_name="slot_claims")
    op.drop_table("slot_claims")
    op.drop_index(op.f("ix_referrals_partner_id"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_chat_key"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("partner_counsellors")
    op.drop_index(op.f("ix_partner_availability_partner_id"), table_name="partner_availability")
    op.drop_table("partner_availability")
    op.drop_table("partners")
