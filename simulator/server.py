"""HTTP edge of the simulator: the Bot API at /bot<token>/<method> (what aiogram's Bot talks
to through TELEGRAM_API_URL) and the web chat at /simulator."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from simulator.botapi import FakeBotAPI, SimUser
from webchat.wire import request_params

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
    first_name: str = Field(default="Demo", max_length=40)
    chat_id: int | None = Field(default=None, lt=0)  # a group; None = the private chat


class SendIn(Person):
    text: str | None = Field(default=None, max_length=5000)
    kind: str | None = None
    reply_to: int | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class PressIn(Person):
    message_id: int
    data: str = Field(max_length=256)


@dataclass
class DemoGroup:
    """The partner group shown in the simulator, and the counsellor who uses it."""

    chat_id: int = -1001000
    counsellor_id: int = 900001
    title: str = "Partner group (all demo partners)"


def create_app(fake: FakeBotAPI | None = None, group: DemoGroup | None = None) -> FastAPI:
    api = fake or FakeBotAPI()
    demo_group = group or DemoGroup()
    api.open_group(demo_group.chat_id)
    app = FastAPI(title="CONEX bot simulator", docs_url=None, redoc_url=None)
    app.state.fake = api
    app.state.group = demo_group

    @app.api_route("/bot{token}/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        params = await request_params(request)
        status, body = await api.call(token, method, params)
        return JSONResponse(body, status_code=status)

    @app.get("/simulator", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("simulator").joinpath("static/index.html").read_text("utf-8")

    @app.get("/", include_in_schema=False)
    async def root() -> HTMLResponse:
        return HTMLResponse('<a href="/simulator">simulator</a>')

    @app.get("/simulator/api/voice/{file_id}")
    async def voice(file_id: str) -> Response:
        data = api.files.get(file_id)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="audio/ogg")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/simulator/api/config")
    async def config() -> dict[str, Any]:
        return {"group_chat_id": demo_group.chat_id, "counsellor_id": demo_group.counsellor_id,
                "group_title": demo_group.title}

    @app.post("/simulator/api/send")
    async def send(body: SendIn) -> dict[str, int]:
        user = SimUser(body.user_id, first_name=body.first_name,
                       language_code=body.language_code)
        chat_id, reply_to = body.chat_id, body.reply_to
        if body.kind == "location" and body.latitude is not None and body.longitude is not None:
            update = api.user_message(user, chat_id=chat_id, reply_to=reply_to, location={
                "latitude": body.latitude, "longitude": body.longitude})
        elif body.kind:
            if body.kind not in CONTENT_KINDS:
                raise HTTPException(422, "unknown kind")
            update = api.user_message(user, chat_id=chat_id, reply_to=reply_to,
                                      **CONTENT_KINDS[body.kind])
        elif body.text:
            update = api.user_message(user, body.text, chat_id=chat_id, reply_to=reply_to)
        else:
            raise HTTPException(422, "text or kind is required")
        return {"update_id": update["update_id"]}

    @app.post("/simulator/api/press")
    async def press(body: PressIn) -> dict[str, int]:
        user = SimUser(body.user_id, first_name=body.first_name,
                       language_code=body.language_code)
        update = api.user_press(user, body.message_id, body.data, chat_id=body.chat_id)
        return {"update_id": update["update_id"]}

    @app.get("/simulator/api/events")
    async def events(chat_id: int, after: int = 0, wait: float = 20.0) -> dict[str, Any]:
        chat = api.open_group(chat_id) if chat_id < 0 else api.open_chat(SimUser(chat_id))
        if len(chat.events) <= after and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(chat.changed.wait(), timeout=min(wait, 25.0))
        return {"events": chat.events[after:]}

    return app
