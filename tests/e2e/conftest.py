"""Shared by the browser tests: Debian's Chromium driven by Playwright (no browser download),
and helpers to start the project's servers as subprocesses."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from bot.settings import PROJECT_DIR

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT_DIR / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def page() -> Iterator[Page]:
    """A phone-sized page in headless Chromium; screenshots go to ./screenshots."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is required for browser tests: apt-get install chromium")
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
        yield context.new_page()
        browser.close()
