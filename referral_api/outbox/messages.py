"""What an outbox row carries: one typed format for the code that queues and the code that
delivers (pydantic only: the bot's renderer, ``bot.notices``, imports it too).

Two families, told apart by the stored JSON alone (a person notice has a ``key``):

- **Person notices** (``PersonNotice``, one model per ``key``): ids and values only, never a
  text for the person (except the counsellor's own words in a relay). The worker renders them
  in the person's language with ``bot.notices``. The API queues them; nothing here translates.
- **Staff messages** (``StaffMessage``): partner cards, card updates, a person's message to a
  partner's group, coordinators' alerts — written in full by the API in the staff language
  (``referrals.cards``) and sent as they are.

The stored JSON is the same as before these models existed (``payload()`` writes it,
``read_payload`` reads it back): rows already queued keep parsing. A row that fits neither is
refused with ``ValueError`` (pydantic's ``ValidationError`` is one), which the worker records
as ``invalid``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer

Buttons = list[list[dict[str, str]]]  # rows of {"text", "callback_data"}

# The referral statuses a person hears about (`referrals.schemas.CounsellorStatus` and the
# staff app's "returned"; tests/contract checks the two lists agree). "returned" has no text
# for the person: the notice is queued, and recorded as `no_text` by the worker.
NoticeStatus = Literal["accepted", "contacted", "unreachable", "closed", "returned"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def payload(self) -> dict[str, Any]:
        """The JSON object stored (encrypted) in `outbox.payload_enc`."""
        return self.model_dump(mode="json")


class StatusNotice(_Payload):
    """The counsellor changed the referral's status (person_notice)."""

    key: NoticeStatus
    reference: str  # formatted, with the dash
    partner_name: str
    locale: str  # the person's language


class ReminderNotice(_Payload):
    """The day before a visit (reminder)."""

    key: Literal["reminder"] = "reminder"
    reference: str
    partner_name: str
    slot_start: datetime  # aware, Brussels time
    address: str | None
    locale: str
    lat: float | None = None  # the place, for a map link (older rows have none)
    lon: float | None = None

    @field_serializer("slot_start")
    def _iso(self, value: datetime) -> str:
        return value.isoformat()


class RelayNotice(_Payload):
    """A counsellor's message to the person (relay)."""

    key: Literal["relay"] = "relay"
    reference: str
    partner_name: str
    text: str  # the counsellor's words, as written (escaped when rendered)
    locale: str


class FollowupWaveNotice(_Payload):
    """A follow-up questionnaire is open (followup_wave): its first message or a reminder."""

    key: Literal["followup_wave"] = "followup_wave"
    token: str  # the wave's opaque token (the buttons carry it, never a chat id)
    wave: int
    reminder: bool
    locale: str


PersonNotice = Annotated[StatusNotice | ReminderNotice | RelayNotice | FollowupWaveNotice,
                         Field(discriminator="key")]


class StaffMessage(_Payload):
    """A message written in full for staff (partner group, coordinators): sent as it is."""

    text: str
    parse_mode: str | None = None
    buttons: Buttons | None = None
    reference: str | None = None  # formatted; what the staff message is about
    status: str | None = None  # the referral's status on a card ("withdrawn" after /forget)
    # A card update that must edit this Telegram message (the card of a referral deleted or
    # purged since: its rows are gone, so the message id travels here). Without it, a card
    # update edits the referral's card the worker finds in the outbox, or is sent as new.
    edit_message_id: int | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


OutboxPayload = StatusNotice | ReminderNotice | RelayNotice | FollowupWaveNotice | StaffMessage

_NOTICE: TypeAdapter[StatusNotice | ReminderNotice | RelayNotice | FollowupWaveNotice] = (
    TypeAdapter(PersonNotice))


def read_payload(data: dict[str, Any]) -> OutboxPayload:
    """A stored payload as its model. Raises ValueError when it is neither kind."""
    if "key" in data:
        return _NOTICE.validate_python(data)
    return StaffMessage.model_validate(data)


def is_person_notice(payload: OutboxPayload) -> bool:
    return not isinstance(payload, StaffMessage)
