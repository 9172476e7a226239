"""/mycontact: see, cancel or reschedule a booked contact, and write to the counsellor."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from bot.api_client import ApiRefused, ApiUnavailable, ReferralPublic, ReferralsClient
from bot.engine.core import Engine
from bot.handlers.booking import (
    BRUSSELS,
    Awaiting,
    freephone,
    mode_label,
    show_slots,
    slot_label,
    unavailable_text,
)
from bot.i18n import isolate
from bot.replies import answer_quietly, callback_place, load, present, save

log = logging.getLogger(__name__)

AWAIT_RELAY_PREFIX = "relay:"
MAX_RELAY = 2000


class MyCb(CallbackData, prefix="my"):
    """a: cancel | cancel_yes | resched | slot | write; r: reference; v: slot minutes."""

    a: str
    r: str
    v: str = ""


class AwaitingRelay(Awaiting):
    def __init__(self) -> None:
        super().__init__(AWAIT_RELAY_PREFIX)

    async def __call__(self, event: Any, state: FSMContext) -> bool:
        data = await state.get_data()
        return str(data.get("awaiting") or "").startswith(AWAIT_RELAY_PREFIX)


def status_label(status: str) -> str:
    return {"new": _("not accepted yet"), "accepted": _("accepted"),
            "contacted": _("the counsellor contacted you"),
            "unreachable": _("the counsellor could not reach you")}.get(status, status)


def day_label(when: datetime, locale: str) -> str:
    local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(BRUSSELS)
    return isolate(format_datetime(local, "d MMM", locale=locale.replace("-", "_")), locale)


def describe(referral: ReferralPublic, locale: str, engine: Engine) -> str:
    """The person's booked contact, saying only what is known: when it was registered, whether
    a counsellor accepted it, and what to do when nobody answers (no waiting time is promised:
    the programme facts give none)."""
    lines = [_("📋 Reference {reference}").format(
        reference=isolate(f"<b>{html.escape(referral.reference)}</b>", locale)),
        "📍 " + isolate(html.escape(referral.partner_name), locale),
        _("Contact: {mode}").format(mode=mode_label(referral.contact_mode))]
    if referral.slot_start:
        lines.append("🕘 " + slot_label(referral.slot_start, locale))
    if referral.created_at:
        lines.append(_("Registered on {day}").format(day=day_label(referral.created_at,
                                                                    locale)))
    lines.append(_("Status: {status}").format(status=status_label(referral.status)))
    if referral.status in ("new", "accepted") and referral.contact_mode != "visit":
        lines += ["", _("If you hear nothing, you can cancel it below, or call the free number "
                        "{phone}.").format(phone=freephone(engine, locale))]
    return "\n".join(lines)


def buttons(referral: ReferralPublic) -> InlineKeyboardMarkup:
    rows = []
    if referral.contact_mode == "telegram":
        rows.append([InlineKeyboardButton(text=_("✉️ Write to the counsellor"), callback_data=MyCb(
            a="write", r=referral.reference).pack())])
    if referral.contact_mode == "visit":
        rows.append([InlineKeyboardButton(text=_("Change the time"), callback_data=MyCb(
            a="resched", r=referral.reference).pack())])
    rows.append([InlineKeyboardButton(text=_("Cancel this contact"), callback_data=MyCb(
        a="cancel", r=referral.reference).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def create_router() -> Router:
    router = Router(name="mycontact")

    @router.message(Command("mycontact"))
    async def on_mycontact(message: Message, locale: str, engine: Engine,
                           referrals: ReferralsClient | None = None) -> None:
        if referrals is None:
            await message.answer(_("You have no booked contact."))
            return
        try:
            mine = await referrals.mine(message.chat.id)
        except (ApiUnavailable, ApiRefused):
            await message.answer(unavailable_text())
            return
        if not mine:
            await message.answer(_("You have no booked contact. Use /menu and choose "
                                   "\"Find help near me\"."))
            return
        for referral in mine:
            await message.answer(describe(referral, locale, engine),
                                 reply_markup=buttons(referral))

    @router.callback_query(MyCb.filter())
    async def on_my(cb: CallbackQuery, callback_data: MyCb, bot: Bot, state: FSMContext,
                    locale: str, engine: Engine,
                    referrals: ReferralsClient | None = None) -> None:
        # Stateless on purpose: each button carries its reference, so it keeps working when
        # the conversation state is gone (Redis restart, TTL).
        await answer_quietly(cb)
        chat_id, edit_id = callback_place(cb)
        ref, action = callback_data.r, callback_data.a
        if referrals is None:
            await present(bot, chat_id, unavailable_text(), None, edit_id)
            return
        try:
            if action == "cancel":
                markup = InlineKeyboardMarkup(inline_keyboard=[[
                    InlineKeyboardButton(text=_("Yes, cancel"),
                                         callback_data=MyCb(a="cancel_yes", r=ref).pack()),
                    InlineKeyboardButton(text=_("No"), callback_data=MyCb(a="keep", r=ref)
                                         .pack())]])
                await present(bot, chat_id, _("Cancel the contact {reference}?").format(
                    reference=isolate(html.escape(ref), locale)), markup, edit_id)
            elif action == "cancel_yes":
                await referrals.cancel(ref, chat_id)
                await present(bot, chat_id, _("✅ Cancelled. You can book again at any time."),
                              None, edit_id)
            elif action == "keep":
                await present(bot, chat_id, _("Nothing changed."), None, edit_id)
            elif action == "resched":
                mine = {r.reference: r for r in await referrals.mine(chat_id)}
                if ref not in mine:
                    raise ApiRefused(404, "not_found")
                slots = await referrals.slots(mine[ref].partner_id)
                rows: list[list[InlineKeyboardButton]] = []
                for i, slot in enumerate(slots[:9]):
                    if i % 3 == 0:
                        rows.append([])
                    rows[-1].append(InlineKeyboardButton(
                        text=slot_label(slot, locale),
                        callback_data=MyCb(a="slot", r=ref, v=str(int(slot.timestamp() // 60)))
                        .pack()))
                await present(bot, chat_id, _("Choose a new time:"),
                              InlineKeyboardMarkup(inline_keyboard=rows), edit_id)
            elif action == "slot" and callback_data.v.isdigit():
                slot = datetime.fromtimestamp(int(callback_data.v) * 60, tz=UTC)
                try:
                    referral = await referrals.reschedule(ref, chat_id, slot)
                except ApiRefused as exc:
                    if exc.code != "slot_taken":
                        raise
                    slots = [datetime.fromisoformat(s) for s in exc.detail.get("next_slots", [])]
                    await show_slots(bot, chat_id, slots, locale, edit_id,
                                     _("Sorry, this time was just taken. Choose another "
                                       "time:"))
                    return
                await present(bot, chat_id,
                              _("✅ Changed.") + "\n\n" + describe(referral, locale, engine),
                              buttons(referral), edit_id)
            elif action == "write":
                conv = await load(state)
                conv.awaiting = AWAIT_RELAY_PREFIX + ref
                await save(state, conv)
                await present(bot, chat_id, _("Write your message to the counsellor. Do not "
                                              "send documents or photos."), None, edit_id)
        except ApiUnavailable:
            await present(bot, chat_id, unavailable_text(), None, edit_id)
        except ApiRefused:
            await present(bot, chat_id, _("This contact no longer exists."), None, edit_id)

    @router.message(AwaitingRelay())
    async def on_relay(message: Message, state: FSMContext,
                       referrals: ReferralsClient | None = None) -> None:
        conv = await load(state)
        reference = str(conv.awaiting or "").removeprefix(AWAIT_RELAY_PREFIX)
        text = (message.text or "").strip()
        if not text or text.startswith("/") or referrals is None:
            conv.awaiting = None
            await save(state, conv)
            await message.answer(_("Nothing was sent."))
            return
        try:
            await referrals.relay_to_partner(reference, message.chat.id, text[:MAX_RELAY])
        except ApiUnavailable:
            await message.answer(unavailable_text())
            return
        except ApiRefused:
            await message.answer(_("This contact no longer exists."))
        else:
            await message.answer(_("✅ Sent to your counsellor. The answer will come here."))
        conv.awaiting = None
        await save(state, conv)

    return router
