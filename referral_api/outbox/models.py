"""Table `outbox`: written in the same transaction as the change it announces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.db.base import Base, utcnow

KINDS = ("partner_card", "card_update", "person_notice", "reminder", "relay",
         "coordinator_alert", "followup_wave")
CARD_KINDS = ("partner_card", "card_update")  # a referral's card: sent once, then edited


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_not_before", "status", "not_before"),
        # The worker's claim: the head of each chat's pending queue (partial: only pending rows)
        Index("ix_outbox_pending_chat", "chat_key", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    # Target chat, encrypted. Null when not known yet (a partner without a notification chat,
    # no COORDINATOR_CHAT_ID): the worker resolves it at delivery time or reports it.
    chat_id_enc: Mapped[str | None] = mapped_column(Text)
    chat_kind: Mapped[str] = mapped_column(String(16))  # private | group
    payload_enc: Mapped[str] = mapped_column(Text)  # Fernet of a JSON object
    # pending | sent | failed | held (no target yet: a partner without a group, no
    # COORDINATOR_CHAT_ID; released to pending when a target appears, never dropped)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # HMAC of the target chat (DataVault.chat_key): one chat's messages go out in id order.
    chat_key: Mapped[str | None] = mapped_column(String(64))
    # A worker's lease on a row it is sending: another worker takes it only after this time,
    # so a crash repeats at most the messages in flight.
    claimed_until: Mapped[datetime | None]
    # Past this time a message that still could not be delivered is failed (per-class budget).
    give_up_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The Telegram message a partner card or card update became (or edited): later changes of
    # the referral edit that message in place (one card per referral, issue 13 item 12).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Follow-up messages: the wave they announce (deleted with it: /stop, /forget), and the
    # end of the country's daytime window: past it the row is dropped, the wave re-queued.
    followup_wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_waves.id", ondelete="CASCADE"), index=True)
    not_after: Mapped[datetime | None]
