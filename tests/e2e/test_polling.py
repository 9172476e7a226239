"""End to end: `python -m bot` as a subprocess, polling the simulator's Bot API over HTTP,
while a person chats through the simulator's web API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.settings import PROJECT_DIR
from tests.conftest import REDIS_URL
from tests.e2e.conftest import serving

USER = 777001


@pytest.fixture
def simulator() -> Iterator[str]:
    with serving(["uvicorn", "simulator.server:create_app", "--factory", "--host", "127.0.0.1",
                  "--log-level", "warning"], what="the simulator") as url:
        yield url


@pytest.fixture
def bot_process(simulator: str, prefix: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "BOT_TOKEN": "5555:e2e-token", "TELEGRAM_API_URL": simulator,
           "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=PROJECT_DIR, env=env)
    yield proc
    proc.terminate()
    proc.wait(timeout=15)


class WebPerson:
    def __init__(self, url: str) -> None:
        self.url = url
        self.after = 0
        self.messages: dict[int, dict[str, Any]] = {}

    def send(self, text: str) -> None:
        httpx.post(f"{self.url}/simulator/api/send",
                   json={"user_id": USER, "language_code": "en", "text": text}).raise_for_status()

    def press(self, label: str) -> None:
        for message in reversed(list(self.messages.values())):
            for row in message["buttons"]:
                for button in row:
                    if button["text"] == label:
                        httpx.post(f"{self.url}/simulator/api/press", json={
                            "user_id": USER, "language_code": "en",
                            "message_id": message["message_id"], "data": button["data"],
                        }).raise_for_status()
                        return
        raise AssertionError(f"no button {label!r}")

    def wait_for(self, needle: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = httpx.get(f"{self.url}/simulator/api/events",
                               params={"chat_id": USER, "after": self.after, "wait": 2},
                               timeout=5).json()["events"]
            for event in events:
                self.after = event["seq"]
                if event["kind"] in ("message", "edit") and not event["message"]["mine"]:
                    self.messages[event["message"]["message_id"]] = event["message"]
            for message in self.messages.values():
                if needle in message["html"]:
                    return message
        raise AssertionError(f"the bot never said {needle!r}")


def test_a_journey_through_the_real_polling_bot(
    simulator: str, bot_process: subprocess.Popen[bytes]
) -> None:
    person = WebPerson(simulator)
    person.send("/start")
    person.wait_for("Do you live in a reception centre")
    person.press("No")
    person.wait_for("What would you like to know?")
    person.press("What help is there?")
    person.wait_for("depends on your")
    person.press("Money at departure")
    person.wait_for("Which country would you return to?")
    person.press("Another country")
    premium = person.wait_for("€350")
    assert "🏠 Main menu" in [b["text"] for row in premium["buttons"] for b in row]
    assert bot_process.poll() is None  # still running: nothing crashed
    commands = httpx.post(f"{simulator}/bot5555:e2e-token/getMyCommands",
                          json={"language_code": "nl"}).json()["result"]
    assert [c["command"] for c in commands][:2] == ["start", "menu"]


def test_python_m_bot_without_a_token_gives_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: BOT_TOKEN is not set: put it in the environment or in .env"]
