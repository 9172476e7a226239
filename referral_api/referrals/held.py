"""Referral cards and coordinators' alerts held for want of a chat, released once one is known.

A partner card, a card update or a person's message to a partner without a Telegram group is
queued `held` (outbox.service.enqueue), and so is a coordinators' alert without
COORDINATOR_CHAT_ID. Which rows belong to which partner is the referrals' knowledge: this
module picks them, `outbox.service.release` gives them their chat.

Callers: partner administration (a partner given a group: `release_partner_cards`), and the
outbox worker's housekeeping once a minute (`release_held_to_partner_groups`,
`release_held_alerts`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.crypto import DataVault
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.service import PARTNER_KINDS, release
from referral_api.partners.models import Partner
from referral_api.referrals.models import Referral


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
    return await release(session, vault, chat_id, now, and_(
        OutboxMessage.kind.in_(PARTNER_KINDS), of_partner), retry_failed=retry_failed)


async def release_partner_cards(session: AsyncSession, vault: DataVault, partner: Partner,
                                now: datetime, *, new_group: bool) -> int:
    """Send the partner's held referral cards to its group, if it has one (for a new group,
    also the cards that failed for want of a working chat); in the caller's transaction.
    How many cards were released."""
    if partner.notification_chat_id is None:
        return 0
    return await release_held(session, vault, partner_id=partner.id,
                              chat_id=partner.notification_chat_id, now=now,
                              retry_failed=new_group)


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
    return await release(session, vault, chat_id, now, and_(
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
