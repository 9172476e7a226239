"""Signal routes for the bot (service token): a batch of events, forget. (The campaign
lookup is campaigns/router.py.)"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, status

from referral_api.dependencies import ContextDep, SessionDep, require_service
from referral_api.signals.schemas import (
    SignalBatch,
    SignalForget,
    SignalsForgotten,
    SignalsRecorded,
)
from referral_api.signals.service import Signal, SignalRejected, forget, record_events

logger = logging.getLogger(__name__)


def create_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["signals"], dependencies=[Depends(require_service)])

    @router.post("/signals", status_code=status.HTTP_202_ACCEPTED)
    async def post_signals(body: SignalBatch, session: SessionDep,
                           context: ContextDep) -> SignalsRecorded:
        """Events outside the closed lists are dropped (counted in `rejected`), the rest kept:
        one bad event must not lose a batch."""
        good: list[Signal] = []
        rejected = 0
        for item in body.events:
            signal = Signal(item.month, item.pseudonym, item.event, item.value, item.language,
                            item.province, item.campaign,
                            item.channel or "telegram")  # none: a bot from before the web chat
            try:
                good.append(signal.checked())
            except SignalRejected as exc:
                rejected += 1
                logger.info("signal rejected (%s)", exc)
        recorded = await record_events(session, good, context.clock())
        await session.commit()
        return SignalsRecorded(recorded=recorded, rejected=rejected)

    @router.post("/signals/forget")
    async def forget_signals(body: SignalForget, session: SessionDep,
                             context: ContextDep) -> SignalsForgotten:
        deleted = await forget(session, body.pseudonyms, context.clock())
        return SignalsForgotten(deleted_events=deleted)

    return router
