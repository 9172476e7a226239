"""Strict input at the door (issue 17, item 5): a NUL character anywhere in a request's path,
query or body is refused with 422 `invalid_text`, for every route at once.

PostgreSQL cannot store NUL in text; it used to reach the database from seven places (the
referral's consent version and partner id, a campaign's label and city, the staff login's
e-mail, ...) and end in a 500. Other control characters are refused by the schemas' text types
(referral_api.schemas.SafeText). Bodies are read up to MAX_BODY bytes (larger ones: 413).
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1_500_000  # a voice recording (1 MB at most, translations.service) and its form


def _has_nul(data: bytes, content_type: bytes = b"application/x-www-form-urlencoded") -> bool:
    """NUL as it travels: raw, percent-encoded (URLs, forms) or escaped (JSON). In a
    multipart form, only the text fields count: an uploaded file (a recording) is binary."""
    if content_type.lower().startswith(b"multipart/form-data"):
        return _multipart_text_has_nul(data, content_type)
    if b"\x00" in data:
        return True
    content_type = content_type.lower()
    if b"json" in content_type:
        return b"\\u0000" in data
    if b"x-www-form-urlencoded" in content_type:
        return b"%00" in data
    return False


_FILE_PART = re.compile(rb'^content-disposition:[^\r\n]*;\s*filename\*?=', re.I | re.M)
_BOUNDARY = re.compile(rb'boundary="?([^";]+)"?', re.I)


def _multipart_text_has_nul(data: bytes, content_type: bytes) -> bool:
    """NUL in a text field of a multipart form (a file part's content may be binary). The
    boundary is case-sensitive (browsers mix cases): read from the header as sent."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        return b"\x00" in data
    for part in data.split(b"--" + found.group(1)):
        headers, _, content = part.partition(b"\r\n\r\n")
        if _FILE_PART.search(headers.lstrip(b"\r\n")) is None and b"\x00" in content:
            return True
    return False


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
        if _has_nul(raw_path) or _has_nul(scope.get("query_string", b"")):
            await _refuse(send, 422, "invalid_text")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await _refuse(send, 413, "too_large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if _has_nul(body, content_type):
            await _refuse(send, 422, "invalid_text")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, code: str) -> None:
    payload = json.dumps({"detail": {"code": code}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
