"""Partner administration and the audit log: what admins change and read.

Changing a partner's Telegram group (the admin API, the partner page, a seed file) releases
the referral cards held for want of a group, in the same transaction
(`referrals.held.release_partner_cards`), and the partner page counts the referrals waiting
for one: so partner administration sits above both the partners and the referrals domains, and
lives here rather than in `partners/` (which knows no referral). The audit log shows the
referral each record is about: it is read here too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.admin.forms import (
    AvailabilityForm,
    FormInvalid,
    PartnerFormData,
    WindowRow,
    location_error,
    parse_create,
    parse_update,
)
from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Invalid, NotFound
from referral_api.partners.models import Partner, PartnerAvailability, PartnerCounsellor
from referral_api.partners.schemas import PartnerUpdate, SeedResult
from referral_api.partners.service import PartnerService, ReleaseCards
from referral_api.referrals.alerts import count_waiting
from referral_api.referrals.held import release_partner_cards
from referral_api.referrals.models import Referral
from referral_api.referrals.reference import format_reference
from referral_api.settings import Settings
from referral_api.staff.models import AuditRecord, StaffAccount
from referral_api.staff.service import audit, require_admin

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 200


def held_cards_release(session: AsyncSession, settings: Settings, clock: Clock,
                       vault: DataVault | None = None) -> ReleaseCards:
    """What partner changes release held referral cards with, in `session`'s transaction
    (the vault is made from DATA_KEY when a card must be released and none was given)."""
    keys = [vault] if vault is not None else []

    async def release(partner: Partner, new_group: bool) -> int:
        if partner.notification_chat_id is None:
            return 0
        if not keys:
            keys.append(settings.vault())
        return await release_partner_cards(session, keys[0], partner, clock(),
                                           new_group=new_group)

    return release


async def seed_partners(session: AsyncSession, settings: Settings, clock: Clock,
                        records: Iterable[Mapping[str, Any]],
                        vault: DataVault | None = None) -> SeedResult:
    """Upsert partners from seed records (`PartnerService.seed`); a partner given a (new)
    Telegram group gets its held referral cards in the same transaction."""
    return await PartnerService(session, settings, clock).seed(
        records, release=held_cards_release(session, settings, clock, vault))


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
            released = await self._release()(partner, True)
            if released:
                audit(self.session, self.account, "resend_cards",
                      detail=f"{partner_id}:{released}"[:100], now=self.clock())
                await self.session.commit()
            return SavedPartner([], released)
        audit(self.session, self.account, "update_partner",
              detail=f"{partner_id}:{','.join(changed)}"[:100], now=self.clock())
        try:  # commits the audit record too
            _, released = await self._partners().update_releasing(
                partner_id, update, self._release(), resend_failed=True)
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
        return PartnerService(self.session, self.settings, self.clock)

    def _release(self) -> ReleaseCards:
        return held_cards_release(self.session, self.settings, self.clock, self.vault)


def _form_text(name: str, value: Any) -> Any:
    """A saved value as the form shows it (to tell what an admin changed)."""
    if name == "languages":
        return ", ".join(value)
    if value is None:
        return ""
    if isinstance(value, bool | list):
        return value
    return str(value)


def _tri_state(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def partner_form_values(partner: Partner) -> dict[str, Any]:
    """The edit form's values of a saved partner."""
    values: dict[str, Any] = {
        name: _form_text(name, getattr(partner, name))
        for name in ("name", "kind", "city", "postal_code", "address", "lat", "lon", "phone",
                     "hours", "languages", "notification_chat_id", "slot_minutes",
                     "capacity_per_slot", "source")
    }
    values.update(id=partner.id, services=list(partner.services), active=partner.active,
                  verified=partner.verified, access=partner.access or "",
                  opening_as_of=partner.opening_as_of or "",
                  interpreter=_tri_state(partner.interpreter),
                  accessible=_tri_state(partner.accessible),
                  notes="\n".join(f"{code}: {note}" for code, note in partner.notes.items()))
    for window in partner.opening:
        cell = f"open-{window['mode']}-{window['day']}"
        if window.get("part"):
            values[f"{cell}-part"] = window["part"]
        else:
            span = f"{window['start']}-{window['end']}"
            earlier = values.get(f"{cell}-times")
            values[f"{cell}-times"] = f"{earlier}, {span}" if earlier else span
    return values


def _telegram_id(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise Invalid("invalid_telegram_id")
    return int(text)
