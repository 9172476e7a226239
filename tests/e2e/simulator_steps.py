"""Steps in the simulator web chat shared by the browser tests."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from bot.engine.flows import load_flows
from bot.settings import DEFAULT_FLOWS_DIR
from tests.e2e.conftest import SCREENSHOTS


def screen_text(flow: str, node: str) -> str:
    """A screen's English text (its msgid), as flows/ has it."""
    found = load_flows(DEFAULT_FLOWS_DIR).flows[flow].nodes[node]
    return str(getattr(found, "say", None) or getattr(found, "ask", ""))


def open_chat(page: Page, demo: str, lang: str = "en") -> None:
    """The simulator, fresh, in one language, once the bot has greeted the person."""
    page.goto(f"{demo}/simulator")
    page.evaluate("localStorage.clear()")
    page.evaluate(f"localStorage.setItem('sim-lang', '{lang}')")
    page.reload()
    expect(page.locator(".msg.bot").last).to_contain_text("Do you live in a reception centre",
                                                          timeout=15_000)


def book_contact_by_postcode(page: Page, postcode: str = "9000") -> str:
    """The person books a "write to me here" contact with the nearest partner to a postcode,
    information only, sharing after consent; the reference the bot gives."""
    bot = page.locator(".msg.bot")
    page.get_by_role("button", name="No", exact=True).click()
    page.get_by_role("button", name="📍 Find help near me").click()
    page.get_by_role("button", name="Find places near me").click()
    page.get_by_role("button", name="Skip the questions").click()
    page.get_by_role("button", name="Type a postcode").click()
    expect(bot.last).to_contain_text("Belgian postcode")
    page.fill("#text", postcode)
    page.press("#text", "Enter")
    expect(bot.last).to_contain_text("These places are nearest", timeout=10_000)
    page.locator(".msg.bot").last.get_by_role("button").first.click()
    page.get_by_role("button", name="Write to me here").click()
    page.get_by_role("button", name="No", exact=True).click()
    page.get_by_role("button", name="Information only").click()
    expect(bot.last).to_contain_text("We will send to")
    page.get_by_role("button", name="Continue", exact=True).click()  # consent, step 1 of 2
    expect(bot.last).to_contain_text("Do you agree?")
    page.get_by_role("button", name="✅ Yes, share").click()
    page.get_by_role("button", name="No, thank you").click()  # the follow-up question
    done = page.locator(".msg.bot", has_text="Your reference")
    expect(done).to_have_count(1, timeout=10_000)
    return done.inner_text().split("Your reference:")[1].split()[0].strip("\u2068\u2069")


def open_chat_in(page: Page, demo: str, lang: str, t: Callable[[str], str]) -> None:
    """open_chat for a person whose Telegram app is in `lang` (`t`: that language's gettext):
    ready once the greeting shows its first answer in that language."""
    page.goto(f"{demo}/simulator")
    page.evaluate("localStorage.clear()")
    page.evaluate(f"localStorage.setItem('sim-lang', '{lang}')")
    page.reload()
    expect(page.locator(".msg.bot").last.get_by_role(
        "button", name=t("Yes, in a reception centre"), exact=True)).to_be_visible(
        timeout=15_000)


def book_contact_by_postcode_in(page: Page, t: Callable[[str], str], postcode: str = "9000",
                                *, followup: bool = False, web: bool = False) -> str:
    """book_contact_by_postcode with every label in the person's language (`t`: its gettext);
    `followup`: the answer to "May we send you a few questions after your return?"; `web`:
    on the web chat (its own consent and follow-up screens, flows/booking.yaml)."""
    bot = page.locator(".msg.bot")

    def press(label: str) -> None:
        page.get_by_role("button", name=t(label), exact=True).click()

    def fragment(msgid: str) -> str:
        """The longest literal line of a translated template (placeholders move; a /command
        is isolated in right-to-left text, bot.i18n.isolate)."""
        parts = re.split(r"\{\w+\}|\n|/\w+", t(msgid))
        return max((part.strip(" :") for part in parts), key=len)

    press("No")
    press("📍 Find help near me")
    press("Find places near me")
    press("Skip the questions")
    press("Type a postcode")
    expect(bot.last).to_contain_text(t("Type a Belgian postcode, for example 1000 or 9000."))
    page.fill("#text", postcode)
    page.press("#text", "Enter")
    expect(bot.last).to_contain_text(fragment("These places are nearest to {place}:"),
                                     timeout=10_000)
    bot.last.get_by_role("button").first.click()
    press("Write to me here")
    press("No")
    press("Information only")
    expect(bot.last).to_contain_text(fragment(screen_text("booking", "consent")))
    press("Continue")  # consent, step 1 of 2
    press("✅ Yes, share")
    expect(bot.last).to_contain_text(fragment(screen_text(
        "booking", "followup_web" if web else "followup")))
    press("Yes, you may ask me" if followup else "No, thank you")
    done = page.locator(".msg.bot", has_text=fragment(screen_text("booking", "booked_contact")))
    expect(done).to_have_count(1, timeout=10_000)
    found = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", done.inner_text())
    assert found is not None, done.inner_text()
    return found.group(0)


def log_in(staff: Page, demo: str, email: str, password: str) -> None:
    """Log in to the staff app of the demo."""
    staff.goto(f"{demo}/staff/login")
    expect(staff.get_by_role("heading", name="Log in")).to_be_visible()
    staff.get_by_label("E-mail address").fill(email)
    staff.get_by_label("Password", exact=True).fill(password)
    staff.get_by_role("button", name="Log in").click()
    expect(staff.get_by_role("button", name="Log out")).to_be_visible()


def shot(page: Page, name: str) -> None:
    """A full-page screenshot; the page fits the phone's width (no sideways scrolling)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
