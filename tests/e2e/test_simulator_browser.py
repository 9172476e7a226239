"""The simulator web chat in a real browser (Debian's Chromium driven by Playwright), against
`python -m simulator`: the demo a newcomer gets from `make demo`."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.simulator_steps import book_contact_by_postcode, open_chat


def test_a_person_chats_with_the_bot_in_the_browser(demo: str, page: Page) -> None:
    page.goto(f"{demo}/simulator")
    page.select_option("#lang", "en")
    expect(page.locator(".msg.bot").last).to_contain_text("Do you live in a reception centre",
                                                          timeout=15_000)
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.locator(".msg.bot").last).to_contain_text("What would you like to know?")
    page.get_by_role("button", name="What help is there?").click()
    expect(page.locator(".msg.bot").last).to_contain_text("depends on your")
    page.get_by_role("button", name="Money at departure").click()
    expect(page.locator(".msg.bot").last).to_contain_text("Which country would you return to?")
    page.get_by_role("button", name="Another country").click()
    expect(page.locator(".msg.bot").last).to_contain_text("Under the rules of 2022")
    expect(page.locator(".msg.bot").last).to_contain_text("€350")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "simulator-en.png"), full_page=True)

    # typed text is shown as text, never as markup
    page.fill("#text", '<img src=x onerror="document.title=\'pwned\'">')
    page.press("#text", "Enter")
    expect(page.locator(".msg.me").last).to_contain_text("<img src=x")
    expect(page.locator(".msg.bot").last).to_contain_text("I do not understand typed messages")
    assert page.title() != "pwned"
    assert page.locator(".msg.me img").count() == 0


def test_the_simulator_follows_the_app_language(demo: str, page: Page) -> None:
    page.goto(f"{demo}/simulator")
    page.evaluate("localStorage.clear()")
    page.evaluate("localStorage.setItem('sim-lang', 'nl')")
    page.reload()
    expect(page.locator(".msg.bot").last).to_contain_text("opvangcentrum", timeout=15_000)
    page.screenshot(path=str(SCREENSHOTS / "simulator-nl.png"), full_page=True)


def test_a_booking_seen_from_both_sides(demo: str, page: Page) -> None:
    """The person books a contact by postcode; the counsellor, in the partner group tab,
    accepts it and sees the same card edited in place (new status, buttons that fit it); the
    person is told."""
    open_chat(page, demo)
    reference = book_contact_by_postcode(page, "9000")
    page.screenshot(path=str(SCREENSHOTS / "booking-person.png"), full_page=True)

    page.get_by_role("button", name="👥 Partner group").click()
    # the card is in the partner's language (the Ghent desk: Dutch); Accept is its first button
    card = page.locator(".msg.bot", has_text=reference).last
    expect(card).to_be_visible(timeout=10_000)
    expect(card).to_contain_text("Nieuwe doorverwijzing")
    expect(card.locator(".kb button").first).to_have_text("Aanvaarden")
    card.locator(".kb button").first.click()
    # one card per referral, kept current: the same message is edited, no second card posted
    expect(card).to_contain_text("Aanvaard, ", timeout=10_000)
    expect(card.locator(".edited")).to_be_visible()
    expect(card.locator(".kb button", has_text="Aanvaarden")).to_have_count(0)
    expect(card.locator(".kb button").first).to_have_text("Gecontacteerd")
    expect(page.locator(".msg.bot", has_text=reference)).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "booking-group.png"), full_page=True)

    page.get_by_role("button", name="👤 Person").click()
    expect(page.locator(".msg.bot", has_text="accepted your request")).to_have_count(
        1, timeout=10_000)


def test_arabic_reads_right_to_left(demo: str, page: Page) -> None:
    page.goto(f"{demo}/simulator")
    page.evaluate("localStorage.clear()")
    page.evaluate("localStorage.setItem('sim-lang', 'ar')")
    page.reload()
    message = page.locator(".msg.bot").last
    expect(message).to_be_visible(timeout=15_000)
    assert message.evaluate("el => getComputedStyle(el).direction") == "rtl"
    page.screenshot(path=str(SCREENSHOTS / "simulator-ar.png"), full_page=True)


def test_a_right_to_left_keyboard_is_drawn_once_in_reading_order(demo: str, page: Page) -> None:
    """The bot sends Arabic navigation already in reading order (Back on the right); the
    simulator draws rows as sent, as Telegram does, and never mirrors them a second time."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo}/simulator")
    page.evaluate("localStorage.clear()")
    page.evaluate("localStorage.setItem('sim-lang', 'ar')")
    page.reload()
    bot = page.locator(".msg.bot")
    expect(bot.last).to_contain_text("مركز استقبال", timeout=15_000)
    bot.last.get_by_role("button").nth(1).click()  # No
    bot.last.get_by_role("button").nth(1).click()  # a topic
    page.wait_for_timeout(500)
    bot.last.get_by_role("button").nth(0).click()  # deeper: a screen with Back and Main menu
    page.wait_for_timeout(500)
    row = bot.last.locator(".kb .row").last.get_by_role("button")
    texts = [row.nth(i).inner_text() for i in range(row.count())]
    assert "➡️" in texts[-1]  # Back, the last button sent: drawn on the right
    left, right = row.nth(0).bounding_box(), row.nth(row.count() - 1).bounding_box()
    assert left is not None and right is not None and left["x"] < right["x"]
