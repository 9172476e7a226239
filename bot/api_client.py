"""Typed client of referral_api (docs/referral-api.md). The bot keeps no personal data: it
sends what the person chose to share, with a service token, and shows what comes back.

In production the client talks HTTP to REFERRAL_API_URL; in the demo and in tests it talks to
the same FastAPI app in-process through httpx.ASGITransport: the same code path, no socket.

The request and response models are the API's own (`referral_api.*.schemas`: pydantic only,
no database), so the closed lists (topics, contact modes, statuses, …) have one source. A body
is validated before it is sent: what the API would refuse with 422 raises ApiRefused(422,
"refused") here too, without a round trip. A response that does not fit its model is the API's
fault, like a 5xx: ApiUnavailable. tests/contract checks the flows against the API's OpenAPI.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from referral_api.campaigns.schemas import CampaignPublic
from referral_api.followup.schemas import (
    FollowupAnswers,
    FollowupSaved,
    FollowupStop,
    FollowupStopped,
    FollowupWaveState,
)
from referral_api.partners.schemas import (
    SLUG_PATTERN,
    CityPartners,
    NearestPartners,
    Origin,
    PartnerNearby,
    PartnerPublic,
    SlotList,
)
from referral_api.referrals.schemas import (
    ForgetResult,
    PersonRequest,
    PhoneChange,
    ReferralCreate,
    ReferralPublic,
    ReferralStatusUpdate,
    RelayQueued,
    RelayToPartner,
    RelayToPerson,
    RescheduleRequest,
)
from referral_api.signals.schemas import (
    SignalBatch,
    SignalForget,
    SignalsForgotten,
    SignalsRecorded,
)
from referral_api.translations.schemas import (
    LOCALE_PATTERN,
    SCREEN_PATTERN,
    FileId,
    VoiceInfo,
    VoiceList,
)

__all__ = [
    "ApiRefused",
    "ApiUnavailable",
    "CityPartners",
    "FollowupWaveState",
    "NearestPartners",
    "Origin",
    "PartnerNearby",
    "PartnerPublic",
    "ReferralCreate",
    "ReferralPublic",
    "ReferralsClient",
    "checked",
]

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO, query string included: a person's location
# (`/v1/partners/nearest?lat=…&lon=…`) would reach the logs. Its warnings and errors stay.
logging.getLogger("httpx").setLevel(logging.WARNING)

M = TypeVar("M", bound=BaseModel)


class ApiUnavailable(Exception):
    """The API did not answer, or answered 5xx: the person should try again later."""


class ApiRefused(Exception):
    """The API said no (4xx) with a code such as slot_taken, invalid_phone, outside_belgium."""

    def __init__(self, status: int, code: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail or {}


# What each kind of path segment may be (issue 17, item 6): callback data and typed text are
# the person's input, and a reference like "../forget?" once reached another route. A value
# that does not match is refused here, as the API would refuse an unknown one (404), before
# any request; one that matches is escaped all the same.
SEGMENTS = {
    "partner": re.compile(SLUG_PATTERN),  # the API's own partner id pattern
    "reference": re.compile(r"[A-Za-z2-9]{4}-?[A-Za-z2-9]{4}"),
    "token": re.compile(r"[A-Za-z0-9_-]{8,128}"),
    "code": re.compile(r"[A-Za-z0-9_-]{1,64}"),  # a deep link's start parameter
    "locale": re.compile(LOCALE_PATTERN),  # a catalogue: "ar", "fa_AF"
    "screen": re.compile(SCREEN_PATTERN),  # a flow node: "menu.welcome"
}


def api_path(template: str, **segments: str) -> str:
    """`api_path("/v1/referrals/{reference}/cancel", reference=ref)`: every segment checked
    against its kind (SEGMENTS, by the placeholder's name) and percent-escaped."""
    for kind, value in segments.items():
        if not isinstance(value, str) or SEGMENTS[kind].fullmatch(value) is None \
                or len(value) > 128:
            raise ApiRefused(404, "not_found")
    return template.format(**{kind: quote(value, safe="") for kind, value in segments.items()})


def checked(model: type[M], /, **fields: Any) -> M:
    """A request body, validated as the API validates it. Raises ApiRefused(422, "refused"),
    as the API would answer (its 422 detail is a list, hence no code). The errors are kept
    without the input values, which may be personal (a phone number)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise ApiRefused(422, "refused", {"errors": errors}) from exc


def _parsed(model: type[M], data: Any) -> M:
    """The API's answer as its response model. Logged without the body or the URL (a token
    or a reference may be in it)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        log.warning("referral API answered an unexpected %s (%d error(s))", model.__name__,
                    exc.error_count())
        raise ApiUnavailable("invalid_response") from exc


