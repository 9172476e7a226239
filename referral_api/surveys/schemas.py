"""Follow-up schemas: the bot posts a completed questionnaire keyed by the wave's opaque token
(never a chat id in a URL), and /stop by chat id or token."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from referral_api.referrals.schemas import ChatId

WaveToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,32}$")]
AnswerId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class FollowupAnswers(BaseModel):
    token: WaveToken
    questionnaire_version: Annotated[int, Field(ge=1, le=1000)]
    answers: Annotated[dict[AnswerId, AnswerId], Field(max_length=40)]


class FollowupSaved(BaseModel):
    status: Literal["saved", "already_saved"]


class FollowupStop(BaseModel):
    chat_id: ChatId | None = None
    token: WaveToken | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FollowupStop:
        if (self.chat_id is None) == (self.token is None):
            raise ValueError("give exactly one of chat_id and token")
        return self


class FollowupStopped(BaseModel):
    stopped: int


class FollowupWaveNow(BaseModel):
    chat_id: ChatId


class FollowupWaveQueued(BaseModel):
    wave: int | None


class FollowupWaveState(BaseModel):
    """Whether the wave of a token can be started, and whether the background questions (info
    source, reasons) are still to be asked: the person answered no wave yet."""

    status: Literal["open", "closed"]
    background: bool
