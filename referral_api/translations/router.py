"""Recorded voice for the bot (service token): which screens have a recording in which
language, the recording itself, and Telegram's file_id once the bot has sent it (so that it is
uploaded once, then reused)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy import select, update
from sqlalchemy.orm import defer

from referral_api.dependencies import SessionDep, require_service
from referral_api.errors import NotFound
from referral_api.translations.models import VoiceRecording
from referral_api.translations.schemas import (
    LOCALE_PATTERN,
    SCREEN_PATTERN,
    FileId,
    VoiceInfo,
    VoiceKey,
    VoiceList,
)

LocaleSegment = Annotated[str, Path(pattern=rf"^{LOCALE_PATTERN}$", max_length=16)]
ScreenSegment = Annotated[str, Path(pattern=rf"^{SCREEN_PATTERN}$",
                                    max_length=80)]


async def _one(session: SessionDep, locale: str, screen: str, *,
               audio: bool = False) -> VoiceRecording:
    query = select(VoiceRecording).where(VoiceRecording.locale == locale,
                                         VoiceRecording.screen == screen)
    if not audio:  # up to 1 MB: only the audio route reads it
        query = query.options(defer(VoiceRecording.audio))
    found = await session.scalar(query)
    if found is None:
        raise NotFound("no_recording")
    return found


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1/voice", tags=["voice"],
                       dependencies=[Depends(require_service)])

    @router.get("")
    async def recordings(session: SessionDep) -> VoiceList:
        rows = await session.execute(select(VoiceRecording.locale, VoiceRecording.screen))
        return VoiceList(recordings=[VoiceKey(locale=code, screen=name) for code, name in rows])

    @router.get("/{locale}/{screen}")
    async def recording(locale: LocaleSegment, screen: ScreenSegment,
                        session: SessionDep) -> VoiceInfo:
        found = await _one(session, locale, screen)
        return VoiceInfo(locale=found.locale, screen=found.screen, seconds=found.seconds,
                         file_id=found.file_id, recorded_at=found.at)

    @router.get("/{locale}/{screen}/audio", response_class=Response,
                responses={200: {"content": {"audio/ogg": {}}}})
    async def audio(locale: LocaleSegment, screen: ScreenSegment,
                    session: SessionDep) -> Response:
        found = await _one(session, locale, screen, audio=True)
        return Response(found.audio, media_type="audio/ogg")

    @router.put("/{locale}/{screen}/file-id", status_code=204)
    async def remember(locale: LocaleSegment, screen: ScreenSegment, body: FileId,
                       session: SessionDep) -> Response:
        await session.execute(
            update(VoiceRecording)
            .where(VoiceRecording.locale == locale, VoiceRecording.screen == screen,
                   VoiceRecording.at == body.recorded_at)  # still that recording
            .values(file_id=body.file_id))
        await session.commit()
        return Response(status_code=204)

    return router
