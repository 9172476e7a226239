"""Follow-up routes for the bot (service token): a wave's state, completed questionnaires
and /stop (which also withdraws the consent the person gave with their referrals: the
`ConsentWithdrawal` the app's wiring gives, referrals.service.withdraw_followup_consent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from referral_api.dependencies import AdminDep, ContextDep, SessionDep, require_service
from referral_api.followup.schemas import (
    FollowupAnswers,
    FollowupSaved,
    FollowupStop,
    FollowupStopped,
    FollowupWaveNow,
    FollowupWaveQueued,
    FollowupWaveState,
    WaveToken,
)
from referral_api.followup.service import ConsentWithdrawal, FollowupService


def followup_service(session: SessionDep, context: ContextDep) -> FollowupService:
    return FollowupService(session, context.vault, context.settings, context.clock)


ServiceDep = Annotated[FollowupService, Depends(followup_service)]


def create_router(withdraw_consent: ConsentWithdrawal) -> APIRouter:
    router = APIRouter(prefix="/v1/followup", tags=["followup"])

    @router.post("/answers", status_code=status.HTTP_201_CREATED,
                 dependencies=[Depends(require_service)])
    async def answers(body: FollowupAnswers, service: ServiceDep,
                      response: Response) -> FollowupSaved:
        if await service.submit(body.token, body.questionnaire_version, body.answers):
            return FollowupSaved(status="saved")
        response.status_code = status.HTTP_200_OK
        return FollowupSaved(status="already_saved")

    @router.get("/waves/{token}", dependencies=[Depends(require_service)])
    async def wave(token: Annotated[WaveToken, Path()],
                   service: ServiceDep) -> FollowupWaveState:
        """The bot asks before it starts a wave's questions (the token is opaque)."""
        return FollowupWaveState.model_validate(await service.wave_state(token))

    @router.post("/stop", dependencies=[Depends(require_service)])
    async def stop(body: FollowupStop, service: ServiceDep) -> FollowupStopped:
        return FollowupStopped(stopped=await service.stop(withdraw_consent=withdraw_consent,
                                                          chat_id=body.chat_id,
                                                          token=body.token))

    @router.post("/send-next-wave")
    async def send_next_wave(body: FollowupWaveNow, service: ServiceDep,
                             _admin: AdminDep) -> FollowupWaveQueued:
        """Demo and support (admin token): queue the person's next wave now."""
        return FollowupWaveQueued(wave=await service.send_next_wave_now(body.chat_id))

    return router
