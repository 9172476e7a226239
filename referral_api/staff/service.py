"""Staff use cases: accounts (argon2 passwords), the audit log, and referrals as staff see them.

Scoping lives here, not in templates: a counsellor's every query is filtered by their partner
(another partner's referral is 404); coordinators and admins see every partner's lists but never
decrypted personal fields. Every view of personal data and every change writes an audit record
in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import (
    DEFAULT_MEMORY_COST,
    DEFAULT_PARALLELISM,
    DEFAULT_TIME_COST,
    PasswordHasher,
)
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Forbidden, Invalid, NotFound
from referral_api.partners.models import Partner, PartnerAvailability, PartnerCounsellor
from referral_api.partners.schedule import to_local
from referral_api.partners.schemas import PartnerUpdate
from referral_api.partners.service import PartnerService
from referral_api.referrals.models import (
    REINTEGRATION_PARTNERS,
    Referral,
    ReferralEvent,
    RelayMessage,
)
from referral_api.referrals.reference import format_reference, normalize_reference
from referral_api.referrals.schemas import ReferralPublic
from referral_api.referrals.service import ReferralService
from referral_api.settings import Settings
from referral_api.staff.alerts import count_waiting
from referral_api.staff.countries import country_codes
from referral_api.staff.models import LOCALES, ROLES, AuditRecord, StaffAccount
from referral_api.staff.partner_forms import (
    AvailabilityForm,
    FormInvalid,
    PartnerFormData,
    WindowRow,
    location_error,
    parse_create,
    parse_update,
)

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_MESSAGE_LENGTH = 2000
MAX_RETURN_DAYS_AHEAD = 60  # a planned return may be recorded up to 60 days ahead
AUDIT_PAGE_SIZE = 200
TABS: dict[str, tuple[str, ...]] = {
    "new": ("new",),
    "accepted": ("accepted",),
    "contacted": ("contacted", "unreachable"),
    "closed": ("returned", "closed", "cancelled"),
}


@cache
def _argon2(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher with the cost in ARGON2_TIME_COST, ARGON2_MEMORY_COST and
    ARGON2_PARALLELISM (argon2-cffi's defaults unless set); one per cost, built when first
    asked for."""
    return _argon2(settings.argon2_time_cost, settings.argon2_memory_cost,
                   settings.argon2_parallelism)


