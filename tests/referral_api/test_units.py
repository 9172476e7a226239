"""Pure building blocks: reference codes, places, encryption, phones, slots, cards."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import pytest

from referral_api import geo
from referral_api.crypto import DataVault, generate_data_key
from referral_api.errors import Invalid
from referral_api.partners.schedule import Window, is_scheduled, slots_on, to_local
from referral_api.referrals import cards
from referral_api.referrals.reference import (
    ALPHABET,
    format_reference,
    new_reference,
    normalize_reference,
)
from referral_api.referrals.service import parse_phone


def test_reference_codes() -> None:
    codes = {new_reference() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in codes)
    assert not set("IO01") & set(ALPHABET)
    assert len(ALPHABET) == 32
    assert format_reference("ABCD2345") == "ABCD-2345"
    for text in ("ABCD-2345", "abcd-2345", "abcd2345", " ABCD 2345 "):
        assert normalize_reference(text) == "ABCD2345"
    for text in ("ABCD-234", "ABCD-23450", "ABCD-2341", "OOOO-0000", ""):
        assert normalize_reference(text) is None


def test_places() -> None:
    assert geo.in_belgium(50.85, 4.35)
    assert not geo.in_belgium(48.86, 2.35)
    assert not geo.in_belgium(50.85, 7.0)
    brussels_gent = geo.haversine_km(50.8465573, 4.351697, 51.0397129, 3.7141549)
    assert 48 < brussels_gent < 52
    assert geo.haversine_km(50.0, 4.0, 50.0, 4.0) == 0.0
    assert geo.normalize_postcode("B-1000") == "1000"
    assert geo.normalize_postcode("10000") is None
    place = geo.place_by_postcode("3500")
    assert place is not None and (place.label, place.province) == ("Hasselt", "VLI")
    assert geo.place_by_postcode("0999") is None
    assert geo.province_of_postcode("9000") == "VOV"
    city = geo.place_by_city("  liège ")
    assert city is not None and city.province == "WLG"
    known = geo.place_by_city("Bruxelles / Brussel", known=[("Bruxelles / Brussel", "1000")])
    assert known is not None and known.postal_code == "1000"
    assert geo.place_by_city("") is None
    assert geo.nearest_locality(51.04, 3.72).label == "Gent"


def test_vault() -> None:
    vault = DataVault(generate_data_key())
    token = vault.encrypt("+32470123456")
    assert "+32470123456" not in token
    assert vault.decrypt(token) == "+32470123456"
    assert vault.decrypt_chat_id(vault.encrypt_chat_id(-100123)) == -100123
    assert vault.decrypt_json(vault.encrypt_json({"text": "é"})) == {"text": "é"}
    assert vault.encrypt_optional(None) is None
    assert vault.chat_key(42) == vault.chat_key(42)
    assert vault.chat_key(42) != vault.chat_key(43)
    assert re.fullmatch(r"[0-9a-f]{64}", vault.chat_key(42))
    other = DataVault(generate_data_key())
    assert other.chat_key(42) != vault.chat_key(42)  # keyed
    with pytest.raises(ValueError):
        DataVault("not a key")


def test_phones() -> None:
    assert parse_phone("0470 12 34 56") == "+32470123456"
    assert parse_phone("+32 (0)470 12.34.56") == "+32470123456"
    assert parse_phone("+33 6 12 34 56 78") == "+33612345678"
    for bad in ("0470", "hello", "+1 555", "00"):
        with pytest.raises(Invalid, match="invalid_phone"):
            parse_phone(bad)


WEEKDAY_MORNINGS = [Window(day, time(9), time(12)) for day in range(5)]


def test_slots_follow_brussels_time_across_daylight_saving() -> None:
    winter = slots_on(date(2026, 12, 1), WEEKDAY_MORNINGS, 30)  # a Tuesday, UTC+1
    summer = slots_on(date(2026, 6, 2), WEEKDAY_MORNINGS, 30)  # a Tuesday, UTC+2
    assert len(winter) == len(summer) == 6
    assert winter[0] == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert summer[0] == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    assert to_local(winter[0]).isoformat() == "2026-12-01T09:00:00+01:00"
    assert to_local(summer[-1]).isoformat() == "2026-06-02T11:30:00+02:00"
    assert slots_on(date(2026, 12, 5), WEEKDAY_MORNINGS, 30) == []  # Saturday
    assert len(slots_on(date(2026, 12, 1), WEEKDAY_MORNINGS, 45)) == 4  # 9:00 … 11:15
    assert is_scheduled(WEEKDAY_MORNINGS, 30, datetime(2026, 12, 1, 10, 30, tzinfo=UTC))
    assert not is_scheduled(WEEKDAY_MORNINGS, 30, datetime(2026, 12, 1, 10, 45, tzinfo=UTC))
    assert not is_scheduled(WEEKDAY_MORNINGS, 30, datetime(2026, 12, 1, 11, 0, tzinfo=UTC))


def test_card_shows_only_what_the_counsellor_needs() -> None:
    slot = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    card = cards.partner_card(code="ABCD2345", status="new", contact_mode="visit",
                              slot_start=slot, language="ckb", interpreter=False,
                              topic="medical", flags=[], name=None, phone="+32470123456")
    text = card.text
    assert "Contact: visit on Tue 1 Dec 2026, 09:00 (Brussels time)" in text
    assert "Central Kurdish (ckb)" in text
    assert "Topic: Medical needs" in text
    assert "470" not in text  # the phone only when it is the contact mode
    assert "Name" not in text
    assert "Reference: <code>ABCD-2345</code>" in text
    closed = cards.partner_card(code="ABCD2345", status="closed", contact_mode="phone",
                                slot_start=None, language="en", interpreter=False,
                                topic="other", flags=["x"], name="A&B", phone="+32470123456",
                                update=True)
    assert "Contact: phone call to +32 470 12 34 56" in closed.text
    assert "Name: A&amp;B" in closed.text
    assert "buttons" not in closed.payload()


def test_cards_speak_the_partners_language() -> None:
    from referral_api.referrals.cards import card_locale, partner_card

    assert card_locale(["fr", "nl"], "BRU") == "fr"
    assert card_locale([], "VAN") == "nl"
    assert card_locale(["ar"], "WLG") == "fr"
    assert card_locale(None, "BRU") == "en"
    card = partner_card(code="ABCDEFGH", status="new", contact_mode="telegram", slot_start=None,
                        language="uk", interpreter=True, topic="medical", flags=[], name=None,
                        phone=None, locale="fr")
    assert "Langue: ukrainien (uk)" in card.text
    assert card.buttons is not None and card.buttons[0][0]["text"] == "Accepter"
