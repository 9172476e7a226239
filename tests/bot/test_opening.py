"""A place's opening in the person's language (issue 13, item 4): weekly windows with CLDR's
day names and times, walk-in or appointment, interpreter, a note only in the language it was
written in, and the seed file's free text read into structure (nothing invented)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bot.booking.opening import opening_lines
from referral_api.__main__ import load_seed_file
from referral_api.partners.schemas import PartnerCreate, PartnerPublic
from tests.bot.booking_world import Booking
from tests.bot.test_booking import find_by_postcode
from tests.referral_api.factories import SEED_FILE


@contextlib.contextmanager
def speaking(locale: str) -> Iterator[None]:
    """The gettext context a handler runs in for this person's language."""
    from bot.i18n import create_i18n
    from bot.settings import DEFAULT_LOCALES_DIR

    i18n = create_i18n(DEFAULT_LOCALES_DIR, "en")
    with i18n.context(), i18n.use_locale(locale):
        yield


ENGLISH_WORDS = ("Walk in", "appointment", "afternoon", "morning", "Ring at the side door",
                 "interpreter")


async def search_in(booking: Booking, user_id: int, locale: str) -> str:
    person = booking.h.person(user_id, language_code=locale)
    await find_by_postcode(person)
    text = person.text
    assert "Ghent return desk" in text
    return text


async def test_a_dutch_person_reads_the_hours_and_the_note_in_dutch(booking: Booking) -> None:
    text = await search_in(booking, 8801, "nl")
    assert "ma–vr 09:00–12:00" in text  # CLDR's Dutch day names and times
    assert "di " in text  # Tuesday afternoon, by appointment
    assert "Bel aan bij de zijdeur." in text
    for word in ENGLISH_WORDS:
        assert word not in text


@pytest.mark.parametrize(("locale", "monday"), [("ar", "الاثنين"), ("ka", "ორშ")])
async def test_no_note_in_a_language_the_person_did_not_choose(
        booking: Booking, locale: str, monday: str) -> None:
    text = await search_in(booking, 8802 if locale == "ar" else 8803, locale)
    assert monday in text
    assert "09:00" in text
    assert "Bel aan" not in text  # the note exists in Dutch and English only
    for word in ENGLISH_WORDS:
        assert word not in text


def seeded(partner_id: str) -> PartnerPublic:
    [record] = [r for r in load_seed_file(SEED_FILE) if r["id"] == partner_id]
    data = PartnerCreate.model_validate(record).model_dump()
    return PartnerPublic.model_validate({**data, "lat": 51.2, "lon": 4.4, "province": None})


def test_antwerp_published_mornings_become_days_and_a_part_of_the_day_never_times() -> None:
    antwerp = seeded("fedasil-antwerpen")
    assert antwerp.address == "Lamorinièrestraat 137, 2018 Antwerpen"  # the remark is gone
    with speaking("en"):
        lines = opening_lines(antwerp, "en")
    assert lines[0] == "🚪 Walk in, no appointment: Mon, Wed, Thu morning"
    assert "published in 2015" in lines[1]
    assert not any(":00" in line for line in lines)  # the source gives no times
    with speaking("ar"):
        arabic = "\n".join(opening_lines(antwerp, "ar"))
    assert "الاثنين" in arabic and "2015" in arabic
    assert "OCMW" not in arabic  # the note exists in en, nl and fr only


def test_a_place_described_but_not_addressed_has_no_public_address() -> None:
    charleroi = seeded("fedasil-charleroi")
    assert charleroi.address is None  # the bot says "the address is given when you book"
    with speaking("fr"):
        assert "ℹ️ À côté du CPAS de Charleroi." in opening_lines(charleroi, "fr")


def test_no_opening_known_says_nothing() -> None:
    gent = seeded("fedasil-gent")
    with speaking("en"):
        assert opening_lines(gent, "en") == []
