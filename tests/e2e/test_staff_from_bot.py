"""The staff web app and the bot together, in a real browser (Debian's Chromium driven by
Playwright), against `python -m simulator` (the demo: bot, API, fake Bot API server and outbox
worker in one process, with demo staff accounts):

* a referral made through the bot appears in the counsellor's inbox, the counsellor accepts it
  and writes a message, and the person receives both in the Telegram chat;
* an admin edits a partner (a field error shown next to the field, text never run as markup),
  sets its opening windows and deactivates an account.

Screenshots at phone width (390 px) go to ./screenshots.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.simulator_steps import book_contact_by_postcode, log_in, open_chat, shot

COUNSELLOR = ("gent@demo.local", "demo-counsellor-pass")  # simulator/demo.py: fedasil-gent
ADMIN = ("admin@demo.local", "demo-admin-pass")
REPLY = "We will call you on Monday <b>9:00</b> & please bring your papers."
XSS_NAME = '<img src=x onerror="document.title=\'pwned\'">'


def test_a_referral_from_the_bot_is_accepted_and_answered_in_the_browser(
        demo: str, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_chat(page, demo)
    reference = book_contact_by_postcode(page, "9000")  # the Ghent return desk

    staff = page.context.new_page()
    staff.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(staff, demo, *COUNSELLOR)
    expect(staff.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(staff.get_by_role("link", name="New")).to_have_attribute("aria-current", "page")
    shot(staff, "staff-inbox")
    staff.get_by_role("link", name=reference).click()
    expect(staff.get_by_role("heading", name=f"Reference {reference}")).to_be_visible()
    expect(staff.locator("#status")).to_have_text("New")
    expect(staff.get_by_text("Telegram message", exact=True)).to_be_visible()

    staff.get_by_role("button", name="Accept").click()
    expect(staff.get_by_role("status")).to_have_text("Saved.")
    expect(staff.locator("#status")).to_have_text("Accepted")
    staff.get_by_label("Send a message to the person").fill(REPLY)
    staff.get_by_role("button", name="Send").click()
    expect(staff.get_by_role("status")).to_have_text("Message queued for the person.")
    expect(staff.locator(".msg.out .text")).to_have_text(REPLY)
    shot(staff, "staff-referral-accepted")

    # the person's Telegram chat (the fake Bot API server) gets both, the message as text
    page.bring_to_front()
    page.get_by_role("button", name="👤 Person").click()
    accepted = page.locator(".msg.bot", has_text="accepted your request")
    expect(accepted).to_have_count(1, timeout=15_000)
    expect(accepted).to_contain_text(reference)
    relayed = page.locator(".msg.bot", has_text="please bring your papers")
    expect(relayed).to_have_count(1, timeout=15_000)
    expect(relayed).to_contain_text(REPLY)
    assert relayed.locator("b", has_text="9:00").count() == 0  # not turned into markup
    shot(page, "staff-person-chat")

    # the inbox moved it to the "accepted" tab
    staff.bring_to_front()
    staff.goto(f"{demo}/staff/inbox?tab=accepted")
    expect(staff.get_by_role("link", name=reference)).to_be_visible()
    staff.get_by_role("button", name="Log out").click()
    expect(staff.get_by_role("heading", name="Log in")).to_be_visible()
    assert dialogs == []


def test_an_admin_manages_a_partner_and_an_account(demo: str, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{demo}/staff/login")
    page.keyboard.press("Tab")  # the first stop is the skip link
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    log_in(page, demo, *ADMIN)
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    shot(page, "staff-admin-accounts")

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Partners").click()
    page.get_by_role("link", name="fedasil-brussels").click()
    expect(page.get_by_role("heading", name="Edit partner")).to_be_visible()

    # a wrong postcode: the error is next to the field, nothing is saved
    page.get_by_label("Postcode").fill("12")
    page.get_by_label("Name").fill(XSS_NAME)
    page.get_by_role("button", name="Save partner").click()
    expect(page.get_by_role("alert").first).to_have_text("Please correct the fields marked below.")
    expect(page.locator("#f-postal_code-error")).to_have_text(
        "Enter a Belgian postcode of 4 digits.")
    expect(page.get_by_label("Postcode")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_value(XSS_NAME)
    shot(page, "staff-partner-error")

    page.get_by_label("Postcode").fill("1000")
    page.get_by_label("People per appointment slot (capacity)").fill("2")
    page.get_by_label("Telegram group chat id for notifications").fill("-1001234567890")
    page.get_by_role("button", name="Save partner").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS_NAME)  # text, not markup
    assert page.locator("main img").count() == 0
    assert page.title() != "pwned"
    expect(page.get_by_label("People per appointment slot (capacity)")).to_have_value("2")

    # opening windows: add Saturday morning in the first empty row
    page.get_by_label("Day 11").select_option(label="Saturday")
    page.get_by_label("From 11").fill("09:00")
    page.get_by_label("Until 11").fill("12:00")
    page.get_by_role("button", name="Save opening windows").click()
    expect(page.get_by_role("status")).to_have_text("Opening hours saved.")
    shot(page, "staff-partner-saved")

    # deactivate the Brussels counsellor's account
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name="brussels@demo.local").click()
    page.get_by_role("button", name="Deactivate account").click()
    expect(page.get_by_role("status")).to_have_text(
        "Account deactivated. It was logged out everywhere.")
    expect(page.locator("#account-active")).to_have_text("No")
    shot(page, "staff-account-deactivated")

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Audit log").click()
    for action in ("update_partner", "set_availability", "deactivate_account"):
        expect(page.locator("code", has_text=action).first).to_be_visible()
    assert dialogs == []
