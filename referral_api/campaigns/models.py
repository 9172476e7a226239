"""Table `campaigns`, and the closed list of outreach channels."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

CHANNELS: Final = ("flyer", "poster", "social_media", "outreach_visit", "reception_centre",
                   "website", "other")


class Campaign(Base):
    """An outreach campaign: a code for a deep link, a QR code and a typed fallback."""

    __tablename__ = "campaigns"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    city: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)
