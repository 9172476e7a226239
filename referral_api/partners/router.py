"""Partner routes: `/v1/partners/…` for the bot (service token), `/v1/admin/partners/…` (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from referral_api.dependencies import AdminDep, ContextDep, SessionDep, require_service
from referral_api.partners.schemas import (
    AvailabilityWindow,
    CityPartners,
    CounsellorCreate,
    CounsellorPublic,
    NearestPartners,
    PartnerAdmin,
    PartnerCreate,
    PartnerPublic,
    PartnerUpdate,
    Service,
    SlotList,
)
from referral_api.partners.service import PartnerService


def partner_service(session: SessionDep, context: ContextDep) -> PartnerService:
    return PartnerService(session, context.settings, context.clock, context.vault)


ServiceDep = Annotated[PartnerService, Depends(partner_service)]


def create_router() -> APIRouter:
    router = APIRouter()
    router.include_router(_service_router())
    router.include_router(_admin_router())
    return router


def _service_router() -> APIRouter:
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


def _admin_router() -> APIRouter:
    router = APIRouter(prefix="/v1/admin/partners", tags=["admin"])

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create_partner(body: PartnerCreate, service_: ServiceDep,
                             _admin: AdminDep) -> PartnerAdmin:
        return await service_.create(body)

    @router.put("/{partner_id}")
    async def update_partner(partner_id: str, body: PartnerUpdate, service_: ServiceDep,
                             _admin: AdminDep) -> PartnerAdmin:
        return await service_.update(partner_id, body)

    @router.delete("/{partner_id}")
    async def deactivate_partner(partner_id: str, service_: ServiceDep,
                                 _admin: AdminDep) -> PartnerAdmin:
        return await service_.deactivate(partner_id)

    @router.post("/{partner_id}/counsellors", status_code=status.HTTP_201_CREATED)
    async def add_counsellor(partner_id: str, body: CounsellorCreate, response: Response,
                             service_: ServiceDep, _admin: AdminDep) -> CounsellorPublic:
        counsellor, created = await service_.add_counsellor(partner_id, body.telegram_user_id)
        if not created:
            response.status_code = status.HTTP_200_OK
        return counsellor

    @router.delete("/{partner_id}/counsellors/{telegram_user_id}",
                   status_code=status.HTTP_204_NO_CONTENT)
    async def remove_counsellor(partner_id: str, telegram_user_id: int, service_: ServiceDep,
                                _admin: AdminDep) -> None:
        await service_.remove_counsellor(partner_id, telegram_user_id)

    @router.put("/{partner_id}/availability")
    async def set_availability(partner_id: str, body: list[AvailabilityWindow],
                               service_: ServiceDep,
                               _admin: AdminDep) -> list[AvailabilityWindow]:
        return await service_.set_availability(partner_id, body)

    return router
