"""Tables `signal_events` (the anonymous event store) and its rollup `signal_journeys` (the
campaigns a signal names: campaigns/models.py).

A signal row holds only: a monthly pseudonym, a month, an event type and a value from closed
lists (catalogue.py), a language code, a province (never finer), a campaign code, the
channel ("telegram" or "web", our web chat; none for a server-side event) and the hour. No
free text, no Telegram id, no name: tests/referral_api/signals/test_signals.py fails when a
column is added outside that list.

The rollup (kept on insert, so reports never scan the events): `signal_journeys`, one row
per person and month (the pseudonym links a journey within a month only): the furthest
funnel stage, the first campaign, the last language and province, the channel, the week of
the first event, and bitmasks of the topics read, obstacles named and screening flags
(catalogue.RANKED): distinct people per value are then one scan of this table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base

PSEUDONYM_LENGTH = 64  # hex of HMAC-SHA256


class SignalEvent(Base):
    __tablename__ = "signal_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    month: Mapped[int] = mapped_column(Integer)  # yyyymm of the pseudonym's key
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_LENGTH), index=True)
    event: Mapped[str] = mapped_column(String(24))
    value: Mapped[str | None] = mapped_column(String(24))
    language: Mapped[str | None] = mapped_column(String(8))
    province: Mapped[str | None] = mapped_column(String(3))
    campaign: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(8))  # "telegram" or "web"
    hour: Mapped[datetime]  # truncated to the hour, UTC


class SignalJourney(Base):
    __tablename__ = "signal_journeys"
    __table_args__ = (
        Index("ix_signal_journeys_month_campaign", "month", "campaign"),
    )

    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_LENGTH), primary_key=True)
    stage: Mapped[int] = mapped_column(SmallInteger, default=0)  # catalogue.stage_rank
    campaign: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    province: Mapped[str | None] = mapped_column(String(3))
    channel: Mapped[str | None] = mapped_column(String(8))  # the first known: one per person
    week: Mapped[date] = mapped_column(Date)  # Monday of the week of the first event
    topics: Mapped[int] = mapped_column(Integer, default=0)  # bitmasks, see catalogue.RANKED
    obstacles: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[int] = mapped_column(Integer, default=0)
