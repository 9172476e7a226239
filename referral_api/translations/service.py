"""Translation review and voice recordings: who may review which language, the checks a
correction must pass (the same as the catalogue's), the audit of every change.

The screens come from a gallery the wiring gives (``bot.gallery.Gallery``: the real engine);
this module only knows its small protocol (:class:`Screens`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from referral_api.errors import Invalid, NotFound
from referral_api.schemas import no_controls_but_lines
from referral_api.staff.models import StaffAccount
from referral_api.staff.service import audit
from referral_api.translations.models import VERDICTS, TranslationReview, VoiceRecording

Row = TypeVar("Row", TranslationReview, VoiceRecording)
MAX_TEXT = 4000
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

    def shows(self, msgid: str) -> bool: ...

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
        if not self.gallery.shows(msgid):
            raise NotFound("string")
        text = text.replace("\r\n", "\n").strip()
        if verdict == "approved":
            text = self.gallery.catalogue(locale, msgid)
        try:
            no_controls_but_lines(text)  # what every stored text of several lines must be
        except ValueError:
            raise Invalid("invalid_translation") from None
        if not text or len(text) > MAX_TEXT:
            raise Invalid("invalid_translation")
        problems = self.gallery.problems(locale, msgid, text)  # the catalogue check's rules
        if problems:
            raise Invalid(problems[0])
        if verdict == "corrected" and text == self.gallery.catalogue(locale, msgid):
            verdict = "approved"  # nothing changed: an approval
        digest = hashlib.sha256(msgid.encode()).hexdigest()[:12]
        await self._put(TranslationReview, {"locale": locale, "msgid": msgid},
                        {"text": text, "verdict": verdict},
                        "translation_reviewed", f"{locale}:{verdict}:{digest}")

    async def _put(self, model: type[Row], key: dict[str, str], values: dict[str, Any],
                   action: str, detail: str) -> Row:
        """The row of ``key`` (found, or added) with ``values``, by this account, now; audited;
        committed. A double click: the second request's insert meets the first one's row (the
        key is unique), which is then found and updated instead."""
        async def write() -> Row:
            row = await self.session.scalar(select(model).filter_by(**key))
            if row is None:
                row = model(**key)
                self.session.add(row)
            for name, value in {**values, "account_id": self.account.id, "at": self.now}.items():
                setattr(row, name, value)
            audit(self.session, self.account, action, detail=detail, now=self.now)
            return row

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
        return await self._put(VoiceRecording, {"locale": locale, "screen": screen},
                               {"audio": data, "seconds": seconds, "file_id": None},
                               "voice_recorded", f"{locale}:{screen}")
