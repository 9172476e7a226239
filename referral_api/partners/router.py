"""Partner routes for the bot (service token): `/v1/partners/…`. The admin API
(`/v1/admin/partners/…`) is partner administration's: admin/router.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from referral_api.dependencies import ContextDep, SessionDep, require_service
from referral_api.partners.schemas import (
    CityPartners,
    NearestPartners,
    PartnerPublic,
    Service,
    SlotList,
)
from referral_api.partners.service import PartnerService


def partner_service(session: SessionDep, context: ContextDep) -> PartnerService:
    return PartnerService(session, context.settings, context.clock)


ServiceDep = Annotated[PartnerService, Depends(partner_service)]


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1/partners", tags=["partners"],
                       dependencies=[Depends(require_service)])

    @router.get("/nearest")
    async def nearest(
        service_: ServiceDep,
        lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
        postcode: Annotated[str | None, Query(max_length=12)] = None,
        city: Annotated[str | None, Query(max_length=100)] = None,
        service: Service | None = None,
        language: Annotated[str | None, Query(max_length=16,
                                              pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
        = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> NearestPartners:
        return await service_.nearest(lat=lat, lon=lon, postcode=postcode, city=city,
                                      service=service, language=language, limit=limit)

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
