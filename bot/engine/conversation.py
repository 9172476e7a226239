"""Where a person is in the flows, kept in FSM data (Redis, with a TTL).

Holds choice ids and navigation only: no text the person typed, no name, no Telegram id.
Ids picked from lists (a partner, a visit time, a contact's reference) are answers too. What
a person types or sends (a postcode, a location, a phone number, a message) is read on an
input screen and passed on in the same update; it is never written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_TRAIL = 20


@dataclass
class Conversation:
    at: str | None = None  # "flow.node" of the screen shown last
    version: int | None = None  # version of that flow, so a deployed change can be detected
    trail: list[str] = field(default_factory=list)  # screens to go Back to
    answers: dict[str, str] = field(default_factory=dict)  # save_as -> choice id
    campaign: str | None = None  # outreach campaign code from the /start link or typed
    shown: int | None = None  # the Telegram message that shows the current screen
    # A follow-up questionnaire in progress: the wave's opaque token only (bot/handlers/followup).
    survey: dict[str, str] = field(default_factory=dict)
    # The person's channel, from the chat id of each update (bot.channels); never saved.
    channel: str = field(default="telegram", compare=False)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            at=data.get("at"),
            version=data.get("v"),
            trail=list(data.get("trail", [])),
            answers=dict(data.get("answers", {})),
            campaign=data.get("campaign"),
            shown=data.get("m"),
            survey=dict(data.get("survey", {})),
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": self.at, "v": self.version}
        if self.trail:
            data["trail"] = self.trail[-MAX_TRAIL:]
        if self.answers:
            data["answers"] = self.answers
        if self.campaign:
            data["campaign"] = self.campaign
        if self.shown:
            data["m"] = self.shown
        if self.survey:
            data["survey"] = self.survey
        return data

    @property
    def started(self) -> bool:
        return self.at is not None
