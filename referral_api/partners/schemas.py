"""Partner schemas: PartnerPublic (the bot), PartnerAdmin/PartnerCreate/PartnerUpdate (admin)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    model_validator,
)

from referral_api.schemas import Lines, OneLine

PartnerKind = Literal["return_desk", "city_partner", "ngo", "intl_org"]
Service = Literal["general", "medical", "families", "minors", "trafficking", "shelter"]
# A language as the bot names it: "ar", "fa", "pt_BR" (gettext) or "pt-BR" (BCP 47); kept as is.
LanguageCode = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=16,
                           pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
]
# At most 40: a partner id travels in a Telegram button's callback data (64 bytes in all;
# bot/booking/__init__.py PARTNER_ID_BYTES, checked by python -m bot.engine check).
SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
Slug = Annotated[str, StringConstraints(max_length=40, pattern=rf"^{SLUG_PATTERN}$")]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{4}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 OneLine]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 OneLine]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), OneLine]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), Lines]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), OneLine]


Access = Literal["walk_in", "appointment", "both"]
DayPart = Literal["morning", "afternoon", "day"]
# A per-language note: only what the structure cannot say (the bot shows it in that language
# only, never in another one).
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
                 OneLine]
AsOf = Annotated[str, StringConstraints(strip_whitespace=True,
                                        pattern=r"^(19|20)\d\d(-(0[1-9]|1[0-2]))?$")]


class OpeningWindow(BaseModel):
    """When a place is open, one weekday: walk-in or by appointment, a part of the day
    ("Monday morning", when that is all a source says) or from `start` to `end`."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["walk_in", "appointment"]
    day: int = Field(ge=0, le=6)  # 0 = Monday
    part: DayPart | None = None
    start: time | None = None
    end: time | None = None

    @model_validator(mode="after")
    def _part_or_times(self) -> OpeningWindow:
        if self.part is None and (self.start is None or self.end is None):
            raise ValueError("give a part of the day, or a start and an end")
        if self.part is not None and (self.start is not None or self.end is not None):
            raise ValueError("give a part of the day or times, not both")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("end must be after start")
        return self

    @field_serializer("start", "end")
    def _hh_mm(self, value: time | None) -> str | None:
        """"09:00": stored in a JSON column as it is shown in the admin form."""
        return value.strftime("%H:%M") if value is not None else None


def _general_only() -> list[Service]:
    return ["general"]


class PartnerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    city: str
    postal_code: str
    province: str | None
    address: str | None
    lat: float
    lon: float
    phone: str | None
    access: Access | None = None
    opening: list[OpeningWindow] = Field(default_factory=list)
    opening_as_of: str | None = None
    interpreter: bool | None = None
    accessible: bool | None = None
    notes: dict[str, str] = Field(default_factory=dict)
    languages: list[str]
    services: list[str]
    verified: bool


class PartnerNearby(PartnerPublic):
    distance_km: float


class Origin(BaseModel):
    label: str
    province: str | None


class NearestQuery(BaseModel):
    """Where to search from: a point (the person's shared location), a postcode or a city.
    Sent in a POST body, never in a URL: URLs end up in proxies' and clients' logs."""

    model_config = ConfigDict(extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    postcode: Annotated[str, StringConstraints(max_length=12), OneLine] | None = None
    city: Annotated[str, StringConstraints(max_length=100), OneLine] | None = None
    service: Service | None = None
    language: LanguageCode | None = None
    limit: int = Field(default=5, ge=1, le=50)


class NearestPartners(BaseModel):
    origin: Origin
    partners: list[PartnerNearby]


class CityPartners(BaseModel):
    city: str
    postal_code: str
    count: int


class SlotList(BaseModel):
    slots: list[datetime]  # Europe/Brussels offsets


class PartnerAdmin(PartnerPublic):
    hours: str | None  # as published, for staff only
    notification_chat_id: int | None
    slot_minutes: int
    capacity_per_slot: int
    active: bool
    source: str | None
    created_at: datetime
    updated_at: datetime


class PartnerCreate(BaseModel):
    """Admin create, and one record of the seed file (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: Slug
    name: Name
    kind: PartnerKind
    city: City
    postal_code: PostalCode
    address: ShortText | None = None
    lat: float | None = None  # None: the centroid of the postcode
    lon: float | None = None
    phone: Phone | None = None
    hours: LongText | None = None
    access: Access | None = None
    opening: list[OpeningWindow] = Field(default_factory=list, max_length=28)
    opening_as_of: AsOf | None = None
    interpreter: bool | None = None
    accessible: bool | None = None
    notes: dict[LanguageCode, Note] = Field(default_factory=dict, max_length=40)

    @field_serializer("opening")
    def _whole_windows(self, value: list[OpeningWindow]) -> list[dict[str, Any]]:
        return [window.model_dump() for window in value]  # every key, as stored
    languages: list[LanguageCode] = Field(default_factory=list, max_length=40)
    services: list[Service] = Field(default_factory=_general_only, max_length=6)
    notification_chat_id: int | None = None
    slot_minutes: int = Field(default=30, ge=5, le=240)
    capacity_per_slot: int = Field(default=1, ge=1, le=50)
    active: bool = True
    source: LongText | None = None
    verified: bool = False

    @model_validator(mode="after")
    def _both_coordinates_or_none(self) -> PartnerCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class PartnerUpdate(BaseModel):
    """Admin update: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: PartnerKind | None = None
    city: City | None = None
    postal_code: PostalCode | None = None
    address: ShortText | None = None
    lat: float | None = None
    lon: float | None = None
    phone: Phone | None = None
    hours: LongText | None = None
    access: Access | None = None
    opening: list[OpeningWindow] | None = Field(default=None, max_length=28)
    opening_as_of: AsOf | None = None
    interpreter: bool | None = None
    accessible: bool | None = None
    notes: dict[LanguageCode, Note] | None = Field(default=None, max_length=40)

    @field_serializer("opening")
    def _whole_windows(self, value: list[OpeningWindow] | None) -> list[dict[str, Any]] | None:
        return None if value is None else [window.model_dump() for window in value]
    languages: list[LanguageCode] | None = Field(default=None, max_length=40)
    services: list[Service] | None = Field(default=None, max_length=6)
    notification_chat_id: int | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    capacity_per_slot: int | None = Field(default=None, ge=1, le=50)
    active: bool | None = None
    source: LongText | None = None
    verified: bool | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> PartnerUpdate:
        nullable = {"address", "phone", "hours", "notification_chat_id", "source", "access",
                    "opening_as_of", "interpreter", "accessible"}
        nulled = sorted(f for f in self.model_fields_set
                        if f not in nullable and getattr(self, f) is None)
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)}")
        if ("lat" in self.model_fields_set) != ("lon" in self.model_fields_set):
            raise ValueError("give both lat and lon, or neither")
        return self


class CounsellorCreate(BaseModel):
    telegram_user_id: int = Field(gt=0)


class CounsellorPublic(BaseModel):
    partner_id: str
    telegram_user_id: int


class AvailabilityWindow(BaseModel):
    weekday: int = Field(ge=0, le=6)  # 0 = Monday
    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self) -> AvailabilityWindow:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("times are local (Europe/Brussels), without an offset")
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class SeedResult(BaseModel):
    created: int
    updated: int
    unchanged: int
