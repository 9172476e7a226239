"""The staff web app in a real browser (Debian's Chromium driven by Playwright), against
`python -m referral_api` on a temporary SQLite database: a counsellor logs in, finds a referral
made through the API in the inbox, reads the person's message (shown as text, never as markup),
accepts the referral and writes back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    PROJECT_DIR,
    SCREENSHOTS,
    migrated_api_env,
    referral_api_command,
    serving,
)

SERVICE_TOKEN = "e2e-service-token"
ADMIN_TOKEN = "e2e-admin-token"
EMAIL = "anna@desk.example"
PASSWORD = "a long staff password"
PERSON = 987654321
OTHER_PERSON = 987654322
COORDINATOR = "coord@conex.example"
PHONE_SHOTS = Path(__file__).parent / "screenshots"  # issue 13, items 13 and 14, at 390 px
PILOT = PROJECT_DIR.parent / "shared" / "data" / "followup_pilot_responses.csv"
XSS = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Api:
    url: str
    reference: str


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = migrated_api_env(tmp_path_factory.mktemp("staff"), SERVICE_TOKEN=SERVICE_TOKEN,
                           ADMIN_TOKEN=ADMIN_TOKEN)
    with serving(["referral_api"], env, "the API") as url:
        yield Api(url, _prepare(url, env))


@dataclass(frozen=True)
class PlainApi:
    url: str
    reference: str


@pytest.fixture(scope="module")
def plain_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainApi]:
    """A referral with screening answers, in Arabic, whose person wrote; a coordinator; the
    follow-up pilot's responses imported (charts in the report)."""
    env = migrated_api_env(tmp_path_factory.mktemp("plain"), SERVICE_TOKEN=SERVICE_TOKEN,
                           ADMIN_TOKEN=ADMIN_TOKEN)
    with serving(["referral_api"], env, "the API") as url:
        _prepare(url, env)
        service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
        booked = httpx.post(f"{url}/v1/referrals", headers=service, json={
            "partner_id": "test-desk", "contact_mode": "phone", "phone": "0470 98 76 54",
            "language": "ar", "interpreter": True, "topic": "travel_documents",
            "flags": ["medical", "children", "children_2", "children_under_6"],
            "chat_id": OTHER_PERSON, "consent_version": "2026-11"})
        assert booked.status_code == 201, booked.text
        reference: str = booked.json()["reference"]
        relayed = httpx.post(f"{url}/v1/relay/to-partner", headers=service, json={
            "chat_id": OTHER_PERSON, "reference": reference, "text": "Can I come on Monday?"})
        assert relayed.status_code == 202, relayed.text
        referral_api_command(["create-account", "--email", COORDINATOR, "--password",
                              PASSWORD, "--role", "coordinator", "--locale", "en"], env)
        referral_api_command(["followup", "import", str(PILOT)], env)
        yield PlainApi(url, reference)


def _log_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/staff/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_the_referral_page_in_plain_words_on_a_phone(plain_api: PlainApi, page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, plain_api.url, EMAIL)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    row = page.locator("tr", has=page.get_by_role("link", name=plain_api.reference))
    expect(row.get_by_text("Waiting for an answer")).to_be_visible()
    expect(row.get_by_text("Arabic (ar)")).to_be_visible()
    PHONE_SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(PHONE_SHOTS / "staff-inbox-390.png"), full_page=True)
    assert _page_width(page) <= 390
    page.get_by_role("link", name="Could not reach").click()
    expect(page.get_by_role("link", name="Could not reach")).to_have_attribute(
        "aria-current", "page")

    page.goto(f"{plain_api.url}/staff/referrals/{plain_api.reference}")
    expect(page.locator("#waiting")).to_be_visible()
    expect(page.locator("#shared")).to_contain_text("Medical treatment must continue")
    expect(page.locator("#shared")).to_contain_text("2 children, under 6")
    expect(page.locator("#topic")).to_have_text("Travel documents")
    expect(page.locator("#phone a")).to_have_attribute("href", "tel:+32470987654")
    expect(page.locator("#phone a")).to_have_text("+32 470 98 76 54")
    assert page.locator("#name").count() == 0
    expect(page.get_by_label("Reintegration partner")).to_have_value("")
    assert _page_width(page) <= 390
    page.screenshot(path=str(PHONE_SHOTS / "staff-referral-390.png"), full_page=True)


