"""The voice routes' bodies (pydantic only: the bot's API client imports them too)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# A catalogue's language ("ar", "fa_AF") and a flow node ("menu.welcome"), as they travel in
# the voice routes' paths: the API's routes, the bot's client and its buttons check them so.
LOCALE_PATTERN = r"[a-z]{2,3}(?:_[A-Za-z]{2,4})?"
SCREEN_PATTERN = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"


class VoiceKey(BaseModel):
    locale: str
    screen: str


class VoiceList(BaseModel):
    recordings: list[VoiceKey]


class VoiceInfo(BaseModel):
    locale: str
    screen: str
    seconds: float
    file_id: str | None
    recorded_at: datetime  # which recording (a new one replaces it: its file_id is reset)


class FileId(BaseModel):
    """Telegram's file_id of the recording of ``recorded_at``: kept only if that recording is
    still the one (a mediator may have replaced it while the bot was uploading)."""

    file_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_-]+$")
    recorded_at: datetime
