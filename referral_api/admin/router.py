"""The admin API of partners (`/v1/admin/partners/…`, ADMIN_TOKEN): create, change (a new
Telegram group releases the partner's held referral cards), deactivate, counsellors, weekly
windows."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from referral_api.admin.service import held_cards_release
from referral_api.dependencies import AdminDep, ContextDep, SessionDep
from referral_api.partners.router import ServiceDep
from referral_api.partners.schemas import (
    AvailabilityWindow,
    CounsellorCreate,
    CounsellorPublic,
    PartnerAdmin,
    PartnerCreate,
    PartnerUpdate,
)


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1/admin/partners", tags=["admin"])

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create_partner(body: PartnerCreate, service_: ServiceDep,
                             _admin: AdminDep) -> PartnerAdmin:
        return await service_.create(body)

    @router.put("/{partner_id}")
    async def update_partner(partner_id: str, body: PartnerUpdate, service_: ServiceDep,
                             session: SessionDep, context: ContextDep,
                             _admin: AdminDep) -> PartnerAdmin:
        return await service_.update(partner_id, body, held_cards_release(
            session, context.settings, context.clock, context.vault))

    @router.delete("/{partner_id}")
    async def deactivate_partner(partner_id: str, service_: ServiceDep,
                                 _admin: AdminDep) -> PartnerAdmin:
        return await service_.deactivate(partner_id)

    @router.post("/{partner_id}/counsellors", status_code=status.HTTP_201_CREATED,
                 responses={200: {"model": CounsellorPublic,
                                  "description": "Already a counsellor of this partner"}})
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
