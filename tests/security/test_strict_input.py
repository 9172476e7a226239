"""Strict input (issue 17, item 5): a NUL byte, a control character, a boolean for a number or
a date from year 1 gets a clear 4xx, never a 500 — in the bot's API, the admin API and the
staff pages (which need no login to be probed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.referral_api.factories import make_partner, referral_body


@pytest.fixture(autouse=True)
async def partner(admin: httpx.AsyncClient) -> None:
    await make_partner(admin)


@pytest.mark.parametrize("field", ["consent_version", "partner_id", "name", "phone"])
async def test_a_nul_in_a_referral_field_is_refused(client: httpx.AsyncClient,
                                                    field: str) -> None:
    body = referral_body(**{field: "2026\u000011"})
    answer = await client.post("/v1/referrals", json=body)
    assert answer.status_code == 422
    assert answer.json() == {"detail": {"code": "invalid_text"}}


@pytest.mark.parametrize("value", ["line\u0007bell", "esc\u001b[31m", "tab\there"])
async def test_a_control_character_in_a_one_line_field_is_refused(
        client: httpx.AsyncClient, value: str) -> None:
    answer = await client.post("/v1/referrals", json=referral_body(consent_version=value))
    assert answer.status_code == 422


async def test_a_message_may_have_lines_but_no_other_control(client: httpx.AsyncClient) -> None:
    booked = await client.post("/v1/referrals", json=referral_body(chat_id=444))
    reference = booked.json()["reference"]
    ok = await client.post("/v1/relay/to-partner", json={
        "reference": reference, "chat_id": 444, "text": "Hello,\nsee you\ttomorrow"})
    assert ok.status_code == 202
    bell = await client.post("/v1/relay/to-partner", json={
        "reference": reference, "chat_id": 444, "text": "Hello\u0007"})
    assert bell.status_code == 422


@pytest.mark.parametrize("chat_id", [False, True, 1.0, "12345", None])
async def test_a_chat_id_is_a_whole_number_not_a_boolean(client: httpx.AsyncClient,
                                                         chat_id: object) -> None:
    answer = await client.post("/v1/referrals/mine", json={"chat_id": chat_id})
    assert answer.status_code == 422


@pytest.mark.parametrize(("path", "form"), [
    ("/staff/login", "email=a%00b%40x.example&password=x&csrf_token=t"),
    ("/staff/campaigns", "city=Gent%00&channel=flyer&label=x&csrf_token=t"),
    ("/staff/campaigns", "city=Gent&channel=flyer&label=a%00&csrf_token=t"),
])
async def test_a_nul_in_a_staff_form_is_refused_without_a_login(
        client: httpx.AsyncClient, path: str, form: str) -> None:
    answer = await client.post(path, content=form, headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 422


async def test_in_a_multipart_form_a_nul_counts_in_text_fields_not_in_files(
        client: httpx.AsyncClient) -> None:
    """A recording is binary (NUL bytes are normal in it); a form field is text."""
    path = "/staff/translations/ar/voice"
    text_field = await client.post(path, data={"screen": "menu.welcome\u0000"},
                                   files={"audio": ("a.ogg", b"OggS", "audio/ogg")})
    assert text_field.status_code == 422
    binary_file = await client.post(path, data={"screen": "menu.welcome"},
                                    files={"audio": ("a.ogg", b"OggS\x00\x00", "audio/ogg")})
    assert binary_file.status_code != 422  # through the door (then: not logged in)
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"  # as Chromium writes it: mixed case

    def body(headers: str, content: bytes) -> bytes:
        return (f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content
                + f"\r\n--{boundary}--\r\n".encode())

    def post(payload: bytes) -> Any:
        return client.post(path, content=payload, headers={
            "content-type": f"multipart/form-data; boundary={boundary}"})

    recording = body('Content-Disposition: form-data; name="audio"; filename="a.ogg"\r\n'
                     "Content-Type: audio/ogg", b"OggS\x00\x00")
    assert (await post(recording)).status_code != 422
    disguised = body('Content-Disposition: form-data; name="screen"\r\nX-Note: filename=x',
                     b"menu.welcome\x00")
    assert (await post(disguised)).status_code == 422


async def test_a_nul_in_a_query_or_path_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/partners/cities?x=Gent%00")).status_code == 422
    assert (await client.post("/v1/partners/nearest",
                              json={"city": "Gent\u0000"})).status_code == 422
    assert (await client.get("/v1/partners/test%00desk")).status_code == 422


async def test_control_characters_in_partner_data_are_refused(admin: httpx.AsyncClient) -> None:
    answer = await admin.put("/v1/admin/partners/test-desk", json={"name": "Desk\u0000"})
    assert answer.status_code == 422
    answer = await admin.put("/v1/admin/partners/test-desk", json={"address": "Street\r\n1"})
    assert answer.status_code == 422
