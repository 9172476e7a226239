"""Find the nearest contact point and book a contact: the dynamic screens of flows/booking.yaml.

Nothing personal is kept in the bot: the location is used for one API call and dropped; the
phone number is asked only after consent and goes straight to the API; the bot keeps only ids
(partner, slot) in the conversation state until the booking is confirmed.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from aiogram import Bot, Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from bot.api_client import (
    ApiRefused,
    ApiUnavailable,
    NearestPartners,
    ReferralCreate,
    ReferralsClient,
    checked,
)
from bot.engine.actions import HANDLED, ActionContext
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.engine.flows import NodeRef
from bot.handlers.flow import show_home, show_lost
from bot.i18n import isolate, native_name
from bot.replies import answer_quietly, callback_place, load, present, present_screen, save
from bot.screening import flags_from, service_for
from bot.settings import Settings
from bot.signals import current as signals

log = logging.getLogger(__name__)

BRUSSELS = ZoneInfo("Europe/Brussels")
CONSENT_VERSION = "booking-1"
MODE = NodeRef("booking", "mode")
INTERPRETER = NodeRef("booking", "interpreter")
FIND = NodeRef("booking", "find")
AWAIT_LOCATION, AWAIT_POSTCODE, AWAIT_PHONE = "location", "postcode", "phone"
SERVICE_FOR_TOPIC = {"medical": "medical", "family": "families"}


# Presses that continue a booking in progress: without its partner in the state, they cannot.
NEEDS_BOOKING = frozenset({"modes", "slot", "consent", "health", "followup", "retry"})


class BookCb(CallbackData, prefix="bk"):
    """a: partner | city | cities | slot | modes | consent | health | followup | retry | again |
    home; v: an id (partner, city index, slot as minutes since the epoch, yes/no)."""

    a: str
    v: str = ""


class Awaiting(Filter):
    """The conversation expects this kind of input (read from the prefetched state)."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __call__(self, event: Any, state: FSMContext) -> bool:
        data = await state.get_data()
        return bool(data.get("awaiting") == self.what)


def _kb(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows])


def _nav(engine: Engine, locale: str) -> list[tuple[str, str]]:
    again = (_("🔎 Search again"), BookCb(a="again").pack())
    home = (_("🏠 Main menu"), BookCb(a="home").pack())
    return [again, home]


def slot_label(slot: datetime, locale: str) -> str:
    local = slot.astimezone(BRUSSELS)
    return isolate(format_datetime(local, "EEE d MMM HH:mm", locale=locale.replace("-", "_")),
                   locale)


def mode_label(mode: str) -> str:
    return {"telegram": _("a message here in Telegram"), "phone": _("a phone call"),
            "visit": _("a visit at a set time")}.get(mode, mode)


def topic_label(topic: str, engine: Engine, locale: str) -> str:
    node = engine.flows.flows["booking"].nodes["topic"]
    for choice in getattr(node, "choices", ()):
        if choice.id == topic:
            return engine.translate(choice.label, locale)
    return topic


# ---- action hooks named in flows/booking.yaml ----------------------------------------
async def ask_location_action(ctx: ActionContext) -> str | None:
    conv: Conversation = ctx.conversation
    conv.awaiting = AWAIT_LOCATION
    keyboard = ReplyKeyboardMarkup(keyboard=[
        [KeyboardButton(text=_("📍 Send my location"), request_location=True)],
        [KeyboardButton(text=_("Cancel"))],
    ], resize_keyboard=True, one_time_keyboard=True)
    if ctx.message_id is not None:
        await present(ctx.bot, ctx.chat_id, _("Press the button below to share where you "
                                              "are."), None, ctx.message_id)
    await ctx.bot.send_message(ctx.chat_id, _("📍 Your location is used once, to find the "
                                              "nearest places, and then forgotten."),
                               reply_markup=keyboard)
    return HANDLED


async def ask_postcode_action(ctx: ActionContext) -> str | None:
    ctx.conversation.awaiting = AWAIT_POSTCODE
    await present(ctx.bot, ctx.chat_id, _("Type a Belgian postcode, for example 1000 or 9000."),
                  None, ctx.message_id)
    return HANDLED


