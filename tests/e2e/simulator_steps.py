"""Steps in the simulator web chat shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect


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
    expect(bot.last).to_contain_text("Do you agree?")
    page.get_by_role("button", name="✅ Yes, share").click()
    page.get_by_role("button", name="No, thank you").click()  # the follow-up question
    done = page.locator(".msg.bot", has_text="Your reference")
    expect(done).to_have_count(1, timeout=10_000)
    return done.inner_text().split("Your reference:")[1].split()[0].strip("\u2068\u2069")
