"""Referral schemas: ReferralCreate, ReferralPublic, ReferralStatusUpdate and the bodies of the
person's and counsellors' requests. Chat ids and phones travel in bodies, never in URLs.

The closed lists below (`ContactMode`, `Topic`, `CounsellorStatus`) are the contract: the bot
imports these models to build its requests (bot/api_client.py) and tests/contract checks the
flows' choice ids against the OpenAPI enums made from them. This module imports pydantic and
other schema modules only, never the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from referral_api.partners.schemas import LanguageCode
from referral_api.schemas import ChatId, Lines, OneLine
from referral_api.signals.schemas import SignalRef

ContactMode = Literal["telegram", "phone", "visit"]
Topic = Literal["information", "apply", "travel_documents", "reintegration", "medical", "family",
                "other"]
CounsellorStatus = Literal["accepted", "contacted", "unreachable", "closed"]
TelegramUserId = Annotated[int, Field(strict=True, gt=0, le=10**15)]
# Referral flags are an open set of ids (the screening's flags, bot/screening.py, are checked
# against this pattern by tests/contract); the closed list of *signalled* screening flags is
# signals/catalogue.py SCREENING_FLAGS.
FlagId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
ReferenceText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=16), OneLine]
# 4,000: with its heading, a relayed message still fits Telegram's 4,096 characters. Longer
# text is refused with words by the bot and the partner group, never cut.
RELAY_MAX = 4000
RelayText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=RELAY_MAX), Lines]


class ReferralCreate(BaseModel):
    partner_id: Annotated[str, StringConstraints(max_length=64), OneLine]
    contact_mode: ContactMode
    slot_start: AwareDatetime | None = None  # visits only: one of GET …/slots
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40),
                     OneLine] | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100),
                    OneLine] | None = None
    language: LanguageCode
    interpreter: bool = False
    topic: Topic
    flags: list[FlagId] = Field(default_factory=list, max_length=20)
    chat_id: ChatId
    consent_version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                      max_length=32), OneLine]
    # The separate, optional question "May we send you a few questions after your return?"
    followup_consent: bool = False
    signal: SignalRef | None = None  # the anonymous journey this booking belongs to



class ReferralPublic(BaseModel):
    reference: str  # XXXX-XXXX
    partner_id: str
    partner_name: str
    status: str
    contact_mode: str
    slot_start: datetime | None  # Europe/Brussels offset
    language: str
    interpreter: bool
    topic: str
    created_at: datetime
    # A counsellor's status change from the group: what to tell them ("ABCD-2345: Accepted"),
    # in the partner's staff language. Null otherwise.
    confirmation: str | None = None
    # A phone contact: the number given, partly masked ("+32 4•• •• •• 56"), for the person.
    phone_hint: str | None = None


class PersonRequest(BaseModel):
    chat_id: ChatId


class RescheduleRequest(BaseModel):
    chat_id: ChatId
    slot_start: AwareDatetime


class PhoneChange(BaseModel):
    """The person gives another phone number for a phone contact."""

    chat_id: ChatId
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class ReferralStatusUpdate(BaseModel):
    counsellor_telegram_id: TelegramUserId
    status: CounsellorStatus


class RelayToPartner(BaseModel):
    chat_id: ChatId
    reference: ReferenceText
    text: RelayText


class RelayToPerson(BaseModel):
    counsellor_telegram_id: TelegramUserId
    reference: ReferenceText
    text: RelayText


class RelayQueued(BaseModel):
    status: Literal["queued"] = "queued"


class ForgetResult(BaseModel):
    deleted_referrals: int
    deleted_followups: int = 0
