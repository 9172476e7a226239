"""Forged and garbage callbacks (issue 17, item 6): callback data is the person's input too. A
path in a reference must never reach another API route (it used to reach /v1/forget and delete
the presser's referral without the confirmation step); a made-up place, slot or contact answers
"out of date" and changes nothing; nothing ends in "something went wrong on our side"."""

from __future__ import annotations

import pytest

from bot.engine.callbacks import NodeCb
from tests.bot.booking_world import Booking
from tests.bot.test_journey import book_by_message
from tests.bot.test_mycontact import open_two_days

OUT_OF_DATE = "out of date"
OUR_SIDE = "on our side"


def forged(flow: str, node: str, choice: str) -> str:
    return NodeCb(f=flow, n=node, c=choice, v=1).pack()


@pytest.mark.parametrize("reference", [
    "../forget?", "..%2fforget%3f", "ABCD-EFGH/../../forget", "x" * 30, "", "%00",
])
async def test_a_path_in_a_reference_reaches_nothing(booking: Booking, reference: str) -> None:
    person = booking.h.person(8601)
    await book_by_message(booking, person)
    for node in ("contact", "cancel_yes", "cancel", "resched", "write"):
        replies = await person.press_data(forged("mycontact", node, reference))
        said = replies + person.toasts[-1:]
        assert not any(OUR_SIDE in r for r in said), (node, said)
        assert said and any(OUT_OF_DATE in r.lower() or "no longer" in r for r in said), (
            node, said)
    [referral] = await booking.referrals()
    assert referral.status == "new"  # not cancelled, not forgotten


@pytest.mark.parametrize(("node", "choice"), [
    ("slot", "99999999999999"), ("slot", "0"), ("slot", "-5"), ("slot", "abc"),
    ("place", "fedas"), ("place", "../admin"), ("topic", "nonsense"),
])
async def test_made_up_booking_choices_are_out_of_date(booking: Booking, admin: object,
                                                       node: str, choice: str) -> None:
    await open_two_days(admin)  # type: ignore[arg-type]
    person = booking.h.person(8602)
    await person.send("/start")
    replies = await person.press_data(forged("booking", node, choice))
    said = replies + person.toasts[-1:]
    assert not any(OUR_SIDE in r for r in said), said
    assert any(OUT_OF_DATE in r.lower() for r in said), said
    assert await booking.referrals() == []


@pytest.mark.parametrize("data", ["bk:partner:fedas", "my:cancel_yes:../forget?:",
                                  "n:booking", "n:x:y:z:notanumber", "\x00", "lang:../../x"])
async def test_garbage_callback_data_is_answered_quietly(booking: Booking, data: str) -> None:
    person = booking.h.person(8603)
    await person.send("/start")
    replies = await person.press_data(data)
    assert not any(OUR_SIDE in r for r in replies), replies


@pytest.mark.parametrize(("kind", "value"), [
    ("reference", "../forget?"), ("reference", "ABCD-EFGH/x"), ("partner", "../admin"),
    ("partner", "Desk"), ("token", "a/b"), ("code", "EY4YWD?x=1"), ("code", ".."),
    ("reference", "ÄBCD-EFGH"),
])
def test_the_api_client_refuses_a_path_in_a_segment_before_any_request(
        kind: str, value: str) -> None:
    from bot.api_client import ApiRefused, api_path

    with pytest.raises(ApiRefused) as refused:
        api_path(f"/v1/x/{{{kind}}}/y", **{kind: value})
    assert refused.value.status == 404


def test_a_valid_segment_is_escaped_into_its_place() -> None:
    from bot.api_client import api_path

    assert api_path("/v1/referrals/{reference}/cancel", reference="ABCD-EF23") == (
        "/v1/referrals/ABCD-EF23/cancel")