async def pick_city_action(ctx: ActionContext) -> str | None:
    referrals: ReferralsClient | None = ctx.extra.get("referrals")
    if referrals is None:
        return "contact"
    try:
        cities = await referrals.cities()
    except (ApiUnavailable, ApiRefused):
        await present(ctx.bot, ctx.chat_id, unavailable_text(), None, ctx.message_id)
        return HANDLED
    rows: list[list[tuple[str, str]]] = []
    names = list(dict.fromkeys(city.city for city in cities))  # one button per city
    for i, name in enumerate(names[:24]):
        if i % 2 == 0:
            rows.append([])
        rows[-1].append((name.split(" / ")[0], BookCb(a="city", v=name[:40]).pack()))
    rows.append([(_("🏠 Main menu"), BookCb(a="home").pack())])
    await present(ctx.bot, ctx.chat_id, _("Choose a city:"), _kb(rows), ctx.message_id)
    return HANDLED


async def pick_slot_action(ctx: ActionContext) -> str | None:
    conv: Conversation = ctx.conversation
    referrals: ReferralsClient | None = ctx.extra.get("referrals")
    partner_id = conv.booking.get("partner")
    if referrals is None or partner_id is None:
        return "find"
    try:
        slots = await referrals.slots(partner_id)
    except (ApiUnavailable, ApiRefused):
        await present(ctx.bot, ctx.chat_id, unavailable_text(), None, ctx.message_id)
        return HANDLED
    await show_slots(ctx.bot, ctx.chat_id, slots, ctx.locale, ctx.message_id,
                     _("Choose a time for your visit:"))
    return HANDLED


async def show_consent_action(ctx: ActionContext) -> str | None:
    conv: Conversation = ctx.conversation
    engine: Engine = ctx.extra["engine"]
    settings: Settings = ctx.extra["settings"]
    text = consent_text(conv, engine, ctx.locale, settings,
                        conv.booking.get("partner_name", ""))
    markup = _kb([[(_("✅ Yes, share"), BookCb(a="consent", v="yes").pack())],
                  [(_("No, do not share"), BookCb(a="consent", v="no").pack())]])
    await present(ctx.bot, ctx.chat_id, text, markup, ctx.message_id)
    return HANDLED


# ---- texts -----------------------------------------------------------------------------
def unavailable_text() -> str:
    return _("Sorry, this service is not reachable right now. Your answers are kept. Please "
             "try again in a moment.")


def consent_text(conv: Conversation, engine: Engine, locale: str, settings: Settings,
                 partner_name: str) -> str:
    answers = conv.answers
    mode = answers.get("mode", "telegram")
    lines = [_("Before we share anything, please read this."), "",
             _("We will send to {partner}:").format(partner=isolate(html.escape(partner_name),
                                                                    locale)),
             "• " + _("your language: {language}").format(language=native_name(locale)),
             "• " + _("how to contact you: {mode}").format(mode=mode_label(mode))]
    if mode == "visit" and conv.booking.get("slot"):
        slot = datetime.fromisoformat(conv.booking["slot"])
        lines.append("• " + _("your visit: {time}").format(time=slot_label(slot, locale)))
    if mode == "phone":
        lines.append("• " + _("your phone number (you type it after this)"))
    lines.append("• " + _("interpreter needed: {answer}").format(
        answer={"yes": _("yes"), "no": _("no")}.get(answers.get("interpreter", ""),
                                                     _("not sure"))))
    lines.append("• " + _("topic: {topic}").format(
        topic=topic_label(answers.get("topic", "other"), engine, locale)))
    lines += ["",
              _("We also keep your Telegram chat, locked (encrypted), so that we can tell you "
                "when the counsellor answers. The counsellor does not see your Telegram name "
                "or number."),
              "",
              _("Why: so that a counsellor can contact you about voluntary return. It commits "
                "you to nothing."),
              _("How long: until {days} days after your contact is closed. /forget deletes "
                "it at once.").format(days=settings.referral_retention_days),
              "", _("Do you agree?")]
    return "\n".join(lines)