def _parsed_list(model: type[M], data: Any) -> list[M]:
    if not isinstance(data, list):
        log.warning("referral API answered an unexpected list of %s", model.__name__)
        raise ApiUnavailable("invalid_response")
    return [_parsed(model, item) for item in data]


class ReferralsClient:
    """The bot's client of the referral API. Always present: without REFERRAL_API_URL it is
    :meth:`unconfigured` and every call raises ApiUnavailable, which every caller already
    handles (no ``ReferralsClient | None`` anywhere)."""

    def __init__(self, http: httpx.AsyncClient | None, service_token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {service_token}"}

    @classmethod
    def unconfigured(cls) -> ReferralsClient:
        return cls(None, "")

    @property
    def configured(self) -> bool:
        return self.http is not None

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._response(method, path, **kwargs)
        return response.json() if response.content else None

    async def _response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The API's answer, a success; raises ApiUnavailable or ApiRefused otherwise."""
        if self.http is None:
            raise ApiUnavailable("not_configured")
        try:
            response = await self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("referral API unreachable: %s", type(exc).__name__)
            raise ApiUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500:
            log.warning("referral API answered %s", response.status_code)
            raise ApiUnavailable(str(response.status_code))
        if response.status_code >= 400:
            detail: Any = None
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = None
            if isinstance(detail, dict):
                raise ApiRefused(response.status_code, str(detail.get("code", "refused")), detail)
            raise ApiRefused(response.status_code, "refused")
        return response

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._call("GET", path, params=params or None)

    async def _post(self, path: str, body: BaseModel) -> Any:
        return await self._call("POST", path,
                                json=body.model_dump(mode="json", exclude_none=True))

    # --- directory -------------------------------------------------------------------
    async def nearest(self, *, lat: float | None = None, lon: float | None = None,
                      postcode: str | None = None, city: str | None = None,
                      service: str | None = None, language: str | None = None,
                      limit: int = 5) -> NearestPartners:
        params = {k: v for k, v in {"lat": lat, "lon": lon, "postcode": postcode, "city": city,
                                    "service": service, "language": language,
                                    "limit": limit}.items() if v is not None}
        # POST: a shared location never travels in a URL (URLs reach proxies' logs)
        return _parsed(NearestPartners, await self._call("POST", "/v1/partners/nearest",
                                                         json=params))

    async def cities(self) -> list[CityPartners]:
        return _parsed_list(CityPartners, await self._get("/v1/partners/cities"))

    async def partner(self, partner_id: str) -> PartnerPublic:
        path = api_path("/v1/partners/{partner}", partner=partner_id)
        return _parsed(PartnerPublic, await self._get(path))

    async def slots(self, partner_id: str, days: int = 14) -> list[datetime]:
        path = api_path("/v1/partners/{partner}/slots", partner=partner_id)
        data = await self._get(path, days=days)
        return _parsed(SlotList, data).slots

    # --- referrals -------------------------------------------------------------------
    async def create_referral(self, body: ReferralCreate) -> ReferralPublic:
        """Build `body` with `checked(ReferralCreate, ...)`."""
        return _parsed(ReferralPublic, await self._post("/v1/referrals", body))

    async def mine(self, chat_id: int) -> list[ReferralPublic]:
        data = await self._post("/v1/referrals/mine", checked(PersonRequest, chat_id=chat_id))
        return _parsed_list(ReferralPublic, data)

    async def cancel(self, reference: str, chat_id: int) -> ReferralPublic:
        data = await self._post(api_path("/v1/referrals/{reference}/cancel", reference=reference),
                                checked(PersonRequest, chat_id=chat_id))
        return _parsed(ReferralPublic, data)

    async def reschedule(self, reference: str, chat_id: int, slot: datetime) -> ReferralPublic:
        path = api_path("/v1/referrals/{reference}/reschedule", reference=reference)
        data = await self._post(path, checked(RescheduleRequest, chat_id=chat_id,
                                              slot_start=slot))
        return _parsed(ReferralPublic, data)

    async def change_phone(self, reference: str, chat_id: int, phone: str) -> ReferralPublic:
        data = await self._post(api_path("/v1/referrals/{reference}/phone", reference=reference),
                                checked(PhoneChange, chat_id=chat_id, phone=phone))
        return _parsed(ReferralPublic, data)

    async def set_status(self, reference: str, counsellor_id: int, status: str) -> ReferralPublic:
        data = await self._post(api_path("/v1/referrals/{reference}/status", reference=reference),
                                checked(ReferralStatusUpdate,
                                        counsellor_telegram_id=counsellor_id, status=status))
        return _parsed(ReferralPublic, data)

    async def relay_to_partner(self, reference: str, chat_id: int, text: str) -> None:
        data = await self._post("/v1/relay/to-partner",
                                checked(RelayToPartner, chat_id=chat_id, reference=reference,
                                        text=text))
        _parsed(RelayQueued, data)

    async def relay_to_person(self, reference: str, counsellor_id: int, text: str) -> None:
        data = await self._post("/v1/relay/to-person",
                                checked(RelayToPerson, counsellor_telegram_id=counsellor_id,
                                        reference=reference, text=text))
        _parsed(RelayQueued, data)

    # --- follow-up after return -------------------------------------------------------
    async def followup_answers(self, token: str, version: int, answers: dict[str, str]) -> str:
        """Post a completed questionnaire for the wave of `token`: "saved" or
        "already_saved". ApiRefused 409 `followup_stopped`, 404 for an unknown token."""
        data = await self._post("/v1/followup/answers",
                                checked(FollowupAnswers, token=token,
                                        questionnaire_version=version, answers=answers))
        return _parsed(FollowupSaved, data).status

    async def followup_stop(self, *, chat_id: int | None = None,
                            token: str | None = None) -> int:
        body = (checked(FollowupStop, chat_id=chat_id) if chat_id is not None
                else checked(FollowupStop, token=token))
        return _parsed(FollowupStopped, await self._post("/v1/followup/stop", body)).stopped

    async def followup_wave(self, token: str) -> FollowupWaveState:
        """The state of the wave of `token`: open or closed, and whether the background
        questions (info source, reasons) are still to be asked. ApiRefused 404 for an
        unknown token."""
        path = api_path("/v1/followup/waves/{token}", token=token)
        return _parsed(FollowupWaveState, await self._get(path))

    # --- signals and campaigns (docs/signals.md) ------------------------------------------
    async def record_signals(self, events: Sequence[Mapping[str, Any]]) -> None:
        """A batch of anonymous events (the signal buffer calls this in the background)."""
        data = await self._post("/v1/signals", checked(SignalBatch, events=events))
        _parsed(SignalsRecorded, data)

    async def forget_signals(self, pseudonyms: list[str]) -> int:
        data = await self._post("/v1/signals/forget",
                                checked(SignalForget, pseudonyms=pseudonyms))
        return _parsed(SignalsForgotten, data).deleted_events

    async def campaign(self, code: str) -> str | None:
        """The stored code of an active campaign (codes are case-insensitive), or None."""
        try:
            data = await self._get(api_path("/v1/campaigns/{code}", code=code))
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise
        return _parsed(CampaignPublic, data).code

    # --- recorded voice (issue 18) ---------------------------------------------------------
    async def voices(self) -> set[tuple[str, str]]:
        """(language, screen) of every recording."""
        data = _parsed(VoiceList, await self._get("/v1/voice"))
        return {(r.locale, r.screen) for r in data.recordings}

    async def voice(self, locale: str, screen: str) -> VoiceInfo:
        return _parsed(VoiceInfo, await self._get(api_path(
            "/v1/voice/{locale}/{screen}", locale=locale, screen=screen)))

    async def voice_audio(self, locale: str, screen: str) -> bytes:
        path = api_path("/v1/voice/{locale}/{screen}/audio", locale=locale, screen=screen)
        return (await self._response("GET", path)).content

    async def remember_voice(self, locale: str, screen: str, file_id: str,
                             recorded_at: datetime) -> None:
        path = api_path("/v1/voice/{locale}/{screen}/file-id", locale=locale, screen=screen)
        body = checked(FileId, file_id=file_id, recorded_at=recorded_at)
        await self._call("PUT", path, json=body.model_dump(mode="json"))

    async def forget(self, chat_id: int) -> int:
        data = await self._post("/v1/forget", checked(PersonRequest, chat_id=chat_id))
        return _parsed(ForgetResult, data).deleted_referrals
