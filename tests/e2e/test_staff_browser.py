"""The staff web app in a real browser (Debian's Chromium driven by Playwright), against
`python -m referral_api` on a temporary SQLite database: a counsellor logs in, finds a referral
made through the API in the inbox, reads the person's message (shown as text, never as markup),
accepts the referral and writes back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, migrated_api_env, referral_api_command, serving

SERVICE_TOKEN = "e2e-service-token"
ADMIN_TOKEN = "e2e-admin-token"
EMAIL = "anna@desk.example"
PASSWORD = "a long staff password"
PERSON = 987654321
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
