"""Typed client of referral_api (docs/referral-api.md). The bot keeps no personal data: it
sends what the person chose to share, with a service token, and shows what comes back.

In production the client talks HTTP to REFERRAL_API_URL; in the demo and in tests it talks to
the same FastAPI app in-process through httpx.ASGITransport: the same code path, no socket.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

TOPICS = ("information", "apply", "travel_documents", "reintegration", "medical", "family",
          "other")


class ApiUnavailable(Exception):
    """The API did not answer, or answered 5xx: the person should try again later."""


class ApiRefused(Exception):
    """The API said no (4xx) with a code such as slot_taken, invalid_phone, outside_belgium."""

    def __init__(self, status: int, code: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail or {}


class PartnerPublic(BaseModel):
    id: str
    name: str
    kind: str
    city: str
    postal_code: str | None = None
    address: str | None = None
    phone: str | None = None
    hours: str | None = None
    languages: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    distance_km: float | None = None


class Origin(BaseModel):
    label: str | None = None
    province: str | None = None


class Nearest(BaseModel):
    origin: Origin = Field(default_factory=Origin)
    partners: list[PartnerPublic]


class City(BaseModel):
    city: str
    postal_code: str | None = None
    count: int = 0


class ReferralPublic(BaseModel):
    reference: str
    partner_id: str
    partner_name: str
    status: str
    contact_mode: str
    slot_start: datetime | None = None
    language: str
    interpreter: bool = False
    topic: str
    created_at: datetime | None = None


class ReferralsClient:
    def __init__(self, http: httpx.AsyncClient, service_token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {service_token}"}

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
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
        return response.json() if response.content else None

    # --- directory -------------------------------------------------------------------
    async def nearest(self, *, lat: float | None = None, lon: float | None = None,
                      postcode: str | None = None, city: str | None = None,
                      service: str | None = None, language: str | None = None,
                      limit: int = 5) -> Nearest:
        params = {k: v for k, v in {"lat": lat, "lon": lon, "postcode": postcode, "city": city,
                                    "service": service, "language": language,
                                    "limit": limit}.items() if v is not None}
        return Nearest.model_validate(await self._call("GET", "/v1/partners/nearest",
                                                       params=params))

    async def cities(self) -> list[City]:
        return [City.model_validate(c) for c in await self._call("GET", "/v1/partners/cities")]

    async def partner(self, partner_id: str) -> PartnerPublic:
        return PartnerPublic.model_validate(await self._call("GET",
                                                             f"/v1/partners/{partner_id}"))

    async def slots(self, partner_id: str, days: int = 14) -> list[datetime]:
        data = await self._call("GET", f"/v1/partners/{partner_id}/slots",
                                params={"days": days})
        return [datetime.fromisoformat(s) for s in data["slots"]]

    # --- referrals -------------------------------------------------------------------
    async def create_referral(self, body: dict[str, Any]) -> ReferralPublic:
        return ReferralPublic.model_validate(await self._call("POST", "/v1/referrals",
                                                              json=body))

    async def mine(self, chat_id: int) -> list[ReferralPublic]:
        data = await self._call("POST", "/v1/referrals/mine", json={"chat_id": chat_id})
        return [ReferralPublic.model_validate(r) for r in data]

    async def cancel(self, reference: str, chat_id: int) -> ReferralPublic:
        return ReferralPublic.model_validate(await self._call(
            "POST", f"/v1/referrals/{reference}/cancel", json={"chat_id": chat_id}))

    async def reschedule(self, reference: str, chat_id: int, slot: datetime) -> ReferralPublic:
        return ReferralPublic.model_validate(await self._call(
            "POST", f"/v1/referrals/{reference}/reschedule",
            json={"chat_id": chat_id, "slot_start": slot.isoformat()}))

    async def set_status(self, reference: str, counsellor_id: int, status: str) -> ReferralPublic:
        return ReferralPublic.model_validate(await self._call(
            "POST", f"/v1/referrals/{reference}/status",
            json={"counsellor_telegram_id": counsellor_id, "status": status}))

    async def relay_to_partner(self, reference: str, chat_id: int, text: str) -> None:
        await self._call("POST", "/v1/relay/to-partner",
                         json={"chat_id": chat_id, "reference": reference, "text": text})

    async def relay_to_person(self, reference: str, counsellor_id: int, text: str) -> None:
        await self._call("POST", "/v1/relay/to-person", json={
            "counsellor_telegram_id": counsellor_id, "reference": reference, "text": text})

    # --- follow-up after return -------------------------------------------------------
    async def followup_answers(self, token: str, version: int, answers: dict[str, str]) -> str:
        """Post a completed questionnaire for the wave of `token`: "saved" or
        "already_saved". ApiRefused 409 `followup_stopped`, 404 for an unknown token."""
        data = await self._call("POST", "/v1/followup/answers", json={
            "token": token, "questionnaire_version": version, "answers": answers})
        return str(data.get("status", "saved"))

    async def followup_stop(self, *, chat_id: int | None = None,
                            token: str | None = None) -> int:
        body: dict[str, Any] = {"chat_id": chat_id} if chat_id is not None else {"token": token}
        data = await self._call("POST", "/v1/followup/stop", json=body)
        return int(data.get("stopped", 0))

    async def followup_wave(self, token: str) -> dict[str, Any]:
        """The state of the wave of `token`: {"status": "open"|"closed", "background": bool}.
        ApiRefused 404 for an unknown token."""
        data = await self._call("GET", f"/v1/followup/waves/{token}")
        return dict(data or {})

    # --- signals and campaigns (docs/signals.md) ------------------------------------------
    async def record_signals(self, events: list[dict[str, Any]]) -> None:
        """A batch of anonymous events (the signal buffer calls this in the background)."""
        await self._call("POST", "/v1/signals", json={"events": events})

    async def forget_signals(self, pseudonyms: list[str]) -> int:
        data = await self._call("POST", "/v1/signals/forget", json={"pseudonyms": pseudonyms})
        return int(data.get("deleted_events", 0))

    async def campaign(self, code: str) -> str | None:
        """The stored code of an active campaign (codes are case-insensitive), or None."""
        try:
            data = await self._call("GET", f"/v1/campaigns/{code}")
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise
        return str(data["code"])

    async def forget(self, chat_id: int) -> int:
        data = await self._call("POST", "/v1/forget", json={"chat_id": chat_id})
        return int(data.get("deleted_referrals", 0))
