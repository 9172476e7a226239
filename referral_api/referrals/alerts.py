"""Referrals whose partner was not told in Telegram, as coordinators and admins see them.

A new referral is "waiting in silence" when its partner card is `held` (the partner has no
Telegram group) or `failed` (Telegram did not take it: bot removed, chat unknown, …) and nobody
has accepted it yet. The partner's staff still find it in their inbox; coordinators see the list
on the Alerts page and a count in the navigation, without personal details: reference, partner,
date, contact mode and why only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.errors import Forbidden
from referral_api.outbox.models import OutboxMessage
from referral_api.partners.models import Partner
from referral_api.referrals.models import Referral
from referral_api.referrals.reference import format_reference
from referral_api.staff.models import StaffAccount

ALERT_ROLES = ("coordinator", "admin")
ALERTS_PAGE_SIZE = 200
UNDELIVERED = ("held", "failed")  # the partner card never reached the partner's group


@dataclass(frozen=True, slots=True)
class WaitingReferral:
    reference: str
    partner_id: str
    partner_name: str
    created_at: datetime
    contact_mode: str
    reason: str  # no_group (the partner has no Telegram group) | not_delivered


def sees_alerts(account: StaffAccount) -> bool:
    return account.role in ALERT_ROLES


def _waiting(*columns: Any, partner_id: str | None = None) -> Select[Any]:
    query = (select(*columns)
             .select_from(OutboxMessage)
             .join(Referral, Referral.id == OutboxMessage.referral_id)
             .join(Partner, Partner.id == Referral.partner_id)
             .where(OutboxMessage.kind == "partner_card",
                    OutboxMessage.status.in_(UNDELIVERED),
                    Referral.status == "new", Referral.purged_at.is_(None)))
    if partner_id is not None:
        query = query.where(Referral.partner_id == partner_id)
    return query


async def navigation_count(session: AsyncSession, account: StaffAccount) -> int | None:
    """The number next to "Alerts" in the navigation (web.auth.count_in_navigation):
    coordinators and admins only."""
    return await count_waiting(session) if sees_alerts(account) else None


async def count_waiting(session: AsyncSession, partner_id: str | None = None) -> int:
    """How many new referrals (of one partner, or of all) wait for a partner that was not told
    in Telegram. No scoping here: callers show it to coordinators and admins only."""
    counted = await session.scalar(
        _waiting(func.count(func.distinct(Referral.id)), partner_id=partner_id))
    return int(counted or 0)


class StaffAlerts:
    """The Alerts page: coordinators and admins only (403 for counsellors)."""

    def __init__(self, session: AsyncSession, account: StaffAccount) -> None:
        if not sees_alerts(account):
            raise Forbidden("forbidden")
        self.session = session
        self.account = account

    async def waiting(self, limit: int = ALERTS_PAGE_SIZE) -> list[WaitingReferral]:
        """The waiting referrals, longest waiting first: no personal field is read."""
        rows = await self.session.execute(
            _waiting(Referral.id, Referral.reference, Referral.created_at,
                     Referral.contact_mode, Partner.id, Partner.name,
                     Partner.notification_chat_id)
            .order_by(Referral.created_at, Referral.id).limit(limit))
        seen: set[int] = set()
        waiting = []
        for (referral_id, reference, created_at, contact_mode, partner_id, partner_name,
             group) in rows:
            if referral_id in seen:  # more than one card row for a referral (not expected)
                continue
            seen.add(referral_id)
            waiting.append(WaitingReferral(
                reference=format_reference(reference), partner_id=partner_id,
                partner_name=partner_name, created_at=created_at, contact_mode=contact_mode,
                reason="no_group" if group is None else "not_delivered"))
        return waiting
