"""The web chat (issue 19) as people use it, in Debian's Chromium at 390 px on a throttled
line: an Arabic booking through the whole conversation, the counsellor's answer from the
partner group and the person's reply, "Leave quickly", and coming back with the code. The
page asks nothing of any host but its own, and its first load stays small."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.support import Translations
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.settings import DEFAULT_LOCALES_DIR
from tests.e2e.conftest import CHROMIUM, serving
from tests.e2e.simulator_steps import book_contact_by_postcode_in, shot

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Chromium DevTools' "Slow 3G": 400 ms round trips, 400 kbit/s down and up.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400 * 1024 // 8,
           "uploadThroughput": 400 * 1024 // 8}
FIRST_LOAD_BUDGET = 100_000  # bytes, the limit


@pytest.fixture(scope="module")
def demo_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m simulator` (bot, API, fake Telegram for the partner group, worker, and the
    web chat at /chat) on a temporary SQLite database, the web chat on Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('web')}/demo.db"
    env["WEBCHAT_REDIS_URL"] = REDIS_URL
    env["WEBCHAT_REDIS_PREFIX"] = f"webchat-e2e-{uuid.uuid4().hex[:10]}"
    with serving(["simulator"], env, "the demo") as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is required for browser tests: apt-get install chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


def phone(browser: Browser, locale: str) -> Page:
    """A 390-px phone whose browser speaks ``locale``, on a Slow 3G line."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    return page


