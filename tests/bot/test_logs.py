"""Logs are data too: a booking with a shared location, a phone number and a counsellor's
answer, through the real Dispatcher, the real API on PostgreSQL and the outbox worker, leaves
no coordinates, reference, phone number or chat id in any log line, as the processes write
them (ops.logs: one JSON object per line)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from ops.logs import JsonFormatter, scrub
from tests.bot.booking_world import Booking
from tests.bot.test_booking import to_location_search

CHAT = 734912345  # a realistic Telegram id: nine digits
LAT, LON = 51.054321, 3.721987


class Lines(logging.Handler):
    """What the process would write: every record at DEBUG, formatted as in production."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[str] = []
        self.raw: list[str] = []  # before ops.logs' scrubber: what the code itself said

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.raw.append(" ".join([record.getMessage(), *map(str, record.__dict__.values())]))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_booking_with_a_shared_location_logs_nothing_personal(
        booking: Booking, lines: Lines) -> None:
    person = booking.h.person(CHAT)
    await to_location_search(person)
    await person.send(location={"latitude": LAT, "longitude": LON})
    assert "Ghent return desk" in person.text
    await person.press("1. Contact Ghent return desk")
    await person.press("Call me by phone")
    await person.press("Yes")  # interpreter
    await person.press("Travel documents")
    await person.press("Continue")
    await person.press("✅ Yes, share")
    await person.press("No, thank you")
    await person.send("0470 12 34 56")
    [referral] = await booking.referrals()
    reference = referral.reference
    await booking.deliver()
    card = booking.group_card()
    assert "+32 470 12 34 56" in card["text"]  # the booking went through, to the partner
    await booking.counsellor_press("accepted")
    await booking.counsellor_reply(card["message_id"], "Hello, we will call you")
    await booking.deliver()
    assert "we will call you" in person.text
    await person.send("/mycontact")

    assert len(lines.lines) > 20
    events = [json.loads(line) for line in lines.lines]  # every line is one JSON object
    written = "\n".join(lines.lines)
    said = "\n".join(lines.raw)
    forbidden = {
        "latitude": "51.0543", "longitude": "3.7219", "lat, rounded": "51.05",
        "reference": reference, "reference with a dash": f"{reference[:4]}-{reference[4:]}",
        "phone": "470 12 34 56", "phone, digits": "470123456", "chat id": str(CHAT),
        "counsellor's text": "we will call you",
    }
    for what, value in forbidden.items():
        assert value not in written, f"the logs hold the {what}"
        assert value not in said, f"the code logged the {what} (the scrubber masked it)"

    # One event per update, with its id, the route that handled it and the duration.
    updates = [e for e in events if e["logger"] == "bot.updates"]
    assert len(updates) >= 15
    assert all(isinstance(e["update_id"], int) and e["duration_ms"] >= 0 for e in updates)
    routes = {e["route"] for e in updates}
    assert "commands.start" in routes or any(r.startswith("commands.") for r in routes)
    assert any(r.startswith("flow.") for r in routes)
    assert any(r.startswith("partner_group.") for r in routes)  # the counsellor's press
    # The API's access events name route templates, never the concrete path.
    api = [e for e in events if e["logger"] == "referral_api.access"]
    assert {"POST /v1/partners/nearest", "POST /v1/referrals"} <= {
        f"{e['method']} {e['route']}" for e in api}


def test_the_scrubber_masks_what_slipped_into_a_message() -> None:
    """The net under a mistake: a message that quotes personal data by accident."""
    text = scrub("lat=51.054321&lon=3.721987 chat 734912345 group -1001234567890 "
                 "phone +32 470 12 34 56 ref ABCD2345 token Zx9_aB3kLmN0pQrStUvWx "
                 "took 12.5 ms, 3 rows, update 42")
    for value in ("51.054321", "3.721987", "734912345", "1001234567890", "470 12 34 56",
                  "ABCD2345", "Zx9_aB3kLmN0pQrStUvWx"):
        assert value not in text
    assert "took 12.5 ms, 3 rows, update 42" in text  # ordinary numbers stay readable
