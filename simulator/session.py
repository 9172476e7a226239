"""An aiogram session that talks to a FakeBotAPI in the same process.

It encodes every request exactly as aiogram's HTTP session does (``prepare_value``) and
decodes the answer with aiogram's own ``check_response``: only the socket is skipped. Used by
the conversation tests and the benchmark; the end-to-end test and the demo use real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, Protocol, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from simulator.botapi import FakeBotAPI
from webchat.wire import decode_params


class BotApiServer(Protocol):
    """A Bot API server in this process: the simulator's FakeBotAPI or the web chat's."""

    async def call(self, token: str, method: str,
                   params: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...


class InProcessSession(BaseSession):
    def __init__(self, api: FakeBotAPI | BotApiServer) -> None:
        super().__init__()
        self.fake = api

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, Any] = {}
        raw = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                raw[key] = prepared
        params = decode_params(raw)
        for key, value in list(params.items()):  # an upload: the file's bytes, as over HTTP
            if isinstance(value, str) and value.startswith("attach://"):
                upload = files.get(value.removeprefix("attach://"))
                params[key] = getattr(upload, "data", b"")
        status, body = await self.call(bot.token, method.__api_method__, params)
        self.answered(method.__api_method__, params, status, body)
        response = self.check_response(bot=bot, method=method, status_code=status,
                                       content=json.dumps(body))
        return cast(TelegramType, response.result)

    async def call(self, token: str, method: str,
                   params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return await self.fake.call(token, method, params)

    def answered(self, method: str, params: dict[str, Any], status: int,
                 body: dict[str, Any]) -> None:
        """Called with every call's answer (tests watch the web chat's through it)."""

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""