def default_password_hasher() -> PasswordHasher:
    """The hasher of an AccountService given none: argon2-cffi's default cost."""
    return _argon2(DEFAULT_TIME_COST, DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of nobody's password at the hasher's cost: an unknown e-mail costs a login as
    much work as a known one."""
    return hasher.hash("not a password of anyone")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def staff_actor(account: StaffAccount) -> str:
    return f"staff:{account.id}"


class AccountService:
    def __init__(self, session: AsyncSession, clock: Clock,
                 hasher: PasswordHasher | None = None) -> None:
        self.session = session
        self.clock = clock
        self.hasher = hasher if hasher is not None else default_password_hasher()

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
        partner_id = await self._checked_assignment(role, partner_id, locale)
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

    async def _checked_assignment(self, role: str, partner_id: str | None,
                                  locale: str) -> str | None:
        """Validate a role, partner and language for an account; the partner id or None."""
        if role not in ROLES:
            raise Invalid("invalid_role")
        if locale not in LOCALES:
            raise Invalid("invalid_locale")
        partner_id = partner_id or None
        if role == "counsellor" and partner_id is None:
            raise Invalid("partner_required")
        if partner_id is not None and await self.session.get(Partner, partner_id) is None:
            raise Invalid("unknown_partner")
        return partner_id

    async def authenticate(self, email: str, password: str) -> StaffAccount | None:
        """The active account with this e-mail and password, else None (same work either way).
        A successful login is audited; commits."""
        dummy = _dummy_hash(self.hasher)  # made before the lookup: the first login pays it too
        account = await self.session.scalar(
            select(StaffAccount).where(StaffAccount.email == normalize_email(email)))
        try:
            self.hasher.verify(account.password_hash if account else dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or not account.active:
            return None
        if self.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = self.hasher.hash(password)
        audit(self.session, account, "login", now=self.clock())
        await self.session.commit()
        return account

    async def active(self, account_id: int, session_epoch: int | None = None,
                     ) -> StaffAccount | None:
        """The account of a session cookie: None when it is inactive or the cookie's epoch is
        not the account's current one (logged out, deactivated or given a new password)."""
        account = await self.session.get(StaffAccount, account_id)
        if account is None or not account.active or account.session_epoch != session_epoch:
            return None
        return account

    async def logout(self, account: StaffAccount) -> None:
        """End every session of the account (all its cookies stop working)."""
        account.session_epoch += 1
        audit(self.session, account, "logout", now=self.clock())
        await self.session.commit()

    async def get_for_admin(self, account_id: int, by: StaffAccount) -> StaffAccount:
        require_admin(by)
        account = await self.session.get(StaffAccount, account_id)
        if account is None:
            raise NotFound()
        return account

    async def set_active(self, account_id: int, active: bool, *,
                         by: StaffAccount) -> StaffAccount:
        """Deactivate (logged out everywhere at once) or reactivate an account; admins only,
        never their own account. Audited; commits."""
        account = await self.get_for_admin(account_id, by)
        if account.id == by.id and not active:
            raise Forbidden("cannot_deactivate_self")
        if account.active != active:
            account.active = active
            if not active:
                account.session_epoch += 1
            audit(self.session, by, "reactivate_account" if active else "deactivate_account",
                  detail=str(account.id), now=self.clock())
        await self.session.commit()
        logger.info("staff account %d %s", account.id, "reactivated" if active else "deactivated")
        return account

    async def reset_password(self, account_id: int, password: str, *,
                             by: StaffAccount) -> StaffAccount:
        """An admin sets a new password: the account's sessions end at once (the admin's own
        too, when it is theirs). Audited (never the password); commits."""
        account = await self.get_for_admin(account_id, by)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Invalid("weak_password")
        account.password_hash = self.hasher.hash(password)
        account.session_epoch += 1
        audit(self.session, by, "reset_password", detail=str(account.id), now=self.clock())
        await self.session.commit()
        logger.info("staff account %d: new password set by an admin", account.id)
        return account

    async def update(self, account_id: int, *, role: str, partner_id: str | None,
                     locale: str, by: StaffAccount) -> list[str]:
        """An admin changes an account's role, partner or language; the names of the fields
        changed (audited as such). Admins cannot change their own role. Rights follow at once:
        the account is reloaded on every request. Raises Invalid or Forbidden; commits."""
        account = await self.get_for_admin(account_id, by)
        partner_id = await self._checked_assignment(role, partner_id, locale)
        if account.id == by.id and role != account.role:
            raise Forbidden("cannot_change_own_role")
        wanted = {"role": role, "partner_id": partner_id, "locale": locale}
        changed = [name for name, value in wanted.items() if getattr(account, name) != value]
        for name in changed:
            setattr(account, name, wanted[name])
        if changed:
            audit(self.session, by, "update_account",
                  detail=f"{account.id}:{','.join(changed)}", now=self.clock())
        await self.session.commit()
        return changed

    async def change_own_password(self, account: StaffAccount, current: str,
                                  new: str) -> None:
        """Anyone changes their own password, proving the current one; every session of the
        account ends (log in again). Audited (never a password); commits."""
        try:
            self.hasher.verify(account.password_hash, current)
        except (VerificationError, InvalidHashError):
            raise Invalid("wrong_password") from None
        if len(new) < MIN_PASSWORD_LENGTH:
            raise Invalid("weak_password")
        account.password_hash = self.hasher.hash(new)
        account.session_epoch += 1
        audit(self.session, account, "change_password", now=self.clock())
        await self.session.commit()
        logger.info("staff account %d changed its password", account.id)

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
            reference, partner_id, status, staff_actor(self.account))
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
        if day > self.max_return_date():
            raise Invalid("invalid_return_date")
        if reintegration_partner not in REINTEGRATION_PARTNERS:
            raise Invalid("invalid_reintegration_partner")
        audit(self.session, self.account, "set_returned", referral_id=referral.id,
              now=self.clock())  # no country or date here: the audit log holds no case data
        result = await self._referrals().set_returned_for_partner(
            reference, partner_id, country=code, return_date=day,
            reintegration_partner=reintegration_partner, actor=staff_actor(self.account))
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


