"""One card per referral, kept current (issue 13, item 12): a status change edits the card in
the partner's group in place (new status, who, when, the buttons that fit), in the partner's
language and naming the partner; after cancel, /forget or the retention purge the card says
"withdrawn" and the phone number is gone from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from bot.app import create_bot
from bot.settings import Settings as BotSettings
from referral_api.housekeeping import create_worker
from referral_api.outbox.worker import OutboxWorker
from referral_api.referrals import cards
from referral_api.referrals.service import ReferralService, purge_expired
from referral_api.web.i18n import staff_gettext
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.referral_api.factories import make_partner, outbox_rows, referral_body

GROUP = -1000000001
PERSON = 987654321
COUNSELLOR = 5001


def group_and_worker(app: FastAPI) -> tuple[FakeBotAPI, OutboxWorker]:
    fake = FakeBotAPI()
    fake.open_group(GROUP)
    bot = create_bot(BotSettings(_env_file=None, bot_token="77:cards"),
                     session=InProcessSession(fake))
    context = app.state.context
    return fake, create_worker(context.settings, bot, context.sessionmaker, context.vault)


def cards_in(fake: FakeBotAPI) -> list[dict[str, Any]]:
    return list(fake.chats[GROUP].messages.values())


def buttons(card: dict[str, Any]) -> list[str]:
    markup = card.get("reply_markup") or {}
    return [b["callback_data"].rsplit(":", 1)[1]
            for row in markup.get("inline_keyboard", []) for b in row]


async def phone_booking(client: httpx.AsyncClient, admin: httpx.AsyncClient,
                        **partner: Any) -> str:
    await make_partner(admin, "c-desk", counsellors=(COUNSELLOR,), **partner)
    created = await client.post("/v1/referrals", json=referral_body(
        "c-desk", contact_mode="phone", phone="0470 12 34 56", name="Amina",
        flags=["medical", "children", "children_2", "children_under_6"]))
    assert created.status_code == 201, created.text
    reference: str = created.json()["reference"]
    return reference


async def by_staff(app: FastAPI, reference: str, status: str, name: str = "An") -> None:
    context = app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings,
                              context.clock).set_status_for_partner(
            reference, "c-desk", status, "staff:1", name)


async def test_a_status_change_edits_the_one_card(app: FastAPI, client: httpx.AsyncClient,
                                                  admin: httpx.AsyncClient) -> None:
    reference = await phone_booking(client, admin)
    fake, worker = group_and_worker(app)
    assert (await worker.drain_once()).sent == 1
    [card] = cards_in(fake)
    assert "For: Partner c-desk" in card["text"]
    assert "Status: New" in card["text"]
    assert "+32 470 12 34 56" in card["text"]
    assert "Medical treatment must continue; 2 children, under 6" in card["text"]
    assert buttons(card) == ["accepted", "contacted", "unreachable", "closed"]

    await by_staff(app, reference, "accepted")
    assert (await worker.drain_once()).sent == 1
    [card] = cards_in(fake)  # the same message, edited: no second card
    assert card.get("edit_date")
    assert "Status: Accepted, by An, " in card["text"]
    assert buttons(card) == ["contacted", "unreachable", "closed"]  # no "Accept" any more

    # A counsellor's button in the group: the API's answer, the card says who in plain words.
    pressed = await client.post(f"/v1/referrals/{reference}/status",
                                json={"counsellor_telegram_id": COUNSELLOR,
                                      "status": "unreachable"})
    assert pressed.status_code == 200, pressed.text
    await worker.drain_once()
    [card] = cards_in(fake)
    assert "Status: Could not reach, by a counsellor in this group, " in card["text"]
    assert buttons(card) == ["contacted", "closed"]

    await by_staff(app, reference, "closed")
    await worker.drain_once()
    [card] = cards_in(fake)
    assert "Status: Closed, by An" in card["text"] and buttons(card) == []


async def test_cancel_withdraws_the_card_and_hides_the_phone(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    reference = await phone_booking(client, admin)
    fake, worker = group_and_worker(app)
    await worker.drain_once()
    cancelled = await client.post(f"/v1/referrals/{reference}/cancel",
                                  json={"chat_id": PERSON})
    assert cancelled.status_code == 200, cancelled.text
    await worker.drain_once()
    [card] = cards_in(fake)
    assert "Status: Withdrawn, by the person, " in card["text"]
    assert "Withdrawn: the person cancelled" in card["text"]
    assert "470" not in card["text"] and "Amina" not in card["text"]
    assert buttons(card) == []


async def test_forget_edits_the_card_to_withdrawn(app: FastAPI, client: httpx.AsyncClient,
                                                  admin: httpx.AsyncClient) -> None:
    await phone_booking(client, admin)
    fake, worker = group_and_worker(app)
    await worker.drain_once()
    assert (await client.post("/v1/forget", json={"chat_id": PERSON})).status_code == 200
    assert (await worker.drain_once()).sent == 1
    [card] = cards_in(fake)
    assert "Status: Withdrawn" in card["text"] and "delete their data" in card["text"]
    assert "For: Partner c-desk" in card["text"]
    assert "470" not in card["text"] and "Amina" not in card["text"]
    assert buttons(card) == []
    # once the group has it, the "withdrawn" row keeps no reference (nor the group's chat)
    for row in await outbox_rows(app, "card_update"):
        assert row["payload"] == {} and row["chat_id"] is None, row


async def test_the_retention_purge_edits_the_card(app: FastAPI, client: httpx.AsyncClient,
                                                  admin: httpx.AsyncClient) -> None:
    reference = await phone_booking(client, admin)
    fake, worker = group_and_worker(app)
    await worker.drain_once()
    await by_staff(app, reference, "closed")
    await worker.drain_once()
    context = app.state.context
    later = context.clock() + timedelta(days=91)
    async with context.sessionmaker() as session:
        assert await purge_expired(session, later, 90, context.vault) == 1
    worker.clock = lambda: later
    assert (await worker.drain_once()).sent == 1
    [card] = cards_in(fake)
    assert "Status: Withdrawn" in card["text"] and "retention period" in card["text"]
    assert "470" not in card["text"] and "Amina" not in card["text"]


async def test_a_card_that_cannot_be_edited_is_sent_again(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    reference = await phone_booking(client, admin)
    fake, worker = group_and_worker(app)
    await worker.drain_once()
    fake.chats[GROUP].messages.clear()  # someone deleted the card in the group
    await by_staff(app, reference, "accepted")
    assert (await worker.drain_once()).sent == 1
    [card] = cards_in(fake)
    assert "Status: Accepted" in card["text"] and not card.get("edit_date")
    await by_staff(app, reference, "contacted")
    await worker.drain_once()
    [edited] = cards_in(fake)  # and the new card is the one edited next
    assert edited["message_id"] == card["message_id"] and "Status: Contacted" in edited["text"]


async def test_the_card_and_the_confirmation_are_in_the_partners_language(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    reference = await phone_booking(client, admin, languages=["nl", "en"])
    fake, worker = group_and_worker(app)
    await worker.drain_once()
    [card] = cards_in(fake)
    assert "Voor: Partner c-desk" in card["text"] and "Status: Nieuw" in card["text"]
    pressed = await client.post(f"/v1/referrals/{reference}/status",
                                json={"counsellor_telegram_id": COUNSELLOR,
                                      "status": "accepted"})
    assert pressed.json()["confirmation"] == f"{reference}: Aanvaard"
    await worker.drain_once()
    [card] = cards_in(fake)
    assert "door een begeleider in deze groep" in card["text"]


def test_buttons_fit_the_status() -> None:
    assert cards.fitting_statuses("new") == ["accepted", "contacted", "unreachable", "closed"]
    assert cards.fitting_statuses("accepted") == ["contacted", "unreachable", "closed"]
    assert cards.fitting_statuses("contacted") == ["unreachable", "closed"]
    assert cards.fitting_statuses("returned") == ["contacted", "unreachable", "closed"]
    for finished in ("closed", "cancelled", "withdrawn"):
        assert cards.fitting_statuses(finished) == []


def test_screening_answers_in_plain_words() -> None:
    t = staff_gettext("en")
    assert cards.shared_phrases(["children", "children_3plus", "children_mixed_ages"], t) == [
        "3 or more children, of different ages"]
    assert cards.shared_phrases(["children"], t) == ["Has children with them"]
    assert cards.shared_phrases(["older_65", "pregnant", "odd_one"], t) == [
        "65 or older", "Pregnant", "odd_one"]
