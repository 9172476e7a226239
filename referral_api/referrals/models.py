"""Tables `referrals`, `referral_events`, `relay_messages` (the seat a visit takes:
`partners.models.SlotClaim`).

Personal fields end in `_enc` (Fernet, see referral_api.crypto); `chat_key` is a keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

STATUSES = ("new", "accepted", "contacted", "unreachable", "returned", "closed", "cancelled")
FINISHED_STATUSES = ("closed", "cancelled")
OPEN_WHERE = text("status NOT IN ('closed', 'cancelled') AND chat_key IS NOT NULL")
COUNSELLOR_STATUSES = ("accepted", "contacted", "unreachable", "closed")
CONTACT_MODES = ("telegram", "phone", "visit")
# The reintegration partners of a return: followup.models.REINTEGRATION_PARTNERS.
# Booking topics: the `Topic` literal of referrals/schemas.py (the API contract), nowhere else.


class Referral(Base):
    __tablename__ = "referrals"
    # At most one open referral per person per partner (migration 0010): two bookings at the
    # same instant cannot both pass.
    __table_args__ = (Index("uq_referrals_open_per_partner", "chat_key", "partner_id",
                            unique=True, postgresql_where=OPEN_WHERE, sqlite_where=OPEN_WHERE),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)  # without the dash
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    contact_mode: Mapped[str] = mapped_column(String(16))
    slot_start: Mapped[datetime | None]
    language: Mapped[str] = mapped_column(String(16))
    interpreter: Mapped[bool] = mapped_column(default=False)
    topic: Mapped[str] = mapped_column(String(32))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    name_enc: Mapped[str | None] = mapped_column(Text)
    chat_id_enc: Mapped[str | None] = mapped_column(Text)  # null once purged
    chat_key: Mapped[str | None] = mapped_column(String(64), index=True)  # null once purged
    phone_enc: Mapped[str | None] = mapped_column(Text)
    consent_version: Mapped[str] = mapped_column(String(32))
    consent_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None]
    # Set by the "returned" action of the staff web app (status `returned`).
    return_country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    return_date: Mapped[date | None]
    reintegration_partner: Mapped[str | None] = mapped_column(String(16))  # caritas | iom
    # The separate, optional "May we send you a few questions after your return?" (issue 8).
    followup_consent: Mapped[bool] = mapped_column(default=False, server_default=false())
    followup_consent_at: Mapped[datetime | None]
    # "yyyymm:pseudonym" of the person's signals that month, encrypted (issue 7): status
    # changes count in the same anonymous journey. Null once purged or when not sent.
    signal_key_enc: Mapped[str | None] = mapped_column(Text)


class ReferralEvent(Base):
    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))  # person | system | counsellor:<id>
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RelayMessage(Base):
    __tablename__ = "relay_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))  # to_partner | to_person
    text_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
