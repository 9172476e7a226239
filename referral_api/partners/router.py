"""Partner routes for the bot (service token): `/v1/partners/…`. The admin API
(`/v1/admin/partners/…`) is partner administration's: admin/router.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from referral_api.dependencies import ContextDep, SessionDep, require_service
from referral_api.partners.schemas import (
    CityPartners,
    NearestPartners,
    NearestQuery,
    PartnerPublic,
    SlotList,
)
from referral_api.partners.service import PartnerService


def partner_service(session: SessionDep, context: ContextDep) -> PartnerService:
    return PartnerService(session, context.settings, context.clock)


ServiceDep = Annotated[PartnerService, Depends(partner_service)]


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1/partners", tags=["partners"],
                       dependencies=[Depends(require_service)])

    @router.post("/nearest")
    async def nearest(query: NearestQuery, service_: ServiceDep) -> NearestPartners:
        """A search, not a change: POST only so that the place searched from (a person's
        location) travels in the body and never in a URL."""
        return await service_.nearest(lat=query.lat, lon=query.lon, postcode=query.postcode,
                                      city=query.city, service=query.service,
                                      language=query.language, limit=query.limit)

    @router.get("/cities")
    async def cities(service_: ServiceDep) -> list[CityPartners]:
        return await service_.cities()

    @router.get("/{partner_id}")
    async def get_partner(partner_id: str, service_: ServiceDep) -> PartnerPublic:
        return await service_.public(partner_id)

    @router.get("/{partner_id}/slots")
    async def slots(partner_id: str, service_: ServiceDep,
                    days: Annotated[int, Query(ge=1, le=60)] = 14) -> SlotList:
        return await service_.slots(partner_id, days)

    return router
