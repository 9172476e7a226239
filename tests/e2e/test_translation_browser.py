"""Review in context, in a real browser (issue 18): a translator (a partner's cultural mediator)
logs in, sees the bot's welcome in Arabic as a person sees it (right to left, beside the
English), corrects one string; after `python -m referral_api translations import` and a
compile, the real bot says the corrected text. A counsellor gets 404 on the page."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from bot.app import create_bot, create_dispatcher
from bot.settings import Settings
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.conftest import TEST_TOKEN
from tests.e2e.conftest import (
    PROJECT_DIR,
    SCREENSHOTS,
    migrated_api_env,
    referral_api_command,
    serving,
)
from tests.e2e.simulator_steps import log_in
from tests.harness import Harness

PASSWORD = "a long staff password for the mediator"
MEDIATOR = "mediator@partner.example"
COUNSELLOR = "anna@desk.example"
CORRECTED = "مرحبًا. هنا تجد معلومات مجانية ومحايدة عن العودة الطوعية. هل تعيش في مركز استقبال؟"


@dataclass(frozen=True)
class Api:
    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = migrated_api_env(tmp_path_factory.mktemp("translations"))
    referral_api_command(["seed-partners", str(PROJECT_DIR.parent / "shared" / "data" /
                                               "partners.yaml")], env)
    referral_api_command(["create-account", "--email", MEDIATOR, "--password", PASSWORD,
                          "--role", "translator", "--languages", "ar", "--locale", "en"], env)
    referral_api_command(["create-account", "--email", COUNSELLOR, "--password", PASSWORD,
                          "--role", "counsellor", "--partner", "fedasil-gent",
                          "--locale", "en"], env)
    with serving(["referral_api"], env, "the API") as url:
        yield Api(url, env)


async def welcome_in_arabic(locales: Path) -> str:
    """What the real bot (Dispatcher, engine, compiled catalogues of ``locales``) answers an
    Arabic speaker's /start."""
    settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=None,
                        telegram_api_url=None, locales_dir=locales)
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = create_dispatcher(settings)
    person = Harness(fake, bot, dp).person(4242, "ar")
    await person.send("/start")
    await dp.storage.close()
    return person.text


def in_a_thread(work: Coroutine[Any, Any, str]) -> str:
    """Playwright's sync API keeps an event loop in this thread: the bot runs in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def test_a_mediator_corrects_an_arabic_string_in_context_and_the_bot_says_it(
        api: Api, page: Page, tmp_path: Path) -> None:
    log_in(page, api.url, MEDIATOR, PASSWORD)
    expect(page.get_by_role("heading", name="Translations")).to_be_visible()
    page.get_by_role("link", name="العربية").click()
    page.get_by_role("link", name="menu").click()
    welcome = page.locator("#screen-menu\\.welcome")
    bubble = welcome.locator(".phone:not(.english) .bubble")
    expect(bubble).to_have_attribute("dir", "rtl")
    expect(bubble).to_have_attribute("lang", "ar")
    expect(welcome.locator(".english .bubble")).to_contain_text("Hello. Here you find free")
    box = bubble.bounding_box()
    assert box is not None
    welcome.get_by_text("Texts on this screen").click()
    first = welcome.locator("form.string").first
    field = first.get_by_label("Translation")
    expect(field).to_have_attribute("dir", "rtl")
    field.fill(CORRECTED)
    first.get_by_role("button", name="Save my correction").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    welcome = page.locator("#screen-menu\\.welcome")
    expect(welcome.locator(".phone:not(.english) .bubble")).to_contain_text(CORRECTED)
    page.screenshot(path=str(SCREENSHOTS / "translation-review-ar.png"), full_page=False)

    # The team imports the reviews into a copy of the catalogues, compiles, and the bot says it.
    locales = tmp_path / "locales"
    shutil.copytree(PROJECT_DIR / "locales", locales,
                    ignore=shutil.ignore_patterns("*.mo"))
    referral_api_command(["translations", "import", "--locales", str(locales)], api.env)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-d",
                    str(locales), "-D", "messages"], check=True, capture_output=True)
    assert CORRECTED not in in_a_thread(welcome_in_arabic(PROJECT_DIR / "locales"))
    assert CORRECTED in in_a_thread(welcome_in_arabic(locales))


def test_a_counsellor_gets_404_on_the_translation_pages(api: Api, page: Page) -> None:
    log_in(page, api.url, COUNSELLOR, PASSWORD)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    response = page.goto(f"{api.url}/staff/translations/ar")
    assert response is not None and response.status == 404
    expect(page.get_by_role("link", name="Translations")).to_have_count(0)
