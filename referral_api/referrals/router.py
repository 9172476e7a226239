"""Referral routes for the bot (service token): booking, the person's requests, counsellors'
status changes, relay and forget. Chat ids and phones travel in bodies only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from referral_api.dependencies import AppContext, ContextDep, SessionDep, require_service
from referral_api.errors import TooMany
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
from referral_api.referrals.service import ReferralService
from referral_api.web.ratelimit import Budget, limiter_key


def referral_service(session: SessionDep, context: ContextDep) -> ReferralService:
    return ReferralService(session, context.vault, context.settings, context.clock)


ServiceDep = Annotated[ReferralService, Depends(referral_service)]


async def counsellor_pace(context: AppContext, telegram_user_id: int) -> None:
    """A counsellor's actions from the group (status buttons, replies) are counted: past
    COUNSELLOR_ACTIONS in 15 minutes each further one waits an increasing delay (429), so that
    references cannot be probed by the hundred (one answer for unknown and foreign ones
    already tells nothing)."""
    budget = Budget(limiter_key("counsellor", str(telegram_user_id)),
                    context.settings.counsellor_actions, 15 * 60)
    if await context.login_limiter.attempt([budget]) is not None:
        raise TooMany("too_many_requests")


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["referrals"], dependencies=[Depends(require_service)])

    @router.post("/referrals", status_code=status.HTTP_201_CREATED)
    async def create_referral(body: ReferralCreate, service: ServiceDep) -> ReferralPublic:
        return await service.create(body)

    @router.post("/referrals/mine")
    async def my_referrals(body: PersonRequest, service: ServiceDep) -> list[ReferralPublic]:
        return await service.mine(body.chat_id)

    @router.post("/referrals/{reference}/cancel")
    async def cancel(reference: str, body: PersonRequest, service: ServiceDep) -> ReferralPublic:
        return await service.cancel(reference, body.chat_id)

    @router.post("/referrals/{reference}/phone")
    async def change_phone(reference: str, body: PhoneChange,
                           service: ServiceDep) -> ReferralPublic:
        return await service.change_phone(reference, body.chat_id, body.phone)

    @router.post("/referrals/{reference}/reschedule")
    async def reschedule(reference: str, body: RescheduleRequest,
                         service: ServiceDep) -> ReferralPublic:
        return await service.reschedule(reference, body.chat_id, body.slot_start)

    @router.post("/referrals/{reference}/status")
    async def set_status(reference: str, body: ReferralStatusUpdate,
                         service: ServiceDep, context: ContextDep) -> ReferralPublic:
        await counsellor_pace(context, body.counsellor_telegram_id)
        return await service.set_status(reference, body.counsellor_telegram_id, body.status)

    @router.post("/relay/to-partner", status_code=status.HTTP_202_ACCEPTED)
    async def relay_to_partner(body: RelayToPartner, service: ServiceDep) -> RelayQueued:
        await service.relay_to_partner(body.chat_id, body.reference, body.text)
        return RelayQueued()

    @router.post("/relay/to-person", status_code=status.HTTP_202_ACCEPTED)
    async def relay_to_person(body: RelayToPerson, service: ServiceDep,
                              context: ContextDep) -> RelayQueued:
        await counsellor_pace(context, body.counsellor_telegram_id)
        await service.relay_to_person(body.counsellor_telegram_id, body.reference, body.text)
        return RelayQueued()

    @router.post("/forget")
    async def forget(body: PersonRequest, service: ServiceDep) -> ForgetResult:
        referrals, followups = await service.forget(body.chat_id)
        return ForgetResult(deleted_referrals=referrals, deleted_followups=followups)

    return router
