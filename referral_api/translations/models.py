"""Tables `translation_reviews` (a mediator's verdict on one string in one language) and
`voice_recordings` (a person's recording of one key screen in one language).

A review holds the text as approved or corrected; the catalogues get it through
`python -m referral_api translations import` (``translations.catalogues``), which the team
commits. Neither table holds data about the people the bot serves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

VERDICTS = ("approved", "corrected")


class TranslationReview(Base):
    __tablename__ = "translation_reviews"
    __table_args__ = (UniqueConstraint("locale", "msgid", name="uq_translation_review"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    msgid: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)  # the translation as approved or corrected
    verdict: Mapped[str] = mapped_column(String(16))  # approved | corrected
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class VoiceRecording(Base):
    __tablename__ = "voice_recordings"
    __table_args__ = (UniqueConstraint("locale", "screen", name="uq_voice_recording"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    screen: Mapped[str] = mapped_column(String(80))  # a flow node: "welcome.start"
    audio: Mapped[bytes] = mapped_column(LargeBinary)  # OGG/Opus, as Telegram's voice wants
    seconds: Mapped[float] = mapped_column(Double)
    # Telegram's file_id once sent: later sends reuse it (no upload each time).
    file_id: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
