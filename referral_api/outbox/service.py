"""Queue a message in the outbox, inside the caller's transaction (the caller commits), and
release messages that were held for want of a target.

A partner card, a card update or a coordinators' alert without a target chat (a partner without
a Telegram group, no COORDINATOR_CHAT_ID) is `held`, never dropped: the worker leaves held rows
alone, and `release` gives them their chat once one is known (which rows: the referrals domain
knows, `referrals.held`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.crypto import DataVault
from referral_api.outbox.messages import OutboxPayload
from referral_api.outbox.models import OutboxMessage

OutboxKind = Literal["partner_card", "card_update", "person_notice", "reminder", "relay",
                     "coordinator_alert", "followup_wave"]
ChatKind = Literal["private", "group"]

# Kinds held (not dropped) when they have no target chat yet.
# (A relay without a chat is a person's message to a partner without a group: relays to people
# always have their chat.)
HELD_KINDS: tuple[OutboxKind, ...] = ("partner_card", "card_update", "relay",
                                      "coordinator_alert")
PARTNER_KINDS: tuple[OutboxKind, ...] = ("partner_card", "card_update", "relay")
# Failures that say "wrong or missing chat", not "wrong message": a partner card that failed
# so is sent again when the partner gets a (new) group. `no_target` is what the worker wrote
# before the `held` status existed (a card dropped for want of a group).
TARGET_FAILURES = ("no_target", "forbidden", "chat_not_found", "migrated")


def chat_kind_of(chat_id: int | None) -> ChatKind:
    """Telegram group and channel ids are negative; people's private chats positive."""
    return "group" if chat_id is not None and chat_id < 0 else "private"


def enqueue(
    session: AsyncSession,
    vault: DataVault,
    *,
    kind: OutboxKind,
    message: OutboxPayload,
    chat_id: int | None,
    now: datetime,
    not_before: datetime | None = None,
    referral_id: int | None = None,
    chat_kind: ChatKind | None = None,
    followup_wave_id: int | None = None,
    not_after: datetime | None = None,
) -> OutboxMessage:
    """Add one message, due at `not_before` (default: now). The target chat and the payload
    (`message.payload()`, see outbox.messages) are encrypted; `chat_key` is the chat's keyed
    hash (one chat's messages go out in order). A partner card, card update or coordinators'
    alert without a chat is `held` until `release` gives it one; other messages are
    `pending`."""
    held = chat_id is None and kind in HELD_KINDS
    row = OutboxMessage(
        kind=kind,
        referral_id=referral_id,
        chat_id_enc=None if chat_id is None else vault.encrypt_chat_id(chat_id),
        chat_key=None if chat_id is None else vault.chat_key(chat_id),
        chat_kind=chat_kind or chat_kind_of(chat_id),
        payload_enc=vault.encrypt_json(message.payload()),
        status="held" if held else "pending",
        attempts=0,
        not_before=not_before or now,
        created_at=now,
        followup_wave_id=followup_wave_id,
        not_after=not_after,
    )
    session.add(row)
    return row


async def release(session: AsyncSession, vault: DataVault, chat_id: int, now: datetime,
                  which: ColumnElement[bool], *, retry_failed: bool = True) -> int:
    """The rows `which` selects get the chat `chat_id` and become `pending`, due now, in id
    order: the held ones and, with `retry_failed`, those that failed for want of a working
    chat (`TARGET_FAILURES`), unless their text was blanked. In the caller's transaction (the
    caller commits); returns how many rows were released."""
    releasable = OutboxMessage.status == "held"
    if retry_failed:
        releasable = or_(releasable, and_(OutboxMessage.status == "failed",
                                          OutboxMessage.last_error.in_(TARGET_FAILURES)))
    rows = (await session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.payload_enc)
        .where(which, releasable).order_by(OutboxMessage.id))).all()
    ids = [row_id for row_id, status, payload_enc in rows
           if status == "held" or vault.decrypt_json(payload_enc).get("text")]
    if not ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids),
               OutboxMessage.status.in_(("held", "failed")))  # not sent meanwhile
        .values(chat_id_enc=vault.encrypt_chat_id(chat_id), chat_key=vault.chat_key(chat_id),
                chat_kind=chat_kind_of(chat_id), status="pending", not_before=now,
                attempts=0, last_error=None, claimed_until=None, give_up_at=None)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
