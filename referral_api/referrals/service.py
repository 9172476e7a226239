"""Referral use cases: book, list, cancel, reschedule, counsellor status, relay, forget, purge.

Every change and the outbox rows announcing it are committed in one transaction. Slot seats are
claimed with one SAVEPOINT per attempt: the UNIQUE (partner_id, slot_start, seat) constraint
decides between racers, the loser tries the next seat, and with none left the booking fails
with `slot_taken` and the free slots that remain.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TypeGuard

import phonenumbers
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import is_web
from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from referral_api.followup.service import FollowupService
from referral_api.outbox.messages import (
    NoticeStatus,
    RelayNotice,
    ReminderNotice,
    StaffMessage,
    StatusNotice,
)
from referral_api.outbox.models import CARD_KINDS, OutboxMessage
from referral_api.outbox.service import ChatKind, chat_kind_of, enqueue
from referral_api.partners.models import Partner, PartnerCounsellor, SlotClaim
from referral_api.partners.schedule import free_slots, is_scheduled, load_windows, to_local
from referral_api.referrals import cards
from referral_api.referrals.models import (
    COUNSELLOR_STATUSES,
    FINISHED_STATUSES,
    Referral,
    ReferralEvent,
    RelayMessage,
)
from referral_api.referrals.reference import format_reference, new_reference, normalize_reference
from referral_api.referrals.schemas import CounsellorStatus, ReferralCreate, ReferralPublic
from referral_api.settings import Settings
from referral_api.signals.service import record_event_quietly

logger = logging.getLogger(__name__)

REFERENCE_ATTEMPTS = 10
SIGNALLED_STATUSES = ("accepted", "contacted", "closed")  # referral_<status> signal events


def parse_phone(text: str) -> str:
    """A phone number as E.164. Belgian numbers may be written nationally (0470 12 34 56);
    foreign ones need their +country code. Raises Invalid("invalid_phone")."""
    try:
        number = phonenumbers.parse(text, "BE")
    except phonenumbers.NumberParseException:
        raise Invalid("invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid("invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_hint(e164: str | None) -> str | None:
    """The number as the person gave it, all but its country code and last two digits masked:
    enough to recognise it, not to read it over a shoulder."""
    if not e164:
        return None
    number = phonenumbers.parse(e164)
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    code = f"+{number.country_code}"
    rest = shown[len(code):]
    digits = [i for i, ch in enumerate(rest) if ch.isdigit()]
    masked = "".join("•" if i in digits[:-2] else ch for i, ch in enumerate(rest))
    return code + masked


def counsellor_actor(telegram_user_id: int) -> str:
    return f"counsellor:{telegram_user_id}"


def _is_counsellor_status(status: str) -> TypeGuard[CounsellorStatus]:
    return status in COUNSELLOR_STATUSES


class ReferralService:
    def __init__(self, session: AsyncSession, vault: DataVault, settings: Settings,
                 clock: Clock) -> None:
        self.session = session
        self.vault = vault
        self.settings = settings
        self.clock = clock

    # --- the person -----------------------------------------------------------------------

    async def create(self, data: ReferralCreate) -> ReferralPublic:
        partner = await self._active_partner(data.partner_id)
        now = self.clock()
        phone = parse_phone(data.phone) if data.phone else None
        if data.contact_mode == "phone" and phone is None:
            raise Invalid("invalid_phone")
        if data.contact_mode == "visit":
            if data.slot_start is None:
                raise Invalid("invalid_slot")
            slot: datetime | None = await self._offered_slot(partner, data.slot_start, now)
        elif data.slot_start is not None:
            raise Invalid("invalid_slot")  # only visits have a slot
        else:
            slot = None
        name = data.name or None
        await self._fair_use(partner.id, data.chat_id, now)

        referral = Referral(
            partner_id=partner.id, status="new", contact_mode=data.contact_mode,
            slot_start=slot, language=data.language, interpreter=data.interpreter,
            topic=data.topic, flags=list(data.flags),
            name_enc=self.vault.encrypt_optional(name),
            chat_id_enc=self.vault.encrypt_chat_id(data.chat_id),
            chat_key=self.vault.chat_key(data.chat_id),
            phone_enc=self.vault.encrypt_optional(phone),
            consent_version=data.consent_version, consent_at=now,
            followup_consent=data.followup_consent,
            followup_consent_at=now if data.followup_consent else None,
            created_at=now, updated_at=now,
            signal_key_enc=(self.vault.encrypt(f"{data.signal.month}:{data.signal.pseudonym}")
                            if data.signal is not None else None),
        )
        await self._insert_with_new_reference(referral)
        if slot is not None and not await self._claim_seat(partner, slot, referral.id):
            raise await self._slot_taken(partner.id)

        self.session.add(ReferralEvent(referral_id=referral.id, status="new", actor="person",
                                       at=now))
        self._queue_card(partner, referral, now, update=False, name=name, phone=phone)
        if partner.notification_chat_id is None:
            enqueue(self.session, self.vault, kind="coordinator_alert",
                    message=cards.coordinator_alert(code=referral.reference,
                                                    partner_id=partner.id,
                                                    partner_name=partner.name),
                    chat_id=self.settings.coordinator_chat_id, referral_id=referral.id,
                    now=now)
        if slot is not None:
            self._queue_reminder(partner, referral, data.chat_id, now)
        await self._signal(referral, "booking_completed", value=referral.contact_mode,
                           province=partner.province)
        await self.session.commit()
        logger.info("referral #%d created for partner %s (%s)", referral.id, partner.id,
                    referral.contact_mode)
        return self._public(referral, partner)

    async def mine(self, chat_id: int) -> list[ReferralPublic]:
        rows = await self.session.execute(
            select(Referral, Partner)
            .join(Partner, Partner.id == Referral.partner_id)
            .where(Referral.chat_key == self.vault.chat_key(chat_id),
                   Referral.status.not_in(FINISHED_STATUSES))
            .order_by(Referral.created_at, Referral.id)
        )
        return [self._public(referral, partner, phone_hint(
                    self.vault.decrypt_optional(referral.phone_enc)))
                for referral, partner in rows]

    async def change_phone(self, reference: str, chat_id: int, phone: str) -> ReferralPublic:
        """Another number for a phone contact; the partner's card shows the new one."""
        referral, partner = await self._persons_referral(reference, chat_id)
        if referral.contact_mode != "phone":
            raise Conflict("not_a_phone_contact")
        if referral.status in FINISHED_STATUSES:
            raise Conflict("referral_closed")
        e164 = parse_phone(phone)
        now = self.clock()
        referral.phone_enc = self.vault.encrypt(e164)
        referral.updated_at = now
        self._queue_card(partner, referral, now, update=True)
        await self.session.commit()
        return self._public(referral, partner, phone_hint(e164))

    async def cancel(self, reference: str, chat_id: int) -> ReferralPublic:
        referral, partner = await self._persons_referral(reference, chat_id)
        if referral.status == "cancelled":
            return self._public(referral, partner)
        if referral.status == "closed":
            raise Conflict("referral_closed")
        now = self.clock()
        referral.status = "cancelled"
        referral.signal_key_enc = None  # no later stage to count: unlink from the signals
        referral.updated_at = now
        await self.session.execute(delete(SlotClaim).where(SlotClaim.referral_id == referral.id))
        await self._drop_pending_reminders(referral.id)
        self.session.add(ReferralEvent(referral_id=referral.id, status="cancelled",
                                       actor="person", at=now))
        self._queue_card(partner, referral, now, update=True, actor="person")
        await self.session.commit()
        logger.info("referral #%d cancelled by the person", referral.id)
        return self._public(referral, partner)

    async def reschedule(self, reference: str, chat_id: int,
                         slot_start: datetime) -> ReferralPublic:
        referral, partner = await self._persons_referral(reference, chat_id)
        if referral.status in FINISHED_STATUSES:
            raise Conflict(f"referral_{referral.status}")
        if referral.contact_mode != "visit":
            raise Invalid("invalid_slot")
        now = self.clock()
        slot = await self._offered_slot(partner, slot_start, now)
        if slot == referral.slot_start:
            return self._public(referral, partner)
        await self.session.execute(delete(SlotClaim).where(SlotClaim.referral_id == referral.id))
        if not await self._claim_seat(partner, slot, referral.id):
            raise await self._slot_taken(partner.id)
        referral.slot_start = slot
        referral.updated_at = now
        await self._drop_pending_reminders(referral.id)
        self._queue_reminder(partner, referral, chat_id, now)
        self._queue_card(partner, referral, now, update=True)
        await self.session.commit()
        logger.info("referral #%d rescheduled", referral.id)
        return self._public(referral, partner)

    async def relay_to_partner(self, chat_id: int, reference: str, text: str) -> None:
        referral, partner = await self._persons_referral(reference, chat_id)
        if referral.status in FINISHED_STATUSES:
            raise Conflict(f"referral_{referral.status}")
        now = self.clock()
        await self._message_rate(referral, now)
        self.session.add(RelayMessage(referral_id=referral.id, direction="to_partner",
                                      text_enc=self.vault.encrypt(text), created_at=now))
        enqueue(self.session, self.vault, kind="relay",
                message=cards.relay_to_partner(referral.reference, text, cards.card_locale(
                    list(partner.languages), partner.province)),
                chat_id=partner.notification_chat_id, chat_kind=self._partner_chat_kind(partner),
                referral_id=referral.id, now=now)
        await self.session.commit()

    async def forget(self, chat_id: int) -> tuple[int, int]:
        """Delete every referral of the person and all that hangs on them (events, relay
        messages, claims, outbox rows: ON DELETE CASCADE), and their follow-up enrolments with
        their waves and answers. Partners holding an open referral are told it was withdrawn
        (a notice without personal data). Returns (referrals, follow-up enrolments) deleted."""
        chat_key = self.vault.chat_key(chat_id)
        followups = await FollowupService(self.session, self.vault, self.settings,
                                          self.clock).forget(chat_id)
        rows = (await self.session.execute(
            select(Referral.id, Referral.reference, Referral.status,
                   Partner.notification_chat_id, Partner.languages, Partner.province,
                   Partner.name)
            .join(Partner, Partner.id == Referral.partner_id)
            .where(Referral.chat_key == chat_key)
        )).all()
        if not rows:
            await self.session.commit()
            return 0, followups
        now = self.clock()
        in_groups = await card_messages(self.session, [row[0] for row in rows])
        for referral_id, code, status, partner_chat_id, languages, province, name in rows:
            if partner_chat_id is None:
                continue
            card = in_groups.get(referral_id)
            edit = (card[0] if card is not None
                    and card[1] == self.vault.chat_key(partner_chat_id) else None)
            # The card in the group becomes "withdrawn", without the phone number; an open
            # referral whose card cannot be found is told so in a message of its own.
            if edit is not None or status not in FINISHED_STATUSES:
                enqueue(self.session, self.vault, kind="card_update",
                        message=cards.withdrawn_notice(
                            code, cards.card_locale(list(languages or []), province),
                            partner_name=name, edit_message_id=edit),
                        chat_id=partner_chat_id, chat_kind=chat_kind_of(partner_chat_id),
                        now=now)
        found = rows
        await self.session.execute(delete(Referral).where(Referral.chat_key == chat_key))
        await self.session.commit()
        logger.info("forget: %d referral(s) deleted", len(found))
        return len(found), followups

    # --- counsellors ----------------------------------------------------------------------

    async def set_status(self, reference: str, counsellor_telegram_id: int,
                         status: CounsellorStatus) -> ReferralPublic:
        referral, partner = await self._counsellors_referral(reference, counsellor_telegram_id)
        result = await self._change_status(referral, partner, status,
                                           counsellor_actor(counsellor_telegram_id))
        locale = cards.card_locale(list(partner.languages), partner.province)
        return result.model_copy(update={"confirmation": cards.status_confirmation(
            referral.reference, result.status, locale)})

    async def set_status_for_partner(self, reference: str, partner_id: str, status: str,
                                     actor: str, actor_name: str | None = None,
                                     ) -> ReferralPublic:
        """A status change by staff of `partner_id` (the web app; actor `staff:<id>`).
        Another partner's referral is 404."""
        if not _is_counsellor_status(status):
            raise Invalid("invalid_status")
        referral, partner = await self._partners_referral(reference, partner_id)
        return await self._change_status(referral, partner, status, actor, actor_name)

    async def set_returned_for_partner(self, reference: str, partner_id: str, *,
                                       country: str, return_date: date,
                                       reintegration_partner: str,
                                       actor: str,
                                       actor_name: str | None = None) -> ReferralPublic:
        """The person returned to `country` on `return_date` with `reintegration_partner`
        (staff of `partner_id`; the caller validated the values). Status `returned`, with
        the usual event, card update and person notice; correcting the data of a referral
        already returned changes the data only. Another partner's referral is 404."""
        referral, partner = await self._partners_referral(reference, partner_id)
        if referral.status == "cancelled":
            raise Conflict("referral_cancelled")
        referral.return_country = country
        referral.return_date = return_date
        referral.reintegration_partner = reintegration_partner
        if referral.followup_consent and referral.chat_id_enc is not None:
            # Only with the person's separate yes to the follow-up questions (issue 8).
            await FollowupService(self.session, self.vault, self.settings, self.clock).enrol(
                chat_id=self.vault.decrypt_chat_id(referral.chat_id_enc),
                language=referral.language, country=country,
                partner=reintegration_partner, return_date=return_date)
        result = await self._change_status(referral, partner, "returned", actor, actor_name)
        await self.session.commit()  # a correction when the status was already `returned`
        return result

    async def _change_status(self, referral: Referral, partner: Partner, status: NoticeStatus,
                             actor: str, actor_name: str | None = None) -> ReferralPublic:
        if referral.status == status:
            return self._public(referral, partner)  # idempotent: no event, no notice
        if referral.status == "cancelled":
            raise Conflict("referral_cancelled")
        now = self.clock()
        referral.status = status
        referral.updated_at = now
        self.session.add(ReferralEvent(referral_id=referral.id, status=status, actor=actor,
                                       at=now))
        self._queue_card(partner, referral, now, update=True, actor=actor,
                         actor_name=actor_name)
        if referral.chat_id_enc is not None:  # the person hears of every change, in their
            enqueue(self.session, self.vault, kind="person_notice",  # language (bot.notices)
                    message=StatusNotice(key=status,
                                         reference=format_reference(referral.reference),
                                         partner_name=partner.name, locale=referral.language),
                    chat_id=self.vault.decrypt_chat_id(referral.chat_id_enc),
                    referral_id=referral.id, now=now)
        if status in ("closed", "returned"):
            await self._drop_pending_reminders(referral.id)
        if status in SIGNALLED_STATUSES:
            await self._signal(referral, f"referral_{status}", province=partner.province)
        if status in ("closed", "returned"):  # the journey has no later stage: drop the link
            referral.signal_key_enc = None  # between the referral and the anonymous signals
        await self.session.commit()
        logger.info("referral #%d set to %s by %s", referral.id, status,
                    actor.split(":")[0])
        return self._public(referral, partner)

    async def _signal(self, referral: Referral, event: str, *, value: str | None = None,
                      province: str | None = None) -> None:
        """An anonymous signal in the journey the bot named at booking (none when it did not
        send one, or once purged). Never fails the referral change."""
        if referral.signal_key_enc is None:
            return
        month, _, pseudonym = self.vault.decrypt(referral.signal_key_enc).partition(":")
        await record_event_quietly(self.session, month=int(month), pseudonym=pseudonym,
                                   event=event, now=self.clock(), value=value,
                                   language=referral.language, province=province)

    async def relay_to_person(self, counsellor_telegram_id: int, reference: str,
                              text: str) -> None:
        referral, partner = await self._counsellors_referral(reference, counsellor_telegram_id)
        await self._relay_to_person(referral, partner, text)

    async def relay_to_person_for_partner(self, reference: str, partner_id: str,
                                          text: str) -> None:
        """A message from staff of `partner_id` to the person (the web app)."""
        referral, partner = await self._partners_referral(reference, partner_id)
        await self._relay_to_person(referral, partner, text)

    async def _relay_to_person(self, referral: Referral, partner: Partner, text: str) -> None:
        if referral.chat_id_enc is None:
            raise Conflict("referral_purged")
        if referral.status in FINISHED_STATUSES:  # the person left, or the case is closed
            raise Conflict(f"referral_{referral.status}")
        now = self.clock()
        await self._message_rate(referral, now)
        self.session.add(RelayMessage(referral_id=referral.id, direction="to_person",
                                      text_enc=self.vault.encrypt(text), created_at=now))
        enqueue(self.session, self.vault, kind="relay",
                message=RelayNotice(reference=format_reference(referral.reference),
                                    partner_name=partner.name, text=text,
                                    locale=referral.language),
                chat_id=self.vault.decrypt_chat_id(referral.chat_id_enc),
                referral_id=referral.id, now=now)
        await self.session.commit()

    # --- helpers --------------------------------------------------------------------------

    async def _active_partner(self, partner_id: str) -> Partner:
        partner = await self.session.get(Partner, partner_id)
        if partner is None or not partner.active:
            raise NotFound()
        return partner

    async def _referral_where(self, reference: str,
                              *conditions: ColumnElement[bool]) -> tuple[Referral, Partner]:
        """The referral with this reference (and its partner) that meets `conditions`;
        404 when there is none."""
        code = normalize_reference(reference)
        if code is None:
            raise NotFound()
        row = (await self.session.execute(
            select(Referral, Partner)
            .join(Partner, Partner.id == Referral.partner_id)
            .where(Referral.reference == code, *conditions)
        )).first()
        if row is None:
            raise NotFound()
        referral, partner = row
        return referral, partner

    async def _persons_referral(self, reference: str,
                                chat_id: int) -> tuple[Referral, Partner]:
        """The person's referral by reference; 404 for any other person's."""
        return await self._referral_where(reference,
                                          Referral.chat_key == self.vault.chat_key(chat_id))

    async def _partners_referral(self, reference: str,
                                 partner_id: str) -> tuple[Referral, Partner]:
        """A referral of `partner_id` by reference; 404 for any other partner's."""
        referral, partner = await self._referral_where(reference,
                                                       Referral.partner_id == partner_id)
        if referral.purged_at is not None:
            raise Conflict("referral_purged")
        return referral, partner

    async def _counsellors_referral(self, reference: str,
                                    telegram_user_id: int) -> tuple[Referral, Partner]:
        """A referral by reference; 403 unless the user counsels for its partner, and the
        same 403 when there is no such referral (a guess learns nothing)."""
        try:
            referral, partner = await self._referral_where(reference)
        except NotFound:
            raise Forbidden("not_a_counsellor") from None
        registered = await self.session.scalar(
            select(PartnerCounsellor.id).where(
                PartnerCounsellor.partner_id == partner.id,
                PartnerCounsellor.telegram_user_id == telegram_user_id)
        )
        if registered is None:
            raise Forbidden("not_a_counsellor")
        if referral.purged_at is not None:
            raise Conflict("referral_purged")
        return referral, partner

    async def _offered_slot(self, partner: Partner, slot_start: datetime,
                            now: datetime) -> datetime:
        """The slot in UTC if the partner offers it (its hours, lead time, horizon), else
        422 invalid_slot. Whether a seat is left is decided by the claim."""
        slot = slot_start.astimezone(UTC)
        earliest = now + timedelta(hours=self.settings.slot_lead_hours)
        latest = now + timedelta(days=self.settings.booking_horizon_days)
        if not earliest <= slot <= latest:
            raise Invalid("invalid_slot")
        windows = await load_windows(self.session, partner.id)
        if not is_scheduled(windows, partner.slot_minutes, slot):
            raise Invalid("invalid_slot")
        return slot

    async def _message_rate(self, referral: Referral, now: datetime) -> None:
        """At most RELAY_PER_HOUR messages a referral an hour, both ways together (429
        `too_many_messages`): nobody can flood a person, or a partner's group."""
        sent = await self.session.scalar(
            select(func.count()).select_from(RelayMessage).where(
                RelayMessage.referral_id == referral.id,
                RelayMessage.created_at > now - timedelta(hours=1)))
        if (sent or 0) >= self.settings.relay_per_hour:
            raise TooMany("too_many_messages")

    async def _fair_use(self, partner_id: str, chat_id: int, now: datetime) -> None:
        """At most one open referral per person per partner (409 `already_booked`, with its
        reference: the bot shows it), and at most BOOKINGS_PER_DAY bookings a person a day
        (429 `too_many_bookings`): one person cannot take a desk's day of slots."""
        chat_key = self.vault.chat_key(chat_id)
        existing = await self.session.scalar(
            select(Referral.reference).where(Referral.chat_key == chat_key,
                                             Referral.partner_id == partner_id,
                                             Referral.status.not_in(FINISHED_STATUSES)))
        if existing is not None:
            raise Conflict("already_booked", reference=format_reference(existing))
        recent = await self.session.scalar(
            select(func.count()).select_from(Referral).where(
                Referral.chat_key == chat_key,
                Referral.created_at > now - timedelta(days=1)))
        if (recent or 0) >= self.settings.bookings_per_day:
            raise TooMany("too_many_bookings")

    async def _insert_with_new_reference(self, referral: Referral) -> None:
        for _ in range(REFERENCE_ATTEMPTS):
            referral.reference = new_reference()
            try:
                async with self.session.begin_nested():
                    self.session.add(referral)
                    await self.session.flush()
            except IntegrityError as exc:
                if "uq_referrals_open_per_partner" in str(exc.orig):
                    raise Conflict("already_booked") from None  # booked at the same instant
                continue  # that reference exists: draw another
            return
        raise RuntimeError("could not draw an unused reference code")

    async def _claim_seat(self, partner: Partner, slot: datetime, referral_id: int) -> bool:
        """Claim a free seat of the slot, one SAVEPOINT per attempt."""
        taken = set(await self.session.scalars(
            select(SlotClaim.seat).where(SlotClaim.partner_id == partner.id,
                                         SlotClaim.slot_start == slot)
        ))
        for seat in range(partner.capacity_per_slot):
            if seat in taken:
                continue
            try:
                async with self.session.begin_nested():
                    self.session.add(SlotClaim(partner_id=partner.id, slot_start=slot, seat=seat,
                                               referral_id=referral_id))
                    await self.session.flush()
            except IntegrityError:
                continue  # a racer claimed this seat first
            return True
        return False

    async def _slot_taken(self, partner_id: str) -> Conflict:
        """Roll the booking back and describe the slots still free."""
        await self.session.rollback()
        partner = await self.session.get(Partner, partner_id, populate_existing=True)
        if partner is None:
            raise NotFound()
        now = self.clock()
        slots = await free_slots(
            self.session, partner,
            first=now + timedelta(hours=self.settings.slot_lead_hours),
            last=now + timedelta(days=self.settings.booking_horizon_days),
            limit=self.settings.slot_list_limit,
        )
        return Conflict("slot_taken", next_slots=[to_local(s).isoformat() for s in slots])

    @staticmethod
    def _partner_chat_kind(partner: Partner) -> ChatKind:
        chat_id = partner.notification_chat_id
        return "group" if chat_id is None else chat_kind_of(chat_id)

    def _queue_card(self, partner: Partner, referral: Referral, now: datetime, *, update: bool,
                    name: str | None = None, phone: str | None = None,
                    actor: str | None = None, actor_name: str | None = None) -> None:
        """The referral's card: sent once, then every update edits it in the group."""
        if update:
            name = self.vault.decrypt_optional(referral.name_enc)
            phone = self.vault.decrypt_optional(referral.phone_enc)
        locale = cards.card_locale(list(partner.languages), partner.province)
        changed_by = None if actor is None else cards.actor_label(actor, actor_name, locale)
        card = cards.partner_card(
            code=referral.reference, status=referral.status, contact_mode=referral.contact_mode,
            slot_start=referral.slot_start, language=referral.language,
            interpreter=referral.interpreter, topic=referral.topic, flags=list(referral.flags),
            name=name, phone=phone, update=update, locale=locale, partner_name=partner.name,
            changed_by=changed_by, changed_at=now if changed_by else None,
            web=referral.chat_id_enc is not None and is_web(
                int(self.vault.decrypt(referral.chat_id_enc))),
        )
        enqueue(self.session, self.vault, kind="card_update" if update else "partner_card",
                message=card, chat_id=partner.notification_chat_id,
                chat_kind=self._partner_chat_kind(partner), referral_id=referral.id, now=now)

    def _queue_reminder(self, partner: Partner, referral: Referral, chat_id: int,
                        now: datetime) -> None:
        """A reminder `reminder_hours` before the visit; none when that moment has passed."""
        if referral.slot_start is None:
            return
        due = referral.slot_start - timedelta(hours=self.settings.reminder_hours)
        if due <= now:
            return
        reminder = ReminderNotice(reference=format_reference(referral.reference),
                                  partner_name=partner.name,
                                  slot_start=to_local(referral.slot_start),
                                  address=partner.address, locale=referral.language,
                                  lat=partner.lat, lon=partner.lon)
        enqueue(self.session, self.vault, kind="reminder", message=reminder, chat_id=chat_id,
                referral_id=referral.id, not_before=due, now=now)

    async def _drop_pending_reminders(self, referral_id: int) -> None:
        await self.session.execute(
            delete(OutboxMessage).where(OutboxMessage.referral_id == referral_id,
                                        OutboxMessage.kind == "reminder",
                                        OutboxMessage.status == "pending")
        )

    @staticmethod
    def _public(referral: Referral, partner: Partner,
                hint: str | None = None) -> ReferralPublic:
        return ReferralPublic(
            phone_hint=hint,
            reference=format_reference(referral.reference),
            partner_id=partner.id,
            partner_name=partner.name,
            status=referral.status,
            contact_mode=referral.contact_mode,
            slot_start=to_local(referral.slot_start) if referral.slot_start else None,
            language=referral.language,
            interpreter=referral.interpreter,
            topic=referral.topic,
            created_at=referral.created_at,
        )