@dataclass(frozen=True, slots=True)
class PartnerPage:
    id: str
    name: str
    active: bool
    counsellor_ids: list[int]
    form: dict[str, Any]  # the edit form's values
    windows: list[WindowRow]  # the weekly opening windows (availability)
    waiting: int = 0  # new referrals whose card did not reach a Telegram group (alerts)


@dataclass(frozen=True, slots=True)
class SavedPartner:
    changed: list[str]  # the names of the fields changed
    released: int  # referral cards released to the partner's Telegram group


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    email: str
    action: str
    reference: str | None
    detail: str | None


class StaffAdmin:
    """Admin pages (admins only): partners (directory data, availability, capacity,
    notification chat, counsellor Telegram ids) and the audit log. Every change is audited:
    who, what (action, partner id, names of the fields changed), when; never the values."""

    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock,
                 account: StaffAccount, vault: DataVault | None = None) -> None:
        require_admin(account)
        self.session = session
        self.settings = settings
        self.clock = clock
        self.account = account
        self.vault = vault

    async def partners(self) -> list[Partner]:
        return list(await self.session.scalars(select(Partner).order_by(Partner.id)))

    async def partner(self, partner_id: str) -> PartnerPage:
        partner = await self.session.get(Partner, partner_id)
        if partner is None:
            raise NotFound()
        ids = await self.session.scalars(
            select(PartnerCounsellor.telegram_user_id)
            .where(PartnerCounsellor.partner_id == partner_id)
            .order_by(PartnerCounsellor.telegram_user_id))
        windows = await self.session.scalars(
            select(PartnerAvailability).where(PartnerAvailability.partner_id == partner_id)
            .order_by(PartnerAvailability.weekday, PartnerAvailability.start))
        return PartnerPage(partner.id, partner.name, partner.active, list(ids),
                           form=partner_form_values(partner),
                           windows=[WindowRow(str(w.weekday), w.start.strftime("%H:%M"),
                                              w.end.strftime("%H:%M")) for w in windows],
                           waiting=await count_waiting(self.session, partner.id))

    async def create_partner(self, data: PartnerFormData) -> str:
        """A new partner from the browser form (the admin API's validation); audited.
        Raises FormInvalid with an error code per field."""
        parsed = parse_create(data)
        audit(self.session, self.account, "create_partner", detail=parsed.id, now=self.clock())
        try:
            created = await self._partners().create(parsed)  # commits the audit record too
        except (Conflict, Invalid) as exc:  # nothing saved: drop the audit record
            await self.session.rollback()
            await self.session.refresh(self.account)  # the page shows who is logged in
            field = "id" if isinstance(exc, Conflict) else location_error(exc)
            code = "id_taken" if isinstance(exc, Conflict) else exc.code
            raise FormInvalid({field: code}, data.shown()) from None
        logger.info("partner %s created by staff account %d", created.id, self.account.id)
        return created.id

    async def update_partner(self, partner_id: str, data: PartnerFormData) -> SavedPartner:
        """Save the edit form (directory data, slot length, capacity, notification chat);
        the names of the fields changed, audited as such, and how many referral cards went
        to the partner's Telegram group: when it has one, the held cards and those that could
        not be delivered are released to it in the same transaction (so saving the page
        again, unchanged, sends the failed cards again: audited as `resend_cards`). Raises
        FormInvalid or NotFound."""
        partner = await self.session.get(Partner, partner_id)
        if partner is None:
            raise NotFound()
        parsed = parse_update(data)
        changes = parsed.model_dump(exclude_unset=True)
        if changes.get("lat") is None:  # empty coordinates: the centre of the postcode
            changes.pop("lat", None)
            changes.pop("lon", None)
            if changes["postal_code"] == partner.postal_code:
                place = geo.place_by_postcode(partner.postal_code)
                if place is not None:
                    changes["lat"], changes["lon"] = place.lat, place.lon
        update = PartnerUpdate.model_validate(changes)
        changed = sorted(name for name, value in changes.items()
                         if getattr(partner, name) != value)
        if not changed:  # saved again as it was: the cards that did not arrive are sent again
            released = await self._partners().release_held_cards(partner, new_group=True)
            if released:
                audit(self.session, self.account, "resend_cards",
                      detail=f"{partner_id}:{released}"[:100], now=self.clock())
                await self.session.commit()
            return SavedPartner([], released)
        audit(self.session, self.account, "update_partner",
              detail=f"{partner_id}:{','.join(changed)}"[:100], now=self.clock())
        try:  # commits the audit record too
            _, released = await self._partners().update_releasing(partner_id, update,
                                                                  resend_failed=True)
        except Invalid as exc:  # raised before the service commits: drop the audit record
            await self.session.rollback()
            await self.session.refresh(self.account)  # the page shows who is logged in
            raise FormInvalid({location_error(exc): exc.code}, data.shown()) from None
        if released:
            logger.info("partner %s: %d held referral card(s) released to its group",
                        partner_id, released)
        return SavedPartner(changed, released)

    async def set_availability(self, partner_id: str, form: AvailabilityForm) -> int:
        """Replace the weekly opening windows; their number. Raises FormInvalid (per row)."""
        await self.partner(partner_id)
        windows = form.parse()
        audit(self.session, self.account, "set_availability",
              detail=f"{partner_id}:{len(windows)}"[:100], now=self.clock())
        await self._partners().set_availability(partner_id, windows)  # commits both
        return len(windows)

    async def add_counsellor(self, partner_id: str, telegram_user_id: str) -> bool:
        """Register a counsellor Telegram id; False when it was registered already."""
        user_id = _telegram_id(telegram_user_id)
        await self.partner(partner_id)  # 404 for an unknown partner
        audit(self.session, self.account, "add_counsellor", detail=partner_id,
              now=self.clock())  # committed with the counsellor (no Telegram id logged)
        _, created = await self._partners().add_counsellor(partner_id, user_id)
        if not created:
            await self.session.commit()
        return created

    async def remove_counsellor(self, partner_id: str, telegram_user_id: str) -> None:
        user_id = _telegram_id(telegram_user_id)
        await self.partner(partner_id)
        audit(self.session, self.account, "remove_counsellor", detail=partner_id,
              now=self.clock())
        await self._partners().remove_counsellor(partner_id, user_id)  # 404 when absent

    async def audit_log(self, limit: int = AUDIT_PAGE_SIZE) -> list[AuditEntry]:
        """The newest `limit` audit records, newest first."""
        rows = await self.session.execute(
            select(AuditRecord, StaffAccount.email, Referral.reference)
            .join(StaffAccount, StaffAccount.id == AuditRecord.account_id)
            .outerjoin(Referral, Referral.id == AuditRecord.referral_id)
            .order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit))
        return [AuditEntry(record.at, email, record.action,
                           format_reference(code) if code else None, record.detail)
                for record, email, code in rows]

    def _partners(self) -> PartnerService:
        return PartnerService(self.session, self.settings, self.clock, self.vault)


def _form_text(name: str, value: Any) -> Any:
    """A saved value as the form shows it (to tell what an admin changed)."""
    if name == "languages":
        return ", ".join(value)
    if value is None:
        return ""
    if isinstance(value, bool | list):
        return value
    return str(value)


def partner_form_values(partner: Partner) -> dict[str, Any]:
    """The edit form's values of a saved partner."""
    values: dict[str, Any] = {
        name: _form_text(name, getattr(partner, name))
        for name in ("name", "kind", "city", "postal_code", "address", "lat", "lon", "phone",
                     "hours", "languages", "notification_chat_id", "slot_minutes",
                     "capacity_per_slot", "source")
    }
    values.update(id=partner.id, services=list(partner.services), active=partner.active,
                  verified=partner.verified)
    return values


def _telegram_id(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise Invalid("invalid_telegram_id")
    return int(text)


def _item(referral: Referral, partner: Partner) -> InboxItem:
    return InboxItem(
        reference=format_reference(referral.reference), partner_name=partner.name,
        status=referral.status, contact_mode=referral.contact_mode,
        slot_start=to_local(referral.slot_start) if referral.slot_start else None,
        language=referral.language, interpreter=referral.interpreter, topic=referral.topic,
        created_at=referral.created_at,
    )
