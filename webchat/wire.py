"""What a Bot API server needs from Telegram's wire format: form fields decoded as aiogram
sends them, Telegram HTML made visible text or safe web HTML, the error body, the inline and
reply keyboards checked, and a message seen by a web page. Shared by the web chat (webchat.botapi,
production) and the simulator (simulator.botapi, the demo and tests)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from starlette.requests import Request

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
URL_SCHEMES = ("https://", "http://", "tg://")  # what Telegram accepts in a URL button
TAG = re.compile(r"<[^>]+>")
RAW_ALLOWED_TAG = re.compile(r"<(/?)(b|i|u|s|code|pre|blockquote)>")
# The bot's links (a place on the map): https only, as Telegram's HTML writes them.
RAW_LINK = re.compile(r'<a href="(https://[^"<>\s]+)">|</a>')
RAW_TAG = re.compile(RAW_ALLOWED_TAG.pattern + "|" + RAW_LINK.pattern)
# Fields that stay strings even when they look like JSON ("123" as a text is text).
STRING_FIELDS = frozenset({
    "text", "caption", "callback_query_id", "parse_mode", "url", "secret_token",
    "language_code", "description", "short_description", "name", "query", "emoji",
})

Result = tuple[int, dict[str, Any]]


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Form fields as aiogram sends them (JSON-encoded non-strings) to Python values."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in STRING_FIELDS:
            try:
                params[key] = json.loads(value)
                continue
            except ValueError:
                pass
        params[key] = value
    return params


async def request_params(request: Request) -> dict[str, Any]:
    """A Bot API request's parameters as aiogram sends them: the query, and a JSON body or a
    form (non-strings JSON-encoded; "attach://<name>" replaced by that upload's bytes).
    Raises ValueError on a body that is not JSON where it says it is."""
    raw: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        raw.update(body)
        return raw
    form = await request.form()
    raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    params = decode_params(raw)
    attached = {k: await v.read() for k, v in form.items() if not isinstance(v, str)}
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = attached.get(value.removeprefix("attach://"), b"")
    return params


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the person sees: HTML tags removed and entities decoded."""
    if parse_mode and parse_mode.upper() == "HTML":
        return html.unescape(TAG.sub("", text))
    return text


def safe_html(text: str, parse_mode: str | None) -> str:
    """Telegram HTML made safe for a web page: everything escaped, then a few plain tags
    allowed again (no attributes)."""
    if not (parse_mode and parse_mode.upper() == "HTML"):
        return html.escape(text)
    # Only the bot's own plain tags and https links (real tags in the raw text) are kept;
    # everything else, including an escaped "&lt;b&gt;" a person or counsellor typed, stays
    # text, as in Telegram. A link opens elsewhere, without telling it where it came from.
    out: list[str] = []
    at = 0
    open_link = False
    for found in RAW_TAG.finditer(text):
        out.append(html.escape(html.unescape(text[at:found.start()]), quote=False))
        at = found.end()
        slash, name, href = found.group(1), found.group(2), found.group(3)
        if name:
            out.append(f"<{slash}{name}>")
        elif href:
            if open_link:
                out.append("</a>")
            out.append(f'<a href="{html.escape(html.unescape(href))}" '
                       'rel="noopener noreferrer" target="_blank">')
            open_link = True
        elif open_link:
            out.append("</a>")
            open_link = False
    out.append(html.escape(html.unescape(text[at:]), quote=False))
    if open_link:
        out.append("</a>")
    return "".join(out)


def check_text(params: dict[str, Any]) -> tuple[str, str]:
    """The visible text and its safe HTML, or Telegram's error for an empty or long text."""
    raw = params.get("text")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    parse_mode = params.get("parse_mode")
    shown = visible_text(raw, parse_mode)
    if len(shown) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return shown, safe_html(raw, parse_mode)


def check_markup(markup: Any) -> dict[str, Any] | None:
    """A reply_markup as Telegram checks it (button texts, callback data of 1-64 bytes)."""
    if not markup:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: text buttons are unallowed in the "
                                    "inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(URL_SCHEMES):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    for row in markup.get("keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: keyboard button text is empty")
    return dict(markup)


def view(message: dict[str, Any], rendered: str | None, markup: Any,
         mine: bool) -> dict[str, Any]:
    """A message as a web page shows it: safe HTML, the inline buttons (text and data; a URL
    button as its link), a reply keyboard or its removal."""
    markup = markup or {}
    shown: dict[str, Any] = {
        "message_id": message["message_id"],
        "html": rendered if rendered is not None else html.escape(message.get("text", "")),
        "buttons": [
            [{"text": b["text"], "data": b.get("callback_data"), **(
                {"url": b["url"]} if b.get("url") else {})} for b in row]
            for row in markup.get("inline_keyboard", [])
        ],
        "mine": mine,
        "sender": message.get("from", {}).get("first_name", ""),
    }
    if "keyboard" in markup:  # a reply keyboard replaces the person's input buttons
        shown["reply_keyboard"] = [
            [{"text": b["text"], "location": bool(b.get("request_location"))}
             for b in row] for row in markup["keyboard"]]
    if markup.get("remove_keyboard"):
        shown["remove_keyboard"] = True
    return shown
