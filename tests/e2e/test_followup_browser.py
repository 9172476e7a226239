"""Follow-up after return (issue 8, docs/followup.md) in a real browser (Debian's Chromium
driven by Playwright), against `python -m simulator` (the demo: bot, API, fake Bot API server
and outbox worker in one process, with demo staff accounts). Done when "a returnee can answer
a wave in the simulator in their language":

1. a person whose Telegram app is in Georgian books a contact with the Ghent desk and says yes
   to the separate follow-up question;
2. the Ghent counsellor marks the referral returned (Georgia, Caritas);
3. the coordinator sends the next wave now (the demo form on /staff/followup);
4. the person gets the wave in Georgian, presses Start, answers every question and is thanked
   in Georgian; the coordinator's report then counts the answers.

Screenshots at phone width (390 px) go to ./screenshots.
"""

from __future__ import annotations

from datetime import date, timedelta

from babel.support import Translations
from playwright.sync_api import Dialog, Page, expect

from bot.notices import FOLLOWUP_WAVE
from bot.settings import DEFAULT_LOCALES_DIR
from tests.e2e.simulator_steps import book_contact_by_postcode_in, log_in, open_chat_in, shot

LANG = "ka"
COUNSELLOR = ("gent@demo.local", "demo-counsellor-pass")  # simulator/demo.py: fedasil-gent
COORDINATOR = ("coordinator@demo.local", "demo-coordinator-pass")
# flows/followup.yaml, in the order the first button of each screen leads through
QUESTIONS = (
    "How did you first hear about the voluntary return programme?",
    "What was the most important reason for your decision to return?",
    "What was the second most important reason?",
    "And the third most important reason?",
    "Do you have a regular income now (work, a business or other)?",
    "Can you pay for basic needs such as food, rent and bills?",
    "How is your housing?",
    "Can you get health care when you need it?",
    "Do the school-age children in your household go to school?",
    "Do you feel part of the community where you live?",
    "Do you wish to migrate again?",
    "How satisfied are you with the support you received for your return and after it?",
)
THANKS = ("Thank you. Your answers help the programme to support people better after their "
          "return. We do not share them with anyone in a way that shows who you are.")


def georgian(msgid: str) -> str:
    """The Georgian catalogue's translation; a missing one fails the test (not English)."""
    text = str(CATALOGUE.gettext(msgid))
    assert text != msgid, f"no Georgian translation for {msgid!r}"
    return text


CATALOGUE = Translations.load(str(DEFAULT_LOCALES_DIR), [LANG], "messages")


def test_a_returnee_answers_a_wave_in_georgian(demo: str, page: Page) -> None:
    dialogs: list[str] = []

    def no_dialog(dialog: Dialog) -> None:  # none is expected: record it and close it
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", no_dialog)

    # 1. the person books with the Ghent desk and agrees to the follow-up questions
    open_chat_in(page, demo, LANG, georgian)
    reference = book_contact_by_postcode_in(page, georgian, "9000", followup=True)

    # 2. the Ghent counsellor marks the referral returned
    staff = page.context.new_page()
    staff.on("dialog", no_dialog)
    log_in(staff, demo, *COUNSELLOR)
    staff.get_by_role("link", name=reference).click()
    expect(staff.get_by_role("heading", name=f"Reference {reference}")).to_be_visible()
    expect(staff.locator("main")).to_contain_text(LANG)  # the referral's language
    staff.locator("#return-country-select").select_option("GE")
    staff.locator("#return-date").fill((date.today() - timedelta(days=7)).isoformat())
    staff.locator("#reintegration-partner").select_option("caritas")
    staff.locator("form[action$='/returned'] button[type=submit]").click()
    expect(staff.get_by_role("status")).to_have_text("Saved.")
    expect(staff.locator("#status")).to_have_text("Returned")
    expect(staff.locator("#return-country")).to_contain_text("(GE)")
    staff.get_by_role("button", name="Log out").click()

    # 3. the coordinator sends the next wave now (demo only)
    log_in(staff, demo, *COORDINATOR)
    staff.goto(f"{demo}/staff/followup")
    expect(staff.get_by_role("heading", name="Demo: send the next follow-up wave now")
           ).to_be_visible()
    expect(staff.locator("p.empty", has_text="No answers yet.")).to_have_count(8)
    staff.get_by_label("Reference").fill(reference)
    staff.get_by_role("button", name="Send the next wave now").click()
    expect(staff.get_by_role("status")).to_have_text("Wave 1 queued.")

    # 4. the person gets the wave in Georgian and answers it
    page.bring_to_front()
    wave = page.locator(".msg.bot", has_text=georgian(FOLLOWUP_WAVE)[:40])
    expect(wave).to_have_count(1, timeout=15_000)
    expect(wave).to_contain_text(georgian(FOLLOWUP_WAVE))
    expect(wave.get_by_role("button")).to_have_text(
        [georgian("▶️ Start"), georgian("Later"), georgian("Stop these questions")])
    assert page.locator(".msg.bot", has_text="Hello again").count() == 0  # not in English
    shot(page, "followup-wave-ka")

    wave.get_by_role("button", name=georgian("▶️ Start"), exact=True).click()
    questionnaire = page.locator(".msg.bot").last
    for question in QUESTIONS:
        expect(questionnaire).to_contain_text(georgian(question), timeout=10_000)
        assert question not in questionnaire.inner_text()
        questionnaire.get_by_role("button").first.click()
    thanks = page.locator(".msg.bot", has_text=georgian(THANKS)[:40])
    expect(thanks).to_have_count(1, timeout=10_000)
    expect(thanks).to_contain_text(georgian(THANKS))
    assert page.locator(".msg.bot", has_text="Thank you. Your answers").count() == 0
    shot(page, "followup-thanks-ka")

    # the answers reached the report: every dimension question now has one
    staff.bring_to_front()
    staff.goto(f"{demo}/staff/followup")
    expect(staff.locator("p.empty", has_text="No answers yet.")).to_have_count(0)
    assert dialogs == []
