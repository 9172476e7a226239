"""Follow-up schemas: the bot posts a completed questionnaire keyed by the wave's opaque token
(never a chat id in a URL), and /stop by chat id or token.

The questions and answers are the closed lists of questionnaire.py. The service checks them
(with its own error codes: unknown_question, invalid_answer, repeated_reason); the OpenAPI
schema of `answers` shows them as enums, made from the same lists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, WithJsonSchema, model_validator

from referral_api.followup import questionnaire as q
from referral_api.schemas import ChatId

WaveToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,32}$")]
AnswerId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
MAX_ANSWERS = 40


def _with_flow_ids(stored: tuple[str, ...]) -> list[str]:
    """Stored ids, and the flow's short ids that map to them (q.FLOW_TO_STORED)."""
    return [*stored, *(short for short, full in q.FLOW_TO_STORED.items() if full in stored)]


def answers_json_schema() -> dict[str, Any]:
    """What `answers` may hold, as q.clean accepts it: question id -> answer ids."""
    choices: dict[str, list[str]] = {q.INFO_QUESTION: _with_flow_ids(q.INFO_SOURCES)}
    for key in q.REASON_QUESTIONS:
        choices[key] = [*_with_flow_ids(q.DECISION_FACTORS), q.NO_OTHER_REASON]
    for question in q.DIMENSION_QUESTIONS:
        choices[question.id] = list(question.answers)
    return {"type": "object",
            "properties": {key: {"type": "string", "enum": ids} for key, ids in choices.items()},
            "additionalProperties": False, "maxProperties": MAX_ANSWERS,
            "description": "Question id -> answer id, from the closed lists of the "
                           f"questionnaire (version {q.VERSION})."}


class FollowupAnswers(BaseModel):
    token: WaveToken
    questionnaire_version: Annotated[int, Field(ge=1, le=1000)]
    answers: Annotated[dict[AnswerId, AnswerId], Field(max_length=MAX_ANSWERS),
                       WithJsonSchema(answers_json_schema())]


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