async def card_messages(session: AsyncSession,
                        referral_ids: list[int]) -> dict[int, tuple[int, str]]:
    """The Telegram message that is each referral's card, with its chat's key: the last card
    or card update sent (the outbox worker records the message id)."""
    if not referral_ids:
        return {}
    rows = await session.execute(
        select(OutboxMessage.referral_id, OutboxMessage.message_id, OutboxMessage.chat_key)
        .where(OutboxMessage.referral_id.in_(referral_ids),
               OutboxMessage.kind.in_(CARD_KINDS), OutboxMessage.status == "sent",
               OutboxMessage.message_id.is_not(None), OutboxMessage.chat_key.is_not(None))
        .order_by(OutboxMessage.id))
    return {int(referral_id): (int(message_id), str(chat_key))
            for referral_id, message_id, chat_key in rows
            if referral_id is not None and message_id is not None}


async def purge_expired(session: AsyncSession, now: datetime, retention_days: int,
                        vault: DataVault | None = None) -> int:
    """Purge the personal fields of referrals closed or cancelled more than `retention_days`
    ago: name, phone, chat id and chat key are nulled and `purged_at` set (the row stays for
    statistics); their relay messages and outbox rows (whose payloads are personal) are
    deleted. With `vault`, each card still in its partner's group is edited to "withdrawn"
    (no phone, no name, no buttons). Returns how many referrals were purged. Called by the
    worker; commits."""
    cutoff = now - timedelta(days=retention_days)
    ids = list(await session.scalars(
        select(Referral.id).where(Referral.status.in_(FINISHED_STATUSES),
                                  Referral.purged_at.is_(None),
                                  Referral.updated_at < cutoff)
    ))
    if not ids:
        return 0
    withdrawn: list[tuple[StaffMessage, int]] = []
    if vault is not None:
        in_groups = await card_messages(session, ids)
        rows = await session.execute(
            select(Referral.id, Referral.reference, Partner.notification_chat_id,
                   Partner.languages, Partner.province, Partner.name)
            .join(Partner, Partner.id == Referral.partner_id).where(Referral.id.in_(ids)))
        for referral_id, code, chat_id, languages, province, name in rows:
            card = in_groups.get(referral_id)
            if card is None or chat_id is None or card[1] != vault.chat_key(chat_id):
                continue
            withdrawn.append((cards.withdrawn_notice(
                code, cards.card_locale(list(languages or []), province), partner_name=name,
                reason="purged", edit_message_id=card[0]), chat_id))
    await session.execute(
        update(Referral).where(Referral.id.in_(ids))
        .values(name_enc=None, phone_enc=None, chat_id_enc=None, chat_key=None,
                signal_key_enc=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(RelayMessage).where(RelayMessage.referral_id.in_(ids)))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.referral_id.in_(ids)))
    for message, chat_id in withdrawn:
        assert vault is not None
        enqueue(session, vault, kind="card_update", message=message, chat_id=chat_id, now=now)
    await session.commit()
    logger.info("retention: personal fields of %d referral(s) purged", len(ids))
    return len(ids)


async def withdraw_followup_consent(session: AsyncSession, chat_key: str) -> int:
    """The person said /stop: the follow-up consent of their referrals is withdrawn, so that
    a later "returned" does not enrol them (FollowupService.stop, given this by the API's
    wiring). In the caller's transaction; how many referrals had the consent."""
    withdrawn = await session.execute(
        update(Referral).where(Referral.chat_key == chat_key,
                               Referral.followup_consent.is_(True))
        .values(followup_consent=False).execution_options(synchronize_session=False))
    return int(getattr(withdrawn, "rowcount", 0) or 0)
