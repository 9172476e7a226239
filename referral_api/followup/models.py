"""Tables `followup_enrolments`, `followup_waves`, `followup_responses`.

An enrolment keeps only what the follow-up needs: the encrypted chat id (and its keyed hash,
so that /stop and /forget find it), the language, the country of return, the reintegration
partner and the return date. The chat id is deleted when the enrolment ends (last wave done,
/stop). Responses hold closed answer ids only; imported pilot responses have no wave.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

ENROLMENT_STATUSES = ("active", "stopped", "finished")
WAVE_STATUSES = ("scheduled", "sent", "answered", "expired", "stopped")
RESPONSE_STATUSES = ("completed", "cancelled", "refused")
RESPONSE_SOURCES = ("bot", "import")
# The programme's reintegration partners: recorded with a referral's return (`referrals`), kept
# by its enrolment and by imported pilot responses.
REINTEGRATION_PARTNERS = ("caritas", "iom")


class FollowupEnrolment(Base):
    __tablename__ = "followup_enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id_enc: Mapped[str | None] = mapped_column(Text)  # null once the enrolment ended
    chat_key: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    partner: Mapped[str] = mapped_column(String(16))  # caritas | iom
    return_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class FollowupWave(Base):
    __tablename__ = "followup_waves"
    __table_args__ = (Index("ix_followup_waves_status_due_on", "status", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("followup_enrolments.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(SmallInteger)  # 1, 2, 3 …
    months: Mapped[int] = mapped_column(SmallInteger)  # offset after return
    due_on: Mapped[date]
    token: Mapped[str] = mapped_column(String(32), unique=True)  # opaque, in the buttons
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    sends: Mapped[int] = mapped_column(SmallInteger, default=0)  # first message + reminders
    last_sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class FollowupResponse(Base):
    __tablename__ = "followup_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(8))  # bot | import
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # import: id
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_waves.id", ondelete="CASCADE"), unique=True)
    partner: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16))  # completed | cancelled | refused
    language: Mapped[str | None] = mapped_column(String(16))
    returned_month: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM
    questionnaire_version: Mapped[int | None] = mapped_column(SmallInteger)
    info_source: Mapped[str | None] = mapped_column(String(32))
    decision_1: Mapped[str | None] = mapped_column(String(32))
    decision_2: Mapped[str | None] = mapped_column(String(32))
    decision_3: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # dimension answers
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
