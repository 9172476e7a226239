"""Queue a message in the outbox, inside the caller's transaction (the caller commits), and
release the messages that were held for want of a target.

A partner card, a card update or a coordinators' alert without a target chat (a partner without
a Telegram group, no COORDINATOR_CHAT_ID) is `held`, never dropped: the worker leaves held rows
alone, and `release_held` / `release_held_alerts` give them their chat once one is known.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.crypto import DataVault
from referral_api.outbox.models import OutboxMessage
from referral_api.partners.models import Partner
from referral_api.referrals.models import Referral

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
    payload: dict[str, Any],
    chat_id: int | None,
    now: datetime,
    not_before: datetime | None = None,
    referral_id: int | None = None,
    chat_kind: ChatKind | None = None,
    followup_wave_id: int | None = None,
    not_after: datetime | None = None,
) -> OutboxMessage:
    """Add one message, due at `not_before` (default: now). The target chat and the payload
    are encrypted; `chat_key` is the chat's keyed hash (one chat's messages go out in order).
    A partner card, card update or coordinators' alert without a chat is `held` until
    `release_held` / `release_held_alerts` gives it one; other messages are `pending`."""
    held = chat_id is None and kind in HELD_KINDS
    message = OutboxMessage(
        kind=kind,
        referral_id=referral_id,
        chat_id_enc=None if chat_id is None else vault.encrypt_chat_id(chat_id),
        chat_key=None if chat_id is None else vault.chat_key(chat_id),
        chat_kind=chat_kind or chat_kind_of(chat_id),
        payload_enc=vault.encrypt_json(payload),
        status="held" if held else "pending",
        attempts=0,
        not_before=not_before or now,
        created_at=now,
        followup_wave_id=followup_wave_id,
        not_after=not_after,
    )
    session.add(message)
    return message


async def release_held(session: AsyncSession, vault: DataVault, *, partner_id: str,
                       chat_id: int, now: datetime, retry_failed: bool = True) -> int:
    """The partner now has the Telegram group `chat_id`: its referrals' held cards and card
    updates get that chat and become `pending`, due now, in id order (the worker sends one
    chat's messages by id). With `retry_failed` (a new group), cards that failed for want of
    a working chat (`TARGET_FAILURES`: dropped for want of a group before `held` existed, bot
    removed, chat unknown) are sent again to it too, unless their text was blanked. In the
    caller's transaction (the caller commits); returns how many messages were released."""
    of_partner = OutboxMessage.referral_id.in_(
        select(Referral.id).where(Referral.partner_id == partner_id))
    return await _release(session, vault, chat_id, now, and_(
        OutboxMessage.kind.in_(PARTNER_KINDS), of_partner), retry_failed=retry_failed)


async def release_held_alerts(session: AsyncSession, vault: DataVault, chat_id: int,
                              now: datetime) -> int:
    """COORDINATOR_CHAT_ID is known (the worker at start-up): the held coordinators' alerts
    that still matter (the referral is still new and its partner still has no group) get that
    chat and become `pending`, due now, in id order. Alerts overtaken by events stay held
    (they go with their referral at the retention purge); the staff app's Alerts page shows
    what is still waiting. In the caller's transaction (the caller commits); returns how many
    alerts were released."""
    still_waiting = OutboxMessage.referral_id.in_(
        select(Referral.id).join(Partner, Partner.id == Referral.partner_id)
        .where(Referral.status == "new", Partner.notification_chat_id.is_(None)))
    return await _release(session, vault, chat_id, now, and_(
        OutboxMessage.kind == "coordinator_alert", still_waiting))


async def release_held_to_partner_groups(session: AsyncSession, vault: DataVault,
                                         now: datetime) -> int:
    """A sweep for the worker (say once a minute): held cards of partners that do have a
    group (a booking that raced an admin setting the group) are released to it. In the
    caller's transaction (the caller commits); returns how many messages were released."""
    partners = (await session.execute(
        select(Partner.id, Partner.notification_chat_id)
        .where(Partner.notification_chat_id.is_not(None),
               Partner.id.in_(select(Referral.partner_id)
                              .join(OutboxMessage, OutboxMessage.referral_id == Referral.id)
                              .where(OutboxMessage.status == "held",
                                     OutboxMessage.kind.in_(PARTNER_KINDS))))
        .order_by(Partner.id))).all()
    released = 0
    for partner_id, chat_id in partners:
        if chat_id is not None:
            released += await release_held(session, vault, partner_id=partner_id,
                                           chat_id=chat_id, now=now, retry_failed=False)
    return released


async def _release(session: AsyncSession, vault: DataVault, chat_id: int, now: datetime,
                   which: ColumnElement[bool], *, retry_failed: bool = True) -> int:
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
