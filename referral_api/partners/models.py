"""Tables `partners`, `partner_availability`, `partner_counsellors`, and `slot_claims` (the seats
of a partner's slots taken by referrals: what `schedule.free_slots` counts)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

PARTNER_KINDS = ("return_desk", "city_partner", "ngo", "intl_org")
SERVICES = ("general", "medical", "families", "minors", "trafficking", "shelter")


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a stable slug
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Double)
    lon: Mapped[float] = mapped_column(Double)
    phone: Mapped[str | None] = mapped_column(String(50))
    hours: Mapped[str | None] = mapped_column(Text)  # as published: for staff, never shown
    # What the bot shows, in the person's language (partners/opening.py): walk-in or
    # appointment, weekly windows, when published, interpreter, step-free, a note per language.
    access: Mapped[str | None] = mapped_column(String(12))  # walk_in | appointment | both
    opening: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    opening_as_of: Mapped[str | None] = mapped_column(String(10))  # "2015", "2026-11"
    interpreter: Mapped[bool | None] = mapped_column()
    accessible: Mapped[bool | None] = mapped_column()
    notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # locale -> short note
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty = unknown
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    province: Mapped[str | None] = mapped_column(String(8))
    notification_chat_id: Mapped[int | None] = mapped_column(BigInteger)  # the partner's group
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    capacity_per_slot: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerAvailability(Base):
    """A weekly opening window; slots are generated from it in Europe/Brussels time."""

    __tablename__ = "partner_availability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)


class PartnerCounsellor(Base):
    """A Telegram user allowed to act on the partner's referrals (status, relay)."""

    __tablename__ = "partner_counsellors"
    __table_args__ = (UniqueConstraint("partner_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)


class SlotClaim(Base):
    """One seat of a partner's slot. The unique constraint makes claiming atomic."""

    __tablename__ = "slot_claims"
    __table_args__ = (UniqueConstraint("partner_id", "slot_start", "seat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    slot_start: Mapped[datetime]
    seat: Mapped[int] = mapped_column(SmallInteger)  # 0 .. capacity_per_slot - 1
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