def test_an_arabic_booking_on_the_web_chat_with_the_counsellor_then_leave_and_come_back(
        demo_web: str, browser: Browser) -> None:
    t = Translations.load(str(DEFAULT_LOCALES_DIR), ["ar"], "messages").gettext
    person = phone(browser, "ar")
    asked: list[str] = []
    person.on("request", lambda request: asked.append(request.url))

    # First load: the page, its stylesheet and script; Arabic, right to left.
    person.goto(f"{demo_web}/chat")
    person.wait_for_load_state("load")
    loaded = person.evaluate("""[...performance.getEntriesByType('navigation'),
        ...performance.getEntriesByType('resource')].map(
        e => [e.name, e.transferSize, e.decodedBodySize])""")
    first_load = sum(int(size) for _, _, size in loaded)
    first_transferred = sum(int(size) for _, size, _ in loaded)
    assert len(loaded) == 3, loaded  # the page, chat.css, chat.js: nothing else
    assert first_load < FIRST_LOAD_BUDGET, loaded
    assert first_transferred < FIRST_LOAD_BUDGET, loaded
    print(f"first load: {first_load} bytes, {first_transferred} over the wire")
    expect(person.locator("html")).to_have_attribute("dir", "rtl")
    expect(person.locator("html")).to_have_attribute("lang", "ar")
    expect(person.locator("#leave")).to_have_text(t("Leave quickly"))
    assert person.evaluate("document.cookie") == ""  # nothing readable by a script, ever

    # Start: the conversation opens with its code, and the bot greets in Arabic.
    person.get_by_role("button", name=t("Start"), exact=True).click()
    code_shown = person.locator(".notice.n-code strong.code")
    expect(code_shown).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}$"), timeout=20_000)
    code = code_shown.inner_text()
    expect(person.locator(".msg.bot").last.get_by_role(
        "button", name=t("Yes, in a reception centre"), exact=True)).to_be_visible(
        timeout=20_000)
    cookie = next(c for c in person.context.cookies() if c["name"] == "chat_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/chat"
    shot(person, "webchat-ar-start")

    # The booking, every label in Arabic (the same steps as on Telegram).
    reference = book_contact_by_postcode_in(person, t, "9000", web=True)
    shot(person, "webchat-ar-booked")

    # The counsellor, in the partner group (Telegram, the simulator's tab): accepts, writes.
    group = browser.new_context(viewport={"width": 390, "height": 844},
                                locale="en-GB").new_page()
    group.goto(f"{demo_web}/simulator")
    group.get_by_role("button", name="👥 Partner group").click()
    card = group.locator(".msg.bot", has_text=reference).last
    expect(card).to_be_visible(timeout=15_000)
    card.locator(".kb button").first.click()  # accept
    expect(card).to_contain_text("Aanvaard, ", timeout=15_000)
    card.locator("button.reply").click()
    group.fill("#text", "Goedendag, ik kan u morgen om 10 uur zien.")
    group.press("#text", "Enter")

    # The person reads it on the web chat and answers.
    from_counsellor = person.locator(".msg.bot", has_text="Goedendag, ik kan u morgen")
    expect(from_counsellor).to_have_count(1, timeout=20_000)
    person.fill("#text", "شكرا، سآتي غدا")
    person.press("#text", "Enter")
    person.get_by_role("button", name=t("✉️ Send it"), exact=True).click()
    expect(group.locator(".msg", has_text="شكرا، سآتي غدا")).to_have_count(1, timeout=20_000)
    shot(person, "webchat-ar-relay")

    # Leave quickly: the page is gone at once, and so is the cookie.
    person.locator("#leave").click()
    person.wait_for_url("about:blank", timeout=10_000)
    assert not [c for c in person.context.cookies() if c["name"] == "chat_session"]

    # Coming back on the same phone: a fresh start, nothing of the conversation shows...
    person.goto(f"{demo_web}/chat")
    expect(person.get_by_role("button", name=t("Start"), exact=True)).to_be_visible()
    expect(person.locator(".msg")).to_have_count(0)
    # ... until the code is given (lower case and without the dash are fine).
    person.get_by_role("button", name=t("I have a code"), exact=True).click()
    person.locator("#code").fill(code.replace("-", "").lower())
    person.get_by_role("button", name=t("Open"), exact=True).click()
    expect(person.locator(".msg.bot", has_text="Goedendag, ik kan u morgen")).to_have_count(
        1, timeout=20_000)
    expect(person.locator(".msg.mine", has_text="شكرا، سآتي غدا")).to_have_count(1)
    shot(person, "webchat-ar-back")

    # Every request went to the demo's own origin (no CDN, font or analytics).
    own = urlsplit(demo_web).netloc
    others = {urlsplit(u).netloc for u in asked if not u.startswith(("about:", "data:"))}
    assert others == {own}, others


def test_the_web_chat_works_by_keyboard_and_speaks_to_screen_readers(
        demo_web: str, browser: Browser) -> None:
    """No mouse: "Leave quickly" comes first, Start and the bot's buttons are reachable and
    pressed with the keyboard, the menu opens; the conversation is a live log, notices a
    status, the input has a name."""
    page = browser.new_context(viewport={"width": 390, "height": 844},
                               locale="en-GB").new_page()
    page.goto(f"{demo_web}/chat?start=QR_gent_7")  # an outreach worker's link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "leave"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "menu-btn"
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("status")).to_have_count(1)
    for _ in range(6):  # on to Start
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "start":
            break
    assert page.evaluate("document.activeElement.id") == "start"
    page.keyboard.press("Enter")
    expect(log.locator(".msg.mine").first).to_have_text("/start QR_gent_7")  # as Telegram's
    first = log.get_by_role("button", name="No", exact=True)
    expect(first).to_be_visible(timeout=20_000)
    first.focus()
    page.keyboard.press("Enter")
    expect(log.locator(".msg.bot").last).to_contain_text("What would you like to know?",
                                                         timeout=20_000)
    box = page.get_by_role("textbox", name="Your message")
    box.focus()
    page.keyboard.type("/help")
    page.keyboard.press("Enter")
    expect(box).to_have_value("")
    assert page.evaluate("document.activeElement.id") == "text"  # focus stays for the next
    menu = page.locator("#menu-btn")
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#menu")).to_contain_text("/forget", timeout=10_000)
    shot(page, "webchat-en-keyboard")
