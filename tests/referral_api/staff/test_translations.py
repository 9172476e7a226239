"""Translation review in context (issue 18): a translator sees every screen in their language
as people see it, approves or corrects strings with the catalogue's own checks, every change
audited; the reviews are written back into the catalogues; nobody else reaches the pages."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI
from sqlalchemy import select

from bot.gallery import Gallery
from referral_api.staff.models import AuditRecord, StaffAccount
from referral_api.translations.catalogues import import_reviews
from referral_api.translations.models import TranslationReview
from tests.referral_api.staff_pages import browser, csrf_of, login, make_account

LOCALES = Path(__file__).resolve().parents[3] / "locales"
MSGID = "Voluntary return means that you decide yourself to go back to your country."


@pytest.fixture
async def translator(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await make_account(app, "mediator@partner.example", role="translator", languages="ar")
    async with browser(app) as client:
        response = await login(client, "mediator@partner.example")
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/translations"
        yield client


def a_string_of(screen: str, locale: str = "ar") -> str:
    [preview] = [p for p in Gallery().screens(locale, only=screen.split(".")[0])
                 if p.screen == screen]
    return preview.msgids[0]


async def test_a_translator_reviews_their_language_in_context_and_nothing_else(
        translator: httpx.AsyncClient, app: FastAPI) -> None:
    listing = await translator.get("/staff/translations")
    assert listing.status_code == 200 and "العربية" in listing.text
    assert "/staff/translations/fa" not in listing.text  # only the languages given
    page = await translator.get("/staff/translations/ar?flow=return_info")
    assert page.status_code == 200
    assert 'dir="rtl" lang="ar"' in page.text  # the screen as an Arabic reader sees it
    msgid = a_string_of("return_info.what_is_it")
    assert msgid.split("\n")[0][:40] in page.text  # the English beside it
    for elsewhere in ("/staff/translations/fa", "/staff/inbox", "/staff/alerts",
                      "/staff/campaigns", "/staff/signals", "/staff/admin/accounts"):
        assert (await translator.get(elsewhere)).status_code == 404, elsewhere


async def test_a_correction_passes_the_catalogue_checks_and_is_audited(
        translator: httpx.AsyncClient, app: FastAPI) -> None:
    page = await translator.get("/staff/translations/ar?flow=menu")
    token = csrf_of(page)
    label = next(m for p in Gallery().screens("ar", only="menu") for m in p.msgids
                 if Gallery().is_label(m))
    text = a_string_of("menu.welcome")

    async def send(msgid: str, new: str, verdict: str = "corrected") -> httpx.Response:
        return await translator.post("/staff/translations/ar/review", data={
            "csrf_token": token, "msgid": msgid, "text": new, "verdict": verdict,
            "flow": "menu"})

    too_long = await send(label, "ا" * 31)
    assert "error=label_too_long" in too_long.headers["location"]
    if "{" in text:
        lost = await send(text, "نص بدون متغيرات")
        assert "error=placeholders_differ" in lost.headers["location"]
    saved = await send(label, "زر مصحح")
    assert "done=translation_saved" in saved.headers["location"]
    approved = await send(text, "", verdict="approved")
    assert "done=translation_saved" in approved.headers["location"]
    after = await translator.get("/staff/translations/ar?flow=menu")
    assert "زر مصحح" in after.text  # the screen shows the correction at once
    async with app.state.context.sessionmaker() as session:
        reviews = {r.msgid: r for r in await session.scalars(select(TranslationReview))}
        audited = list(await session.scalars(
            select(AuditRecord.detail).where(AuditRecord.action == "translation_reviewed")))
    assert reviews[label].verdict == "corrected" and reviews[label].text == "زر مصحح"
    assert reviews[text].verdict == "approved"
    assert reviews[text].text == Gallery().catalogue("ar", text)
    assert sorted(d.split(":")[1] for d in audited) == ["approved", "corrected"]


async def test_a_counsellor_and_a_coordinator_get_404(anna: httpx.AsyncClient,
                                                      app: FastAPI) -> None:
    assert (await anna.get("/staff/translations")).status_code == 404
    assert (await anna.get("/staff/translations/ar")).status_code == 404
    page = await anna.get("/staff/inbox")
    forged = await anna.post("/staff/translations/ar/review", data={
        "csrf_token": csrf_of(page), "msgid": MSGID, "text": "x", "verdict": "corrected"})
    assert forged.status_code == 404


async def test_the_reviews_are_written_into_the_catalogue_with_reviewer_and_date(
        translator: httpx.AsyncClient, app: FastAPI, tmp_path: Path) -> None:
    page = await translator.get("/staff/translations/ar?flow=menu")
    label = next(m for p in Gallery().screens("ar", only="menu") for m in p.msgids
                 if Gallery().is_label(m))
    await translator.post("/staff/translations/ar/review", data={
        "csrf_token": csrf_of(page), "msgid": label, "text": "زر مصحح", "verdict": "corrected",
        "flow": "menu"})
    shutil.copytree(LOCALES / "ar", tmp_path / "ar")
    results = await import_reviews(app.state.context.sessionmaker, tmp_path)
    assert results["ar"].updated == 1
    po = tmp_path / "ar" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        entry = read_po(handle).get(label)
    assert entry is not None and entry.string == "زر مصحح"
    [stamp] = [c for c in entry.user_comments if c.startswith("reviewed: ")]
    assert re.fullmatch(r"reviewed: translator #\d+ \d{4}-\d{2}-\d{2}", stamp), stamp
    assert "mediator@partner.example" not in po.read_text(encoding="utf-8")  # no e-mail
    assert "X-Translation-Source: machine" in po.read_text(encoding="utf-8")
    again = await import_reviews(app.state.context.sessionmaker, tmp_path)
    assert again["ar"].updated == 0 and again["ar"].unchanged == 1


async def test_a_mediator_records_a_key_screen_and_hears_it_back(
        translator: httpx.AsyncClient, recording: bytes) -> None:
    page = await translator.get("/staff/translations/ar?flow=menu")
    assert 'name="audio"' in page.text  # the welcome is a key screen: an upload form
    token = csrf_of(page)

    async def upload(screen: str, audio: bytes) -> httpx.Response:
        return await translator.post(
            "/staff/translations/ar/voice", data={"csrf_token": token, "screen": screen,
                                                  "flow": "menu"},
            files={"audio": ("welcome.ogg", audio, "audio/ogg")})

    saved = await upload("menu.welcome", recording)
    assert saved.status_code == 303, (saved.status_code, saved.text[:300])
    assert "done=voice_saved" in saved.headers["location"]
    assert saved.headers["location"].endswith("#screen-menu.welcome")
    heard = await translator.get("/staff/translations/ar/voice/menu.welcome.ogg")
    assert heard.status_code == 200 and heard.content == recording
    assert heard.headers["content-type"] == "audio/ogg"
    assert (await upload("menu.start", recording)).status_code == 404  # not a key screen
    refused = await upload("menu.welcome", b"RIFF....WAVEfmt ")  # a WAV file
    assert "error=invalid_voice" in refused.headers["location"]


async def test_an_admin_gives_the_translator_role_with_languages(app: FastAPI) -> None:
    await make_account(app, "root@conex.example", role="admin")
    async with browser(app) as admin:
        assert (await login(admin, "root@conex.example")).status_code == 303
        page = await admin.get("/staff/admin/accounts")

        async def create(email: str, languages: str) -> httpx.Response:
            return await admin.post("/staff/admin/accounts", data={
                "csrf_token": csrf_of(page), "email": email, "role": "translator",
                "password": "a long staff password for the mediator", "locale": "en",
                "languages": languages})

        assert "A translator needs at least one language" in (await create(
            "none@partner.example", "")).text
        assert "Give language codes of the bot" in (await create(
            "wrong@partner.example", "ar, klingon")).text
        assert (await create("amina@partner.example", "ar, fa_AF")).status_code == 303
    async with app.state.context.sessionmaker() as session:
        languages = await session.scalar(select(StaffAccount.languages).where(
            StaffAccount.email == "amina@partner.example"))
    assert languages == "ar,fa_AF"


async def test_a_correction_must_use_the_glossarys_word(translator: httpx.AsyncClient) -> None:
    """Arabic says «الاتجار بالبشر» for trafficking: a correction that drops it is refused,
    as the catalogue check would refuse it after the import."""
    screens = Gallery().screens("ar", only="tailored")
    [msgid] = [m for p in screens if p.screen == "tailored.trafficking" for m in p.msgids
               if "trafficking" in m]
    page = await translator.get("/staff/translations/ar?flow=tailored")
    refused = await translator.post("/staff/translations/ar/review", data={
        "csrf_token": csrf_of(page), "msgid": msgid, "verdict": "corrected",
        "text": Gallery().catalogue("ar", msgid).replace("الاتجار بالبشر", "تهريب المهاجرين"),
        "flow": "tailored"})  # "smuggling of migrants" instead of "trafficking in persons"
    assert "error=glossary_word" in refused.headers["location"]
    shown = await translator.get(refused.headers["location"])
    assert "Use the approved word of the glossary" in shown.text
