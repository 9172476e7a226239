"""Recorded voice (issue 18): where a mediator recorded a key screen in the person's language,
the screen has "🔊 Listen", which sends the recording as a Telegram voice message (uploaded
once, then sent again by Telegram's file_id); nowhere else, and in no other language.

The recording is made in the test with espeak-ng and opusenc (Debian's packages; .ci/run
installs them), then uploaded through the staff service as a mediator would."""

from __future__ import annotations

import gettext as gettext_module
import uuid
from datetime import UTC, datetime

import pytest

from bot.gallery import Gallery
from bot.settings import DEFAULT_LOCALES_DIR
from referral_api.translations.service import TranslationService, ogg_opus_seconds
from tests.bot.booking_world import Booking
from tests.referral_api.staff_pages import make_account


def t(locale: str, msgid: str) -> str:
    return gettext_module.translation("messages", DEFAULT_LOCALES_DIR, [locale]).gettext(msgid)


async def record(booking: Booking, locale: str, screen: str, audio: bytes) -> None:
    app = booking.app
    account = await make_account(app, f"mediator-{uuid.uuid4().hex[:8]}@partner.example",
                                 role="translator", languages=locale)
    async with app.state.context.sessionmaker() as session:
        service = TranslationService(session, account, Gallery(), datetime.now(UTC))
        await service.record(locale, screen, audio, Gallery.key_screens)


def voices(booking: Booking, user_id: int) -> list[dict[str, object]]:
    chat = booking.h.fake.open_chat(booking.h.person(user_id).user)
    return [m for m in chat.messages.values() if "voice" in m]


def test_the_recording_is_a_real_ogg_opus_file(recording: bytes) -> None:
    assert 0.5 < ogg_opus_seconds(recording) < 20


async def test_listen_sends_the_recording_in_the_persons_language_only_where_it_exists(
        booking: Booking, recording: bytes) -> None:
    await record(booking, "ar", "menu.welcome", recording)
    listen = t("ar", "🔊 Listen")
    assert listen != "🔊 Listen" and listen.startswith("🔊")

    person = booking.h.person(7401, "ar")
    await person.send("/start")  # the welcome: recorded in Arabic
    assert person.buttons[0] == listen
    await person.press(listen)
    [voice] = voices(booking, 7401)
    assert booking.h.fake.files[voice["voice"]["file_id"]] == recording  # the mediator's own
    assert booking.h.fake.uploads == 1

    await person.press(person.buttons[2])  # "No": the main menu, not recorded
    assert listen not in person.buttons

    other = booking.h.person(7402, "ar")
    await other.send("/start")
    await other.press(listen)  # sent again by Telegram's file_id: no second upload
    assert len(voices(booking, 7402)) == 1 and booking.h.fake.uploads == 1

    booking.h.fake.files.clear()  # Telegram no longer knows the file_id: uploaded again
    third = booking.h.person(7404, "ar")
    await third.send("/start")
    await third.press(listen)
    assert len(voices(booking, 7404)) == 1 and booking.h.fake.uploads == 2

    english = booking.h.person(7403, "en")
    await english.send("/start")  # the same screen in English: nobody recorded it
    assert not any(label.startswith("🔊") for label in english.buttons)


async def test_a_recording_is_checked_before_it_is_kept(booking: Booking,
                                                        recording: bytes) -> None:
    from referral_api.errors import Invalid

    for bad, code in ((b"not audio at all", "invalid_voice"),
                      (recording[:10], "invalid_voice"),
                      (b"OggS" + b"\0" * 2_000_000, "voice_too_large")):
        with pytest.raises(Invalid) as refused:
            await record(booking, "ar", "menu.welcome", bad)
        assert refused.value.code == code
