"""Campaigns and the signals report in a real browser (Debian's Chromium driven by Playwright),
against `python -m referral_api` on a temporary SQLite database (the demo's database): a
coordinator creates a campaign, people come through it (signals posted as the bot does), and
the coordinator opens the campaign's report and sees the funnel and the obstacles.
Screenshots of the report and the flyer at phone and desktop widths go to ./screenshots."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.signals import month_of
from tests.e2e.conftest import SCREENSHOTS, migrated_api_env, referral_api_command, serving

SERVICE_TOKEN = "e2e-service-token"
ADMIN_TOKEN = "e2e-admin-token"
EMAIL = "coord@conex.example"
PASSWORD = "a long staff password"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = migrated_api_env(tmp_path_factory.mktemp("signals"), SERVICE_TOKEN=SERVICE_TOKEN,
                           ADMIN_TOKEN=ADMIN_TOKEN, BOT_USERNAME="conex_demo_bot")
    referral_api_command(["create-account", "--email", EMAIL, "--password", PASSWORD,
                          "--role", "coordinator", "--locale", "en"], env)
    with serving(["referral_api"], env, "the API") as url:
        yield url


def people_come_through(url: str, code: str) -> None:
    """Seven people start through the campaign, six read, five name 'no money', two book."""
    month = month_of(datetime.now(UTC))
    events = []
    for n in range(7):
        base = {"month": month, "pseudonym": hashlib.sha256(f"p{n}".encode()).hexdigest(),
                "language": "ar" if n % 2 else "fa"}
        events.append({**base, "event": "conversation_started", "campaign": code})
        if n < 6:
            events.append({**base, "event": "topic_viewed", "value": "support"})
        if n < 5:
            events.append({**base, "event": "obstacle_named", "value": "no_money"})
        if n < 2:
            events.append({**base, "event": "booking_completed", "value": "visit"})
    sent = httpx.post(f"{url}/v1/signals", json={"events": events},
                      headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert sent.status_code == 202 and sent.json()["rejected"] == 0, sent.text


def test_a_coordinator_sees_the_funnel_and_obstacles_of_a_campaign(api: str,
                                                                   page: Page) -> None:
    page.goto(f"{api}/staff/login")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    page.get_by_label("City").fill("Antwerpen")
    page.get_by_label("Channel").select_option("outreach_visit")
    page.get_by_label("Label (for you; people do not see it)").fill("Station outreach")
    page.get_by_role("button", name="Create campaign").click()

    expect(page.get_by_role("status")).to_have_text("The campaign was created.")
    link = page.locator(".deep-link").inner_text()
    match = re.fullmatch(r"https://t\.me/conex_demo_bot\?start=([A-Z2-9]{6})", link)
    assert match, link
    code = match.group(1)
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "signals-campaign-phone.png"), full_page=True)
    people_come_through(api, code)

    page.get_by_role("link", name="Report of this campaign").click()
    expect(page.get_by_role("heading", name=re.compile("Signals report"))).to_be_visible()
    funnel = page.locator("section", has=page.get_by_role("heading", name="Funnel",
                                                          exact=True))
    expect(funnel.get_by_role("img")).to_have_accessible_name(
        "Funnel: people per stage")
    desc = funnel.locator("desc").text_content() or ""
    assert "Started: 7" in desc and "Read information: 6" in desc
    assert "Booked a contact: <5" in desc  # two people: hidden
    obstacles = page.locator("section", has=page.get_by_role(
        "heading", name="What makes it hard to decide"))
    expect(obstacles.locator("svg text", has_text="No money for the journey")).to_be_visible()
    assert "No money for the journey: 5" in (obstacles.locator("desc").text_content() or "")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "signals-report-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SCREENSHOTS / "signals-report-desktop.png"), full_page=True)

    page.goto(f"{api}/staff/campaigns/{code}/flyer?lang=en&lang=ar&lang=fr")
    # Until the lead translates the new texts, Arabic and French fall back to English once,
    # and the page says so (not printed). Translated, each language gets its block.
    blocks = page.locator(".flyer-lang")
    expect(blocks.first).to_contain_text("Thinking about going back to your country?")
    assert blocks.count() in (1, 2, 3)
    natural = page.locator(".flyer-qr img").evaluate("img => img.naturalWidth")
    assert natural > 0  # the QR code image loaded (same origin, allowed by the CSP)
    page.screenshot(path=str(SCREENSHOTS / "signals-flyer-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "signals-flyer-phone.png"), full_page=True)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=str(SCREENSHOTS / "signals-flyer-print.png"), full_page=True)
    for n in range(page.locator(".no-print").count()):
        expect(page.locator(".no-print").nth(n)).to_be_hidden()
