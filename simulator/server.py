"""HTTP edge of the simulator: the Bot API at /bot<token>/<method> (what aiogram's Bot talks
to through TELEGRAM_API_URL) and the web chat at /simulator."""

from __future__ import annotations

import asyncio
import contextlib
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from simulator.botapi import FakeBotAPI, SimUser, decode_params

CONTENT_KINDS: dict[str, dict[str, Any]] = {
    "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "s1", "type": "regular",
                            "width": 512, "height": 512, "is_animated": False,
                            "is_video": False}},
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 90,
                         "height": 90}]},
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "v1", "duration": 2}},
    "document": {"document": {"file_id": "d1", "file_unique_id": "d1"}},
    "location": {"location": {"latitude": 50.85, "longitude": 4.35}},
    "contact": {"contact": {"phone_number": "+32000000000", "first_name": "Demo"}},
}


class Person(BaseModel):
    user_id: int = Field(ge=1, le=2**40)
    language_code: str | None = Field(default="en", max_length=12)


class SendIn(Person):
    text: str | None = Field(default=None, max_length=5000)
    kind: str | None = None


class PressIn(Person):
    message_id: int
    data: str = Field(max_length=256)


def create_app(fake: FakeBotAPI | None = None) -> FastAPI:
    api = fake or FakeBotAPI()
    app = FastAPI(title="CONEX bot simulator", docs_url=None, redoc_url=None)
    app.state.fake = api

    @app.api_route("/bot{token}/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        raw: dict[str, Any] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            raw.update(await request.json())
            params = raw
        else:
            form = await request.form()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
            params = decode_params(raw)
        status, body = await api.call(token, method, params)
        return JSONResponse(body, status_code=status)

    @app.get("/simulator", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("simulator").joinpath("static/index.html").read_text("utf-8")

    @app.get("/", include_in_schema=False)
    async def root() -> HTMLResponse:
        return HTMLResponse('<a href="/simulator">simulator</a>')

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/simulator/api/send")
    async def send(body: SendIn) -> dict[str, int]:
        user = SimUser(body.user_id, language_code=body.language_code)
        if body.kind:
            if body.kind not in CONTENT_KINDS:
                raise HTTPException(422, "unknown kind")
            update = api.user_message(user, **CONTENT_KINDS[body.kind])
        elif body.text:
            update = api.user_message(user, body.text)
        else:
            raise HTTPException(422, "text or kind is required")
        return {"update_id": update["update_id"]}

    @app.post("/simulator/api/press")
    async def press(body: PressIn) -> dict[str, int]:
        user = SimUser(body.user_id, language_code=body.language_code)
        update = api.user_press(user, body.message_id, body.data)
        return {"update_id": update["update_id"]}

    @app.get("/simulator/api/events")
    async def events(chat_id: int, after: int = 0, wait: float = 20.0) -> dict[str, Any]:
        chat = api.open_chat(SimUser(chat_id))
        if len(chat.events) <= after and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(chat.changed.wait(), timeout=min(wait, 25.0))
        return {"events": chat.events[after:]}

    return app
