"""Referrals as one staff account may see and work them (the staff web app's inbox and
referral page; referrals.web).

Scoping lives here, not in templates: a counsellor's every query is filtered by their partner
(another partner's referral is 404); coordinators and admins see every partner's lists but never
decrypted personal fields. Every view of personal data and every change writes an audit record
in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.countries import country_codes
from referral_api.crypto import DataVault
from referral_api.errors import Forbidden, Invalid, NotFound
from referral_api.followup.models import REINTEGRATION_PARTNERS
from referral_api.partners.models import Partner
from referral_api.partners.schedule import to_local
from referral_api.referrals.models import (
    FINISHED_STATUSES,
    Referral,
    ReferralEvent,
    RelayMessage,
)
from referral_api.referrals.reference import format_reference, normalize_reference
from referral_api.referrals.schemas import ReferralPublic
from referral_api.referrals.service import ReferralService
from referral_api.settings import Settings
from referral_api.staff.models import StaffAccount
from referral_api.staff.service import audit, display_name, staff_actor

MAX_MESSAGE_LENGTH = 2000
MAX_RETURN_DAYS_BACK = 2 * 366  # a return registered late: at most about two years ago
MAX_RETURN_DAYS_AHEAD = 60  # a planned return may be recorded up to 60 days ahead
TABS: dict[str, tuple[str, ...]] = {
    "new": ("new",),
    "accepted": ("accepted",),
    "contacted": ("contacted",),
    "unreachable": ("unreachable",),
    "closed": ("returned", "closed", "cancelled"),
}


@dataclass(frozen=True, slots=True)
class InboxItem:
    reference: str
    partner_name: str
    status: str
    contact_mode: str
    slot_start: datetime | None
    language: str
    interpreter: bool
    topic: str
    created_at: datetime
    waiting: bool = False  # the person wrote last and nobody has answered yet


@dataclass(frozen=True, slots=True)
class EventView:
    status: str
    actor: str  # person | system | counsellor | staff (the kind, for its label)
    at: datetime
    name: str | None = None  # a staff member's display name


@dataclass(frozen=True, slots=True)
class MessageView:
    direction: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReturnView:
    country: str
    date: date | None
    reintegration_partner: str | None


@dataclass(frozen=True, slots=True)
class ReferralView:
    item: InboxItem
    flags: list[str]
    personal: bool  # False: the caller may not see personal fields (or they were purged)
    name: str | None
    phone: str | None
    events: list[EventView]
    messages: list[MessageView]
    can_act: bool
    returned: ReturnView | None = None


class StaffReferrals:
    """Referrals as one staff account may see and work them."""

    def __init__(self, session: AsyncSession, vault: DataVault, settings: Settings,
                 clock: Clock, account: StaffAccount) -> None:
        self.session = session
        self.vault = vault
        self.settings = settings
        self.clock = clock
        self.account = account

    @property
    def sees_personal(self) -> bool:
        return self.account.role == "counsellor"

    def _partner_scope(self) -> str | None:
        """The partner a counsellor is limited to; None for coordinators and admins."""
        if self.account.role == "counsellor":
            if self.account.partner_id is None:
                raise Forbidden("no_partner")
            return self.account.partner_id
        return None

    async def inbox(self, tab: str) -> list[InboxItem]:
        statuses = TABS.get(tab)
        if statuses is None:
            raise NotFound()
        query = (select(Referral, Partner).join(Partner, Partner.id == Referral.partner_id)
                 .where(Referral.status.in_(statuses))
                 .order_by(Referral.created_at.desc(), Referral.id.desc()).limit(200))
        scope = self._partner_scope()
        if scope is not None:
            query = query.where(Referral.partner_id == scope)
        rows = (await self.session.execute(query)).all()
        waiting = await self._waiting([referral.id for referral, _ in rows])
        return [_item(referral, partner, referral.id in waiting) for referral, partner in rows]

    async def _waiting(self, referral_ids: list[int]) -> set[int]:
        """Those whose last relayed message is the person's: written, not answered yet."""
        if not referral_ids:
            return set()
        last: dict[int, str] = {}
        for referral_id, direction in await self.session.execute(
                select(RelayMessage.referral_id, RelayMessage.direction)
                .where(RelayMessage.referral_id.in_(referral_ids))
                .order_by(RelayMessage.created_at, RelayMessage.id)):
            last[referral_id] = direction
        return {referral_id for referral_id, direction in last.items()
                if direction == "to_partner"}

    async def _events(self, referral_id: int) -> list[EventView]:
        """The status history, each change with who made it in words: a staff member by
        display name, never `staff:12` or `counsellor:900001`."""
        events = list(await self.session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.at, ReferralEvent.id)))
        staff_ids = {int(e.actor.split(":", 1)[1]) for e in events
                     if e.actor.startswith("staff:") and e.actor.split(":", 1)[1].isdigit()}
        names = {account.id: display_name(account) for account in await self.session.scalars(
            select(StaffAccount).where(StaffAccount.id.in_(staff_ids)))} if staff_ids else {}
        views = []
        for event in events:
            kind, _, ident = event.actor.partition(":")
            name = names.get(int(ident)) if kind == "staff" and ident.isdigit() else None
            views.append(EventView(event.status, kind, event.at, name))
        return views

    async def view(self, reference: str) -> ReferralView:
        referral, partner = await self._scoped(reference)
        personal = self.sees_personal and referral.purged_at is None
        events = await self._events(referral.id)
        messages: list[MessageView] = []
        name = phone = None
        if personal:
            name = self.vault.decrypt_optional(referral.name_enc)
            if referral.status not in FINISHED_STATUSES:  # hidden once cancelled or closed
                phone = self.vault.decrypt_optional(referral.phone_enc)
            relays = await self.session.scalars(
                select(RelayMessage).where(RelayMessage.referral_id == referral.id)
                .order_by(RelayMessage.created_at, RelayMessage.id))
            messages = [MessageView(m.direction, self.vault.decrypt(m.text_enc), m.created_at)
                        for m in relays]
        audit(self.session, self.account, "view_personal" if personal else "view_referral",
              referral_id=referral.id, now=self.clock())
        await self.session.commit()
        return ReferralView(
            item=_item(referral, partner, bool(messages)
                       and messages[-1].direction == "to_partner"),
            flags=list(referral.flags), personal=personal, name=name, phone=phone,
            events=events, messages=messages,
            can_act=self.account.role == "counsellor" and referral.purged_at is None,
            returned=ReturnView(referral.return_country, referral.return_date,
                                referral.reintegration_partner)
            if referral.return_country else None,
        )

    async def set_status(self, reference: str, status: str) -> ReferralPublic:
        partner_id = self._counsellor_partner()
        referral, _ = await self._scoped(reference)
        audit(self.session, self.account, "set_status", referral_id=referral.id, detail=status,
              now=self.clock())
        result = await self._referrals().set_status_for_partner(
            reference, partner_id, status, staff_actor(self.account), display_name(self.account))
        await self.session.commit()  # the audit record, also when nothing changed
        return result

    def max_return_date(self) -> date:
        """The latest return date accepted today (Europe/Brussels)."""
        return to_local(self.clock()).date() + timedelta(days=MAX_RETURN_DAYS_AHEAD)

    async def set_returned(self, reference: str, *, country: str, return_date: str,
                           reintegration_partner: str) -> ReferralPublic:
        """The "returned" action (counsellors only). Raises Invalid("invalid_country"),
        Invalid("invalid_return_date") or Invalid("invalid_reintegration_partner")."""
        partner_id = self._counsellor_partner()
        referral, _ = await self._scoped(reference)
        code = country.strip().upper()
        if code not in country_codes():
            raise Invalid("invalid_country")
        try:
            day = date.fromisoformat(return_date.strip())
        except ValueError:
            raise Invalid("invalid_return_date") from None
        if not self.max_return_date() - timedelta(days=MAX_RETURN_DAYS_BACK) <= day \
                <= self.max_return_date():  # 0001-01-01 was stored as -infinity
            raise Invalid("invalid_return_date")
        if reintegration_partner not in REINTEGRATION_PARTNERS:
            raise Invalid("invalid_reintegration_partner")
        audit(self.session, self.account, "set_returned", referral_id=referral.id,
              now=self.clock())  # no country or date here: the audit log holds no case data
        result = await self._referrals().set_returned_for_partner(
            reference, partner_id, country=code, return_date=day,
            reintegration_partner=reintegration_partner, actor=staff_actor(self.account),
            actor_name=display_name(self.account))
        await self.session.commit()
        return result

    async def send_message(self, reference: str, text: str) -> None:
        text = text.strip()
        if not text or len(text) > MAX_MESSAGE_LENGTH:
            raise Invalid("invalid_text")
        partner_id = self._counsellor_partner()
        referral, _ = await self._scoped(reference)
        audit(self.session, self.account, "relay_to_person", referral_id=referral.id,
              now=self.clock())
        await self._referrals().relay_to_person_for_partner(reference, partner_id, text)

    def _counsellor_partner(self) -> str:
        scope = self._partner_scope()
        if scope is None:
            raise Forbidden("counsellors_only")
        return scope

    def _referrals(self) -> ReferralService:
        return ReferralService(self.session, self.vault, self.settings, self.clock)

    async def _scoped(self, reference: str) -> tuple[Referral, Partner]:
        code = normalize_reference(reference)
        if code is None:
            raise NotFound()
        query = (select(Referral, Partner).join(Partner, Partner.id == Referral.partner_id)
                 .where(Referral.reference == code))
        scope = self._partner_scope()
        if scope is not None:
            query = query.where(Referral.partner_id == scope)
        row = (await self.session.execute(query)).first()
        if row is None:
            raise NotFound()
        referral, partner = row
        return referral, partner


def _item(referral: Referral, partner: Partner, waiting: bool = False) -> InboxItem:
    return InboxItem(
        reference=format_reference(referral.reference), partner_name=partner.name,
        status=referral.status, contact_mode=referral.contact_mode,
        slot_start=to_local(referral.slot_start) if referral.slot_start else None,
        language=referral.language, interpreter=referral.interpreter, topic=referral.topic,
        created_at=referral.created_at, waiting=waiting,
    )
