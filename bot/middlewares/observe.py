"""One log event and the metrics of each update: its id, its type, the route that handled it
(the handler function's module and name: ``flow.on_node``, ``commands.start``), the duration
and the outcome. No chat id, user, text or callback data: those are a person's.

``install(dp)`` puts the outer middleware on updates (inside aiogram's error handling, so a
failure is seen before the errors router apologises) and an inner middleware on every event
type, which names the route once aiogram chose a handler.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject, Update

from ops.metrics import UPDATE_SECONDS, UPDATES

log = logging.getLogger("bot.updates")
_route: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("route", default=None)


def route_name(handler: HandlerObject | None) -> str:
    if handler is None:
        return "unhandled"
    callback = handler.callback
    module = getattr(callback, "__module__", "") or ""
    name = getattr(callback, "__qualname__", getattr(callback, "__name__", "handler"))
    return f"{module.rsplit('.', 1)[-1]}.{name.split('.<locals>.')[-1]}"


class UpdateObserver(BaseMiddleware):
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        update_type = event.event_type
        holder: list[str] = []
        token = _route.set(holder)
        started = time.perf_counter()
        outcome = "handled"
        try:
            return await handler(event, data)
        except Exception:
            outcome = "failed"
            raise
        finally:
            _route.reset(token)
            took = time.perf_counter() - started
            UPDATES.labels(update_type, outcome).inc()
            UPDATE_SECONDS.labels(update_type).observe(took)
            log.info("update %s", outcome, extra={
                "update_id": event.update_id, "update_type": update_type,
                "route": holder[-1] if holder else "unhandled", "outcome": outcome,
                "duration_ms": round(took * 1000, 1)})


class RouteMarker(BaseMiddleware):
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        holder = _route.get()
        if holder is not None:
            holder.append(route_name(data.get("handler")))
        return await handler(event, data)


def install(dp: Dispatcher) -> None:
    dp.update.outer_middleware(UpdateObserver())
    marker = RouteMarker()
    for name, observer in dp.observers.items():
        if name not in ("update", "error"):
            observer.middleware(marker)  # inner: runs once a handler was chosen