def test_the_followup_report_fits_a_phone_and_keeps_its_charts_styled(
        plain_api: PlainApi, page: Page) -> None:
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, plain_api.url, COORDINATOR)
    page.goto(f"{plain_api.url}/staff/followup")
    expect(page.get_by_role("heading", name="Follow-up after return")).to_be_visible()
    assert page.locator("figure.chart svg").count() >= 2
    assert _page_width(page) <= 390  # charts scroll in their own box
    # stacked tables keep a label on every cell
    cells = page.locator("table.list td")
    assert cells.count() > 0
    assert page.locator("table.list td:not([data-label])").count() == 0
    PHONE_SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(PHONE_SHOTS / "followup-390.png"), full_page=True)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{plain_api.url}/staff/followup")
    # no chart text is clipped: every <text> lies inside its <svg>
    clipped = page.evaluate("""() => [...document.querySelectorAll('figure.chart svg')]
        .flatMap(svg => { const box = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('text')].filter(t => {
            const r = t.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
          .map(t => t.textContent); })""")
    assert clipped == []
    family = page.evaluate(
        "getComputedStyle(document.querySelector('figure.chart svg text')).fontFamily")
    assert "sans-serif" in family
    page.screenshot(path=str(PHONE_SHOTS / "followup-1280.png"), full_page=True)
    assert refused == []


def _prepare(url: str, env: dict[str, str]) -> str:
    """A partner and its counsellor account; a referral by a person who wrote a message."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    partner = httpx.post(f"{url}/v1/admin/partners", headers=admin, json={
        "id": "test-desk", "name": "Partner test-desk", "kind": "return_desk", "city": "Gent",
        "postal_code": "9000", "notification_chat_id": -1000000001, "services": ["general"],
        "languages": ["en"]})
    assert partner.status_code == 201, partner.text
    referral_api_command(["create-account", "--email", EMAIL, "--password", PASSWORD,
                          "--role", "counsellor", "--partner", "test-desk", "--locale", "en"], env)
    booked = httpx.post(f"{url}/v1/referrals", headers=service, json={
        "partner_id": "test-desk", "contact_mode": "phone", "phone": "0470 12 34 56",
        "name": "Amina Example", "language": "en", "interpreter": False,
        "topic": "information", "flags": [], "chat_id": PERSON, "consent_version": "2026-11"})
    assert booked.status_code == 201, booked.text
    reference: str = booked.json()["reference"]
    relayed = httpx.post(f"{url}/v1/relay/to-partner", headers=service, json={
        "chat_id": PERSON, "reference": reference, "text": XSS})
    assert relayed.status_code == 202, relayed.text
    return reference


def test_a_counsellor_accepts_a_referral_and_writes_back(api: Api, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{api.url}/staff/inbox")  # not logged in: the login page
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.get_by_role("link", name=api.reference).click()
    expect(page.get_by_role("heading", name=f"Reference {api.reference}")).to_be_visible()
    expect(page.get_by_text("Amina Example")).to_be_visible()

    # the person's message is text on the page, not a script
    expect(page.locator(".msg .text").first).to_have_text(XSS)
    assert page.locator("main script").count() == 0

    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#status")).to_have_text("Accepted")
    expect(page.get_by_role("status")).to_have_text("Saved.")

    page.get_by_label("Send a message to the person").fill("We will call you on Monday.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Message queued for the person.")
    expect(page.locator(".msg.out .text")).to_have_text("We will call you on Monday.")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "staff-referral.png"), full_page=True)
    assert dialogs == []

    mine = httpx.post(f"{api.url}/v1/referrals/mine",
                      headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
                      json={"chat_id": PERSON})
    assert [r["status"] for r in mine.json()] == ["accepted"]

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
