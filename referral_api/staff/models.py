"""Tables `staff_accounts` (people who log in to the staff web app) and `audit_log`.

Audit records hold who did what and when, never personal data: `detail` is a short code
(a status, a role), not free text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

# translator: a partner's cultural mediator who reviews the bot's texts in their languages
# (translations.web) and sees nothing else.
ROLES = ("counsellor", "coordinator", "admin", "translator")
LOCALES = ("nl", "fr", "en")


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lowercased
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id (argon2-cffi)
    role: Mapped[str] = mapped_column(String(16))  # counsellor | coordinator | admin
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    locale: Mapped[str] = mapped_column(String(2), default="nl")
    # Shown in a referral's history and on its card ("by An"); the email's local part if unset.
    display_name: Mapped[str | None] = mapped_column(String(80))
    # A translator's languages, comma-separated catalogue codes ("ar,fa_AF"); others: none.
    languages: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # In the session cookie; bumped by logout, deactivation and a new password, so every
    # cookie issued before stops working on its next request (server-side revocation).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditRecord(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    # SET NULL: the record of who looked survives the person's /forget.
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
