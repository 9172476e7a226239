"""Queue a message in the outbox, inside the caller's transaction (the caller commits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.crypto import DataVault
from referral_api.outbox.models import OutboxMessage

OutboxKind = Literal["partner_card", "card_update", "person_notice", "reminder", "relay",
                     "coordinator_alert", "followup_wave"]
ChatKind = Literal["private", "group"]


def chat_kind_of(chat_id: int | None) -> ChatKind:
    """Telegram group and channel ids are negative; people's private chats positive."""
    return "group" if chat_id is not None and chat_id < 0 else "private"


def enqueue(
    session: AsyncSession,
    vault: DataVault,
    *,
    kind: OutboxKind,
    payload: dict[str, Any],
    chat_id: int | None,
    now: datetime,
    not_before: datetime | None = None,
    referral_id: int | None = None,
    chat_kind: ChatKind | None = None,
    followup_wave_id: int | None = None,
    not_after: datetime | None = None,
) -> OutboxMessage:
    """Add one pending message, due at `not_before` (default: now). The target chat and the
    payload are encrypted."""
    message = OutboxMessage(
        kind=kind,
        referral_id=referral_id,
        chat_id_enc=None if chat_id is None else vault.encrypt_chat_id(chat_id),
        chat_kind=chat_kind or chat_kind_of(chat_id),
        payload_enc=vault.encrypt_json(payload),
        status="pending",
        attempts=0,
        not_before=not_before or now,
        created_at=now,
        followup_wave_id=followup_wave_id,
        not_after=not_after,
    )
    session.add(message)
    return message
