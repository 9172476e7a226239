"""Translation review and voice recordings: who may review which language, the checks a
correction must pass (the same as the catalogue's), the audit of every change.

The screens come from a gallery the wiring gives (``bot.gallery.Gallery``: the real engine);
this module only knows its small protocol (:class:`Screens`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from referral_api.errors import Invalid, NotFound
from referral_api.staff.models import StaffAccount
from referral_api.staff.service import audit
from referral_api.translations.models import VERDICTS, TranslationReview, VoiceRecording

Row = TypeVar("Row")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
MAX_LABEL = 30  # as bot.i18n_check: a button's label on a small phone
MAX_TEXT = 4000
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Voice: Telegram's voice messages are OGG with Opus; a key screen read aloud takes under two
# minutes. 1 MB holds that at Opus' voice bitrates (~16-32 kbit/s).
MAX_VOICE_BYTES = 1_000_000
MAX_VOICE_SECONDS = 120.0
OPUS_RATE = 48_000  # Opus granule positions count 48 kHz samples


class Preview(Protocol):
    @property
    def screen(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def buttons(self) -> tuple[tuple[str, ...], ...]: ...

    @property
    def rtl(self) -> bool: ...

    @property
    def msgids(self) -> tuple[str, ...]: ...


class Screens(Protocol):
    """What the staff app needs of the bot's screens (bot.gallery.Gallery)."""

    key_screens: tuple[str, ...]  # where a recorded voice is offered

    def languages(self) -> list[tuple[str, str]]: ...

    def catalogue(self, locale: str, msgid: str) -> str: ...

    def screens(self, locale: str, overrides: Mapping[str, str] | None = None,
                only: str | None = None) -> Sequence[Preview]: ...

    def flow_names(self) -> list[str]: ...

    def is_label(self, msgid: str) -> bool: ...

    def problems(self, locale: str, msgid: str, text: str) -> list[str]: ...


def reviewable_languages(account: StaffAccount, shipped: Sequence[str]) -> list[str]:
    """An admin may review every language; a translator those given to them; others none."""
    if account.role == "admin":
        return list(shipped)
    if account.role != "translator" or not account.languages:
        return []
    mine = {code.strip() for code in account.languages.split(",")}
    return [code for code in shipped if code in mine]


def ogg_opus_seconds(data: bytes) -> float:
    """The length of an OGG/Opus file (its last page's granule position at 48 kHz, minus the
    pre-skip). Raises Invalid("invalid_voice") for anything else."""
    if not data.startswith(b"OggS") or b"OpusHead" not in data[:200]:
        raise Invalid("invalid_voice")
    head = data.index(b"OpusHead")
    pre_skip = int.from_bytes(data[head + 10:head + 12], "little")
    last = data.rfind(b"OggS")
    granule = int.from_bytes(data[last + 6:last + 14], "little", signed=True)
    if granule <= 0:
        raise Invalid("invalid_voice")
    return max(0.0, (granule - pre_skip) / OPUS_RATE)


class TranslationService:
    def __init__(self, session: AsyncSession, account: StaffAccount, screens: Screens,
                 now: datetime) -> None:
        self.session = session
        self.account = account
        self.gallery = screens
        self.now = now

    def languages(self) -> list[tuple[str, str]]:
        shipped = self.gallery.languages()
        allowed = set(reviewable_languages(self.account, [c for c, _ in shipped]))
        return [(code, name) for code, name in shipped if code in allowed]

    def check_language(self, locale: str) -> None:
        if locale not in {code for code, _ in self.languages()}:
            raise NotFound("language")

    async def reviews(self, locale: str) -> dict[str, TranslationReview]:
        self.check_language(locale)
        found = await self.session.scalars(
            select(TranslationReview).where(TranslationReview.locale == locale))
        return {review.msgid: review for review in found}

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(TranslationReview.locale, func.count()).group_by(TranslationReview.locale))
        return {str(locale): int(n) for locale, n in rows}

    async def review(self, locale: str, msgid: str, text: str, verdict: str) -> None:
        """Approve the catalogue's translation, or correct it. Checked as the catalogue is."""
        self.check_language(locale)
        if verdict not in VERDICTS:
            raise Invalid("invalid_request")
        msgid = msgid.replace("\r\n", "\n")  # a browser sends a form's line breaks as CRLF
        if not any(msgid in p.msgids for p in self.gallery.screens("en")):
            raise NotFound("string")
        text = text.replace("\r\n", "\n").strip()
        if verdict == "approved":
            text = self.gallery.catalogue(locale, msgid)
        if not text or len(text) > MAX_TEXT or CONTROL.search(text):
            raise Invalid("invalid_translation")
        problems = self.gallery.problems(locale, msgid, text)  # the catalogue check's rules
        if problems:
            raise Invalid(problems[0])
        if verdict == "corrected" and text == self.gallery.catalogue(locale, msgid):
            verdict = "approved"  # nothing changed: an approval
        async def write() -> TranslationReview:
            review = await self.session.scalar(select(TranslationReview).where(
                TranslationReview.locale == locale, TranslationReview.msgid == msgid))
            if review is None:
                review = TranslationReview(locale=locale, msgid=msgid)
                self.session.add(review)
            review.text, review.verdict = text, verdict
            review.account_id, review.at = self.account.id, self.now
            digest = hashlib.sha256(msgid.encode()).hexdigest()[:12]
            audit(self.session, self.account, "translation_reviewed",
                  detail=f"{locale}:{verdict}:{digest}", now=self.now)
            return review

        await self._saved(write)

    async def _saved(self, write: Callable[[], Awaitable[Row]]) -> Row:
        """Write one row (found or added) and commit. A double click: the second request's
        insert meets the first one's row (unique); it is then found and updated instead."""
        try:
            row = await write()
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            row = await write()
            await self.session.commit()
        return row

    # ---- voice ---------------------------------------------------------------------------
    async def recordings(self, locale: str) -> dict[str, VoiceRecording]:
        self.check_language(locale)
        found = await self.session.scalars(
            select(VoiceRecording).where(VoiceRecording.locale == locale)
            .options(defer(VoiceRecording.audio)))  # up to 1 MB each: read only to listen
        return {r.screen: r for r in found}

    async def audio(self, locale: str, screen: str) -> bytes | None:
        self.check_language(locale)
        found: bytes | None = await self.session.scalar(select(VoiceRecording.audio).where(
            VoiceRecording.locale == locale, VoiceRecording.screen == screen))
        return found

    async def record(self, locale: str, screen: str, data: bytes,
                     key_screens: Sequence[str]) -> VoiceRecording:
        self.check_language(locale)
        if screen not in key_screens:
            raise NotFound("screen")
        if not data or len(data) > MAX_VOICE_BYTES:
            raise Invalid("voice_too_large")
        seconds = ogg_opus_seconds(data)
        if seconds > MAX_VOICE_SECONDS or seconds < 0.5:
            raise Invalid("voice_too_long")
        async def write() -> VoiceRecording:
            recording = await self.session.scalar(select(VoiceRecording).where(
                VoiceRecording.locale == locale, VoiceRecording.screen == screen))
            if recording is None:
                recording = VoiceRecording(locale=locale, screen=screen)
                self.session.add(recording)
            recording.audio, recording.seconds, recording.file_id = data, seconds, None
            recording.account_id, recording.at = self.account.id, self.now
            audit(self.session, self.account, "voice_recorded", detail=f"{locale}:{screen}",
                  now=self.now)
            return recording

        return await self._saved(write)