async def show_slots(bot: Bot, chat_id: int, slots: list[datetime], locale: str,
                     edit_id: int | None, title: str) -> None:
    if not slots:
        await present(bot, chat_id, _("There are no free times in the next two weeks. You "
                                      "can choose another way to be contacted."),
                      _kb([[(_("⬅️ Back"), BookCb(a="modes").pack())]]), edit_id)
        return
    rows: list[list[tuple[str, str]]] = []
    for i, slot in enumerate(slots[:9]):
        if i % 3 == 0:
            rows.append([])
        minutes = str(int(slot.timestamp() // 60))
        rows[-1].append((slot_label(slot, locale), BookCb(a="slot", v=minutes).pack()))
    rows.append([(_("⬅️ Back"), BookCb(a="modes").pack())])
    await present(bot, chat_id, title, _kb(rows), edit_id)


def partners_text(result: NearestPartners, locale: str) -> str:
    lines = [_("These places are nearest to {place}:").format(
        place=isolate(html.escape(result.origin.label or ""), locale)) if result.origin.label
        else _("These places are nearest:"), ""]
    for i, p in enumerate(result.partners, start=1):
        head = f"{i}. <b>" + isolate(html.escape(p.name), locale) + "</b>"
        if p.distance_km is not None:
            head += " — " + isolate(f"{p.distance_km:.1f} km", locale)
        lines.append(head)
        lines.append("📍 " + isolate(html.escape(p.address or p.city), locale))
        if p.hours:
            lines.append("🕘 " + isolate(html.escape(p.hours), locale))
        if p.phone:
            lines.append("📞 " + isolate(html.escape(p.phone), locale))
        if p.languages:
            lines.append("🗣 " + ", ".join(native_name(code) for code in p.languages[:6]))
        lines.append("")
    lines.append(_("You can go there, or choose a place and ask a counsellor to contact you."))
    return "\n".join(lines)


async def show_partners(bot: Bot, chat_id: int, result: NearestPartners, locale: str,
                        edit_id: int | None, engine: Engine) -> None:
    rows: list[list[tuple[str, str]]] = []
    for i, p in enumerate(result.partners, start=1):
        rows.append([(f"{i}. " + _("Contact {name}").format(name=p.name[:28]),
                      BookCb(a="partner", v=p.id[:48]).pack())])
    rows.append(_nav(engine, locale))
    await present(bot, chat_id, partners_text(result, locale), _kb(rows), edit_id)


def refusal_text(exc: ApiRefused) -> str:
    return {
        "outside_belgium": _("This place is outside Belgium. Choose a Belgian city instead."),
        "unknown_postcode": _("I do not know this postcode. Try another one, or choose a "
                              "city."),
        "unknown_city": _("I do not know this city. Choose one from the list."),
    }.get(exc.code, _("Sorry, that did not work. Choose a city instead."))


async def search(bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str,
                 referrals: ReferralsClient | None, edit_id: int | None = None,
                 **query: Any) -> None:
    """Ask the API for the nearest places and show them; on a refusal, explain and offer
    the city list."""
    if referrals is None:
        await present_screen(bot, chat_id, engine.show(conv, NodeRef("contact", "ways"), locale))
        return
    try:
        # Distance first, except that a partner offering the support the screening pointed to
        # (medical, minors, ...) comes first. Language does not rank: the card shows it.
        result = await referrals.nearest(service=service_for(conv.answers), **query)
    except ApiUnavailable:
        await present(bot, chat_id, unavailable_text(), _kb([_nav(engine, locale)]), edit_id)
        return
    except ApiRefused as exc:
        await present(bot, chat_id, refusal_text(exc),
                      _kb([[(_("Choose a city"), BookCb(a="cities").pack())],
                           _nav(engine, locale)]), edit_id)
        return
    conv.awaiting = None
    if not result.partners:
        await present(bot, chat_id, _("No place was found. Call the free number instead."),
                      _kb([_nav(engine, locale)]), edit_id)
        return
    await show_partners(bot, chat_id, result, locale, edit_id, engine)


def referral_fields(conv: Conversation, chat_id: int, locale: str,
                    phone: str | None = None) -> dict[str, Any]:
    """The fields of a ReferralCreate, from the answers (choice ids of flows/booking.yaml and
    flows/screening.yaml) and the ids of the booking. tests/contract checks them against the
    API's OpenAPI schema for every choice of every flow."""
    answers = conv.answers
    return {
        "partner_id": conv.booking.get("partner"),
        "contact_mode": answers.get("mode", "telegram"),
        "slot_start": conv.booking.get("slot"),
        "phone": phone,
        "language": locale,
        "interpreter": answers.get("interpreter") == "yes",
        "topic": answers.get("topic", "other"),
        "flags": flags_from(answers) if conv.booking.get("share_flags") == "yes" else [],
        "chat_id": chat_id,
        "consent_version": CONSENT_VERSION,
        "followup_consent": conv.booking.get("followup") == "yes",
    }


async def book(bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str,
               referrals: ReferralsClient, edit_id: int | None = None,
               phone: str | None = None) -> None:
    """Ask the API to store the referral. Success is claimed only after the API confirmed."""
    try:
        body = checked(ReferralCreate, **referral_fields(conv, chat_id, locale, phone),
                       signal=signals().ref())  # the anonymous journey: status changes count
        referral = await referrals.create_referral(body)
    except ApiUnavailable:
        await present(bot, chat_id, unavailable_text(),
                      _kb([[(_("Try again"), BookCb(a="retry").pack())]]), edit_id)
        return
    except ApiRefused as exc:
        if exc.code == "slot_taken":
            slots = [datetime.fromisoformat(s) for s in exc.detail.get("next_slots", [])]
            await show_slots(bot, chat_id, slots, locale, edit_id,
                             _("Sorry, this time was just taken. Choose another time:"))
            return
        if exc.code == "invalid_phone":
            conv.awaiting = AWAIT_PHONE
            await present(bot, chat_id, phone_prompt(invalid=True), None, edit_id)
            return
        log.warning("booking refused: %s", exc.code)
        await present(bot, chat_id, _("Sorry, the booking did not work. Please choose the "
                                      "place again."), _kb([_nav(engine, locale)]), edit_id)
        return
    conv.booking.clear()
    conv.awaiting = None
    reference = isolate(f"<b>{html.escape(referral.reference)}</b>", locale)
    # Only what is true now: the request is stored for the partner (their group hears of it
    # through the outbox a little later), nobody has accepted it yet, and no answer time is
    # promised (none is in the programme facts).
    lines = [_("✅ Done. Your request to {partner} is registered.").format(
        partner=isolate(html.escape(referral.partner_name), locale)),
        "", _("Your reference: {reference}").format(reference=reference)]
    if referral.contact_mode == "visit" and referral.slot_start:
        lines.append(_("Your visit: {time}").format(time=slot_label(referral.slot_start,
                                                                     locale)))
        lines.append(_("We will remind you the day before."))
        lines += ["", _("/mycontact shows, changes or cancels it.")]
    else:
        lines.append(_("A counsellor will contact you. When they accept your request, we "
                       "will tell you here."))
        lines += ["", no_news_text(engine, locale)]
    screen = engine.show(conv, NodeRef.parse("menu.start"), locale)
    await present(bot, chat_id, "\n".join(lines), None, edit_id)
    await present_screen(bot, chat_id, screen)


def freephone(engine: Engine, locale: str) -> str:
    """The free number of the programme (programme-facts §1.5), from flows/facts.yaml."""
    fact = engine.flows.facts.facts.get("freephone")
    return isolate(fact.value, locale) if fact else ""


def no_news_text(engine: Engine, locale: str) -> str:
    """What to do when nobody has answered yet. No waiting time is promised: the programme
    facts give none."""
    return _("If you hear nothing, send /mycontact to see or cancel your request. You can "
             "also call the free number {phone}.").format(phone=freephone(engine, locale))


def phone_prompt(invalid: bool = False) -> str:
    text = _("Type your phone number. If it is not a Belgian number, start with + and the "
             "country code, for example +40 712 345 678.")
    if invalid:
        return _("This phone number does not seem right.") + " " + text
    return text


def valid_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "BE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def create_router() -> Router:
    router = Router(name="booking")

    @router.message(Awaiting(AWAIT_LOCATION))
    async def on_location(message: Message, bot: Bot, state: FSMContext, engine: Engine,
                          locale: str, referrals: ReferralsClient | None = None) -> None:
        conv = await load(state)
        if message.location is None:
            conv.awaiting = None
            await message.answer(_("No problem."), reply_markup=ReplyKeyboardRemove())
            await present_screen(bot, message.chat.id, engine.show(conv, FIND, locale))
            await save(state, conv)
            return
        # The location is used for this one request and never stored or logged.
        lat, lon = message.location.latitude, message.location.longitude
        await message.answer(_("Thank you. Looking for places near you…"),
                             reply_markup=ReplyKeyboardRemove())
        await search(bot, message.chat.id, conv, engine, locale, referrals, lat=lat, lon=lon)
        await save(state, conv)

    @router.message(Awaiting(AWAIT_POSTCODE))
    async def on_postcode(message: Message, bot: Bot, state: FSMContext, engine: Engine,
                          locale: str, referrals: ReferralsClient | None = None) -> None:
        conv = await load(state)
        text = (message.text or "").strip()
        if text.startswith("/"):
            conv.awaiting = None
            await save(state, conv)
            await present_screen(bot, message.chat.id, engine.show(conv, FIND, locale))
            return
        if not (text.isdigit() and len(text) == 4):
            await message.answer(_("A Belgian postcode has 4 digits, for example 1000. Try "
                                   "again, or choose a city."),
                                 reply_markup=_kb([[(_("Choose a city"),
                                                     BookCb(a="cities").pack())]]))
            return
        await search(bot, message.chat.id, conv, engine, locale, referrals, postcode=text)
        await save(state, conv)

    @router.message(Awaiting(AWAIT_PHONE))
    async def on_phone(message: Message, bot: Bot, state: FSMContext, engine: Engine,
                       locale: str, referrals: ReferralsClient | None = None) -> None:
        conv = await load(state)
        phone = valid_phone(message.text or "")
        if phone is None or referrals is None:
            await message.answer(phone_prompt(invalid=True))
            return
        # The number goes straight to the API (encrypted there); the bot does not keep it.
        await book(bot, message.chat.id, conv, engine, locale, referrals, phone=phone)
        await save(state, conv)

    @router.callback_query(BookCb.filter())
    async def on_book(cb: CallbackQuery, callback_data: BookCb, bot: Bot, state: FSMContext,
                      engine: Engine, locale: str, settings: Settings,
                      referrals: ReferralsClient | None = None, **deps: Any) -> None:
        await answer_quietly(cb)
        conv = await load(state)
        chat_id, edit_id = callback_place(cb)
        action, value = callback_data.a, callback_data.v
        if action == "home":
            await show_home(bot, chat_id, conv, engine, locale, edit_id)
        elif action != "again" and (not conv.started or (action in NEEDS_BOOKING
                                                         and "partner" not in conv.booking)):
            # The state is gone (Redis restart, TTL), or this booking was finished already.
            await show_lost(bot, chat_id, conv, engine, locale, "booking", referrals, edit_id)
        elif action == "again":
            conv.booking.clear()
            await present_screen(bot, chat_id, engine.show(conv, FIND, locale), edit_id)
        elif action == "cities":
            ctx = ActionContext(bot=bot, chat_id=chat_id, user_id=cb.from_user.id,
                                locale=locale, state=state, conversation=conv,
                                message_id=edit_id, extra={"referrals": referrals})
            await pick_city_action(ctx)
        elif action == "city":
            await search(bot, chat_id, conv, engine, locale, referrals, edit_id, city=value)
        elif action == "partner":
            await choose_partner(bot, chat_id, conv, engine, locale, referrals, value, edit_id)
        elif action == "modes":
            conv.booking.pop("slot", None)
            await present_screen(bot, chat_id, engine.show(conv, MODE, locale), edit_id)
        elif action == "slot" and value.isdigit() and "partner" in conv.booking:
            slot = datetime.fromtimestamp(int(value) * 60, tz=BRUSSELS)
            conv.booking["slot"] = slot.isoformat()
            conv.trail.append(str(MODE))
            await present_screen(bot, chat_id, engine.show(conv, INTERPRETER, locale), edit_id)
        elif action == "consent" and value == "no":
            conv.booking.clear()
            await show_home(bot, chat_id, conv, engine, locale, edit_id,
                            notice=_("Nothing was shared. You can still go to the address "
                                     "yourself, or call the free number."))
        elif (action == "consent" and value == "yes" and flags_from(conv.answers)
              and "share_flags" not in conv.booking):
            await present(bot, chat_id, health_consent_text(conv, locale),
                          _kb([[(_("Yes, share this too"), BookCb(a="health", v="yes").pack())],
                               [(_("No, keep it to myself"),
                                 BookCb(a="health", v="no").pack())]]), edit_id)
        elif action == "health" and value in ("yes", "no") and "partner" in conv.booking:
            conv.booking["share_flags"] = value
            await ask_followup_or_continue(bot, chat_id, conv, engine, locale, referrals,
                                           edit_id)
        elif action == "followup" and value in ("yes", "no") and "partner" in conv.booking:
            conv.booking["followup"] = value
            await continue_booking(bot, chat_id, conv, engine, locale, referrals, edit_id)
        elif action == "consent" and "partner" in conv.booking and referrals:
            await ask_followup_or_continue(bot, chat_id, conv, engine, locale, referrals,
                                           edit_id)
        elif action == "retry" and "partner" in conv.booking and referrals:
            await continue_booking(bot, chat_id, conv, engine, locale, referrals, edit_id)
        else:
            await show_home(bot, chat_id, conv, engine, locale, edit_id,
                            notice=_("This button is out of date. Here is the main menu."))
        await save(state, conv)

    return router


async def ask_followup_or_continue(bot: Bot, chat_id: int, conv: Conversation, engine: Engine,
                                   locale: str, referrals: ReferralsClient | None,
                                   edit_id: int | None) -> None:
    """After the consent(s) to share: the separate, optional follow-up question (issue 8)."""
    if "followup" in conv.booking:
        await continue_booking(bot, chat_id, conv, engine, locale, referrals, edit_id)
        return
    await present(bot, chat_id, followup_consent_text(),
                  _kb([[(_("Yes, you may ask me"), BookCb(a="followup", v="yes").pack())],
                       [(_("No, thank you"), BookCb(a="followup", v="no").pack())]]), edit_id)


def followup_consent_text() -> str:
    return "\n".join([
        _("One last question, separate from your booking: may we send you a few questions "
          "after your return?"), "",
        _("Why: to learn how return and the start back home go, so that the programme can "
          "help people better. About 3 minutes, a few times in the first year; you can skip "
          "any question and stop at any time with /stop."),
        _("If you agree, we keep your Telegram chat (locked), your language, the country you "
          "return to and the date, until the last questions. Your answer does not change "
          "your booking.")])


async def continue_booking(bot: Bot, chat_id: int, conv: Conversation, engine: Engine,
                           locale: str, referrals: ReferralsClient | None,
                           edit_id: int | None) -> None:
    """After consent: ask the phone number (phone mode) or book."""
    if referrals is None:
        return
    if conv.answers.get("mode") == "phone":
        conv.awaiting = AWAIT_PHONE
        await present(bot, chat_id, phone_prompt(), None, edit_id)
    else:
        await book(bot, chat_id, conv, engine, locale, referrals, edit_id)


def health_consent_text(conv: Conversation, locale: str) -> str:
    names = {"minor": _("you are under 18 and alone in Belgium"),
             "trafficking": _("you may be in danger or forced to work"),
             "medical": _("you need medical treatment"),
             "pregnant": _("you are pregnant"),
             "children": _("children travel with you"),
             "older_65": _("you are 65 or older")}
    told = [names[f] for f in flags_from(conv.answers) if f in names]
    partner = isolate(html.escape(conv.booking.get("partner_name", "")), locale)
    return "\n".join([
        _("One more question, about sensitive information."), "",
        _("You told us that:"), *["• " + t for t in told], "",
        _("This can be health information. May we also share it with {partner}, so that they "
          "can prepare the right help? If you say no, we share only what you agreed to "
          "before.").format(partner=partner)])


async def choose_partner(bot: Bot, chat_id: int, conv: Conversation, engine: Engine,
                         locale: str, referrals: ReferralsClient | None, partner_id: str,
                         edit_id: int | None) -> None:
    if referrals is None:
        return
    try:
        partner = await referrals.partner(partner_id)
    except ApiUnavailable:
        await present(bot, chat_id, unavailable_text(), _kb([_nav(engine, locale)]), edit_id)
        return
    except ApiRefused:
        await present(bot, chat_id, _("This place is no longer available. Search again."),
                      _kb([_nav(engine, locale)]), edit_id)
        return
    conv.booking = {"partner": partner.id, "partner_name": partner.name}
    conv.trail.append(str(FIND))
    screen = engine.show(conv, MODE, locale)
    header = "📍 <b>" + isolate(html.escape(partner.name), locale) + "</b>\n\n"
    await present(bot, chat_id, header + screen.text, screen.markup, edit_id)
