"""Staff use cases: accounts (argon2 passwords), the audit log, and referrals as staff see them.

Scoping lives here, not in templates: a counsellor's every query is filtered by their partner
(another partner's referral is 404); coordinators and admins see every partner's lists but never
decrypted personal fields. Every view of personal data and every change writes an audit record
in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Forbidden, Invalid, NotFound
from referral_api.partners.models import Partner
from referral_api.partners.schedule import to_local
from referral_api.referrals.models import Referral, ReferralEvent, RelayMessage
from referral_api.referrals.reference import format_reference, normalize_reference
from referral_api.referrals.schemas import ReferralPublic
from referral_api.referrals.service import ReferralService
from referral_api.settings import Settings
from referral_api.staff.models import LOCALES, ROLES, AuditRecord, StaffAccount

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_MESSAGE_LENGTH = 2000
TABS: dict[str, tuple[str, ...]] = {
    "new": ("new",),
    "accepted": ("accepted",),
    "contacted": ("contacted", "unreachable"),
    "closed": ("closed", "cancelled"),
}

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")  # equal work for unknown e-mails


def normalize_email(email: str) -> str:
    return email.strip().lower()


def staff_actor(account: StaffAccount) -> str:
    return f"staff:{account.id}"


class AccountService:
    def __init__(self, session: AsyncSession, clock: Clock,
                 hasher: PasswordHasher = _hasher) -> None:
        self.session = session
        self.clock = clock
        self.hasher = hasher

    async def create(self, *, email: str, password: str, role: str,
                     partner_id: str | None = None, locale: str = "nl",
                     by: StaffAccount | None = None) -> StaffAccount:
        """A new active account; commits. Raises Invalid or Conflict("email_taken")."""
        email = normalize_email(email)
        local, _, domain = email.partition("@")
        if not local or "." not in domain or len(email) > 254 or " " in email:
            raise Invalid("invalid_email")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Invalid("weak_password")
        if role not in ROLES:
            raise Invalid("invalid_role")
        if locale not in LOCALES:
            raise Invalid("invalid_locale")
        partner_id = partner_id or None
        if role == "counsellor" and partner_id is None:
            raise Invalid("partner_required")
        if partner_id is not None and await self.session.get(Partner, partner_id) is None:
            raise Invalid("unknown_partner")
        if await self.session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)):
            raise Conflict("email_taken")
        account = StaffAccount(email=email, password_hash=self.hasher.hash(password), role=role,
                               partner_id=partner_id, locale=locale, active=True,
                               created_at=self.clock())
        self.session.add(account)
        await self.session.flush()
        if by is not None:
            audit(self.session, by, "create_account", detail=f"{account.id}:{role}",
                  now=self.clock())
        await self.session.commit()
        logger.info("staff account %d created (%s)", account.id, role)
        return account

    async def authenticate(self, email: str, password: str) -> StaffAccount | None:
        """The active account with this e-mail and password, else None (same work either way).
        A successful login is audited; commits."""
        account = await self.session.scalar(
            select(StaffAccount).where(StaffAccount.email == normalize_email(email)))
        try:
            self.hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or not account.active:
            return None
        if self.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = self.hasher.hash(password)
        audit(self.session, account, "login", now=self.clock())
        await self.session.commit()
        return account

    async def active(self, account_id: int) -> StaffAccount | None:
        account = await self.session.get(StaffAccount, account_id)
        return account if account is not None and account.active else None

    async def logout(self, account: StaffAccount) -> None:
        audit(self.session, account, "logout", now=self.clock())
        await self.session.commit()

    async def all_accounts(self, by: StaffAccount) -> list[StaffAccount]:
        require_admin(by)
        return list(await self.session.scalars(
            select(StaffAccount).order_by(StaffAccount.email)))

    async def partner_ids(self) -> list[str]:
        return list(await self.session.scalars(select(Partner.id).order_by(Partner.id)))


def require_admin(account: StaffAccount) -> None:
    if account.role != "admin":
        raise NotFound()  # admin pages do not exist for anyone else


def audit(session: AsyncSession, account: StaffAccount, action: str, *, now: datetime,
          referral_id: int | None = None, detail: str | None = None) -> None:
    """Add an audit record to the caller's transaction (the caller commits)."""
    session.add(AuditRecord(account_id=account.id, action=action, referral_id=referral_id,
                            detail=detail, at=now))


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


@dataclass(frozen=True, slots=True)
class EventView:
    status: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MessageView:
    direction: str
    text: str
    created_at: datetime


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
        rows = await self.session.execute(query)
        return [_item(referral, partner) for referral, partner in rows]

    async def view(self, reference: str) -> ReferralView:
        referral, partner = await self._scoped(reference)
        personal = self.sees_personal and referral.purged_at is None
        events = await self.session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.at, ReferralEvent.id))
        messages: list[MessageView] = []
        name = phone = None
        if personal:
            name = self.vault.decrypt_optional(referral.name_enc)
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
            item=_item(referral, partner), flags=list(referral.flags), personal=personal,
            name=name, phone=phone,
            events=[EventView(e.status, e.actor, e.at) for e in events], messages=messages,
            can_act=self.account.role == "counsellor" and referral.purged_at is None,
        )

    async def set_status(self, reference: str, status: str) -> ReferralPublic:
        partner_id = self._counsellor_partner()
        referral, _ = await self._scoped(reference)
        audit(self.session, self.account, "set_status", referral_id=referral.id, detail=status,
              now=self.clock())
        result = await self._referrals().set_status_for_partner(
            reference, partner_id, status, staff_actor(self.account))
        await self.session.commit()  # the audit record, also when nothing changed
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


def _item(referral: Referral, partner: Partner) -> InboxItem:
    return InboxItem(
        reference=format_reference(referral.reference), partner_name=partner.name,
        status=referral.status, contact_mode=referral.contact_mode,
        slot_start=to_local(referral.slot_start) if referral.slot_start else None,
        language=referral.language, interpreter=referral.interpreter, topic=referral.topic,
        created_at=referral.created_at,
    )
