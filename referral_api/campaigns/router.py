"""Campaign route for the bot (service token): is a code an active campaign?"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from referral_api.campaigns.schemas import CampaignPublic
from referral_api.campaigns.service import campaign_is_active
from referral_api.dependencies import SessionDep, require_service
from referral_api.errors import NotFound


def create_router() -> APIRouter:
    # Tagged "signals" as it always was in the OpenAPI (the bot's campaign codes are signals).
    router = APIRouter(prefix="/v1", tags=["signals"], dependencies=[Depends(require_service)])

    @router.get("/campaigns/{code}")
    async def campaign(code: str, session: SessionDep) -> CampaignPublic:
        found = await campaign_is_active(session, code)
        if found is None:
            raise NotFound("unknown_campaign")
        return CampaignPublic(code=found)

    return router
