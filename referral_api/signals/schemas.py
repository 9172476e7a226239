"""Signal schemas of the bot's API (service token); the campaign's: campaigns/schemas.py.

The closed lists of events and values live in catalogue.py; they are re-exported here for the
bot (which imports schema modules only) and shown in the OpenAPI schema of `SignalIn` as
`x-values-by-event`. They are checked per event, not by the schema: an event outside them is
dropped and counted in `rejected`, so that one bad event never loses a batch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from referral_api.signals.catalogue import EVENTS
from referral_api.signals.catalogue import SCREENING_FLAGS as SCREENING_FLAGS
from referral_api.signals.catalogue import TOPICS as TOPICS

Pseudonym = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Month = Annotated[int, Field(ge=202001, le=210012)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,23}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")]
MAX_BATCH = 500


def _closed_lists(schema: dict[str, Any]) -> None:
    """OpenAPI: each event with the values it may carry ([] = no value)."""
    schema["x-values-by-event"] = {event: list(values or ()) for event, (values, _stage)
                                   in EVENTS.items()}


class SignalIn(BaseModel):
    """One anonymous event. Values come from the closed lists of catalogue.py; any other
    field (a chat id, a name, a text) is refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_closed_lists)

    month: Month
    pseudonym: Pseudonym
    event: Slug
    value: Slug | None = None
    language: LanguageTag | None = None
    province: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    campaign: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    # Which channel the person wrote on: Telegram or our web chat. None = telegram (a bot
    # from before the web chat sends none).
    channel: Literal["telegram", "web"] | None = None


class SignalBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[SignalIn], Field(min_length=1, max_length=MAX_BATCH)]


class SignalsRecorded(BaseModel):
    recorded: int
    rejected: int


class SignalForget(BaseModel):
    pseudonyms: Annotated[list[Pseudonym], Field(max_length=24)]


class SignalsForgotten(BaseModel):
    deleted_events: int


class SignalRef(BaseModel):
    """The person's pseudonym of the month, sent with a booking so that the referral's later
    status changes count in the same journey (stored encrypted with the referral)."""

    month: Month
    pseudonym: Pseudonym
