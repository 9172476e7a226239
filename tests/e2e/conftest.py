"""Shared by the browser tests: Debian's Chromium driven by Playwright (no browser download),
and helpers to start the project's servers as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from bot.settings import PROJECT_DIR
from tests.harness import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = PROJECT_DIR / "screenshots"


@contextmanager
def serving(module_args: list[str], env: dict[str, str] | None = None,
            what: str = "the server") -> Iterator[str]:
    """Run ``python -m <module_args> --port <free port>`` until the block ends; yield its URL
    once /healthz answers (60 s at most)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", *module_args, "--port", str(port)],
                            cwd=PROJECT_DIR, env=env if env is not None else dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"{what} did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m simulator` (bot, API, fake Telegram, worker) on a temporary SQLite database,
    once per test module; yields its URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo')}/demo.db"
    with serving(["simulator"], env, "the demo") as url:
        yield url


def referral_api_command(args: list[str], env: dict[str, str]) -> None:
    """`python -m referral_api <args>` (upgrade, create-account, …) with this environment."""
    subprocess.run([sys.executable, "-m", "referral_api", *args], cwd=PROJECT_DIR, env=env,
                   check=True, capture_output=True, timeout=60)


def migrated_api_env(folder: Path, **settings: str) -> dict[str, str]:
    """The environment of `python -m referral_api` on a new, migrated SQLite database in
    `folder` (no Redis, no bot token, demo keys; plain http on 127.0.0.1), plus `settings`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("BOT_TOKEN", "REDIS_URL", "DATA_KEY", "STAFF_SESSION_SECRET")}
    env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{folder}/api.db",
                "STAFF_COOKIE_SECURE": "false", **settings})
    referral_api_command(["upgrade"], env)
    return env
