"""The voice routes' bodies (pydantic only: the bot's API client imports them too)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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


class FileId(BaseModel):
    file_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_-]+$")
