"""Replicas: the production shape scaled out, with one replica of each kind killed mid-run
(issue 16, item 2).

    python bench/replicas.py [--people 1000] [--bookers 200] [--seconds 10] [--think 1]
                             [--kill-signal TERM|KILL] [--no-kill] [--limits strict|documented]
                             [--bulk-rate R] [--pace-replies] [--fake-keep-alive S] [--trace]

What runs, all on one Redis (a fresh key prefix, deleted at the end) and one PostgreSQL database
(created for the run, `conex_bench_replicas_<random>`, dropped at the end):
- 3 bot webhook processes (`python -m bot --webhook`, durable inbox) behind a round-robin front;
- 2 referral API processes (`python -m referral_api`, API_SURFACE=bot) behind a second
  round-robin front, which is the bots' REFERRAL_API_URL;
- 2 outbox workers (`python -m referral_api.outbox`), with the bots' REDIS_PREFIX, so that the
  outbound governor is one for all five Telegram senders;
- the fake Bot API (simulator.botapi) over HTTP in this process, with Telegram's limits enforced
  (`--limits strict`: every message counts against 30 a second; 1 a second per chat, 20 a
  minute per group; `documented`: replies within 10 s of the person's message are exempt from
  the 30 a second, and a chat may take a burst of 3).

The fronts: no haproxy or nginx is installed on the development machines, so both are small
asyncio HTTP proxies in this process (aiohttp, `RoundRobin` below). Each request goes to the next
backend in turn; a backend that refuses the connection is skipped and the request is tried on the
next one (what a load balancer does with a dead backend and its health checks), and is then left
out for a second. A request cut off midway (the backend died with it in hand) is answered 502,
never replayed by the front: Telegram sends a webhook update again after a non-2xx answer (the
people here do too), and the bot shows "not reachable, try again" for a 502 from the API (the
people here then go back and press again, as the screen asks).

The run: `--people` press /start over `--seconds` seconds (an outreach event with a QR code);
`--bookers` of them (every n-th person) then book a contact with a counsellor of one of 20 partner
desks (each in its own city, with its own Telegram group), through the whole flow: not in a
reception centre, find help, skip the questions, type the desk's postcode, choose the nearest
place, "write to me here", no interpreter, travel documents, consent in two steps, no follow-up
questions. Every person sends one update at a time, the next only after the bot's answer arrived
and was read (`--think`: between THINK and 2 × THINK seconds; 0: at once, faster than anyone
reads). When half the bookings are stored, bot replica 0, API replica 0 and worker 0 get
`--kill-signal` (TERM by default, KILL for kill -9) and the run goes on with the others.

Shown, each with its goal (exit code 0 only when every goal is met):
- every person answered; every booker reached the end of the booking;
- 429s in total and after the first second (t0: the first /start), by the limit they hit;
- referrals in the database: exactly one per booker (chat ids decrypted with DATA_KEY), with the
  desk they chose, and the reference they were shown;
- cards in the partner groups: exactly one per referral, in its partner's group;
- no update handled twice: a button press answered twice (answerCallbackQuery twice for one
  query), the same message sent twice in a row to one person, an edit that changed nothing, a
  booking's last press answered "You already have a contact". With kill -9 the killed bot's
  updates in hand are handled again by another replica once its inbox lease runs out (as
  designed: at most what was in flight); repeats within KILL_WINDOW seconds after a kill -9 are
  counted apart and allowed, any other fails the goal;
- per-chat order: each booker's screens arrived in the order of the flow (no earlier screen
  after a later one);
- webhook updates lost (not accepted after 30 of Telegram's retries): none;
- the replicas not killed still run at the end.
`--trace` adds each 429, group messages by 10 s, and the screens of stuck people (or of the first
booker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import uvicorn
from aiohttp import web
from bench_db import drop_database, fresh_database
from cryptography.fernet import Fernet
from telegram_world import (
    LOGS,
    REDIS_URL,
    ROOT,
    SECRET,
    TOKEN,
    clean_redis,
    free_port,
    percentile,
    start_bot,
)

from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.server import create_app

FIRST_PERSON = 3_100_000
COORDINATOR_GROUP = -1009990001
FIRST_GROUP = -1002000000000
# 20 partner desks, each in a city of its own and with a Telegram group of its own (a group
# takes 20 messages a minute: 200 cards over 20 groups is 10 each).
DESKS = [
    ("1000", "Brussel"), ("2000", "Antwerpen"), ("3000", "Leuven"), ("3500", "Hasselt"),
    ("4000", "Liège"), ("5000", "Namur"), ("6000", "Charleroi"), ("6700", "Arlon"),
    ("7000", "Mons"), ("7500", "Tournai"), ("8000", "Brugge"), ("8400", "Oostende"),
    ("8500", "Kortrijk"), ("9000", "Gent"), ("9300", "Aalst"), ("2800", "Mechelen"),
    ("4700", "Eupen"), ("1300", "Wavre"), ("6900", "Marche-en-Famenne"), ("2300", "Turnhout"),
]
UNREACHABLE = "Sorry, this service is not reachable right now"
ALREADY = "You already have a contact with this place"
SORRY = "Sorry, something went wrong"  # the bot's apology when handling an update failed
BACK = "⬅️ Back"
# After a kill -9, the killed bot's updates in hand are handled again by another replica once
# its inbox lease (5 s) runs out: repeats within this many seconds of the kill are those.
KILL_WINDOW = 30.0
REFERENCE = re.compile(r"Your reference: ([A-Z0-9]{4}-[A-Z0-9]{4})")
HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                         "keep-alive"})


# --- the round-robin front -------------------------------------------------------------------

class RoundRobin:
    """A round-robin HTTP front (see the module's docstring)."""

    def __init__(self, name: str, backends: list[str]) -> None:
        self.name = name
        self.backends = backends
        self.turn = itertools.count()
        self.down_until = [0.0] * len(backends)
        self.forwarded: Counter[int] = Counter()
        self.refused = 0  # connections refused, tried again on the next backend
        self.cut_off = 0  # answered 502: the backend died with the request in hand
        self.url = ""

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True),
            timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.session.close()

    def order(self) -> list[int]:
        first = next(self.turn)
        n = len(self.backends)
        candidates = [(first + k) % n for k in range(n)]
        now = time.monotonic()
        up = [i for i in candidates if self.down_until[i] <= now]
        return up + [i for i in candidates if i not in up]

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        for i in self.order():
            try:
                async with self.session.request(request.method,
                                                self.backends[i] + request.path_qs,
                                                data=body, headers=headers) as answer:
                    payload = await answer.read()
                    self.forwarded[i] += 1
                    kept = {k: v for k, v in answer.headers.items()
                            if k.lower() in ("content-type", "retry-after")}
                    return web.Response(status=answer.status, body=payload, headers=kept)
            except aiohttp.ClientConnectorError:  # refused: down, try the next backend
                self.refused += 1
                self.down_until[i] = time.monotonic() + 1.0
            except (aiohttp.ClientError, TimeoutError):
                self.cut_off += 1
                return web.Response(status=502)
        return web.Response(status=502)


# --- what the fake Bot API saw ---------------------------------------------------------------

@dataclass
class Sent:
    at: float
    method: str  # sendMessage or editMessageText / editMessageReplyMarkup
    message_id: int
    text: str
    labels: tuple[str, ...]


@dataclass
class Watch:
    """Every message and edit per chat, 429s with their time, callback answers per query."""

    log: dict[int, list[Sent]] = field(default_factory=dict)
    rejected: list[tuple[float, int]] = field(default_factory=list)  # (time, chat) of 429s
    causes: list[str] = field(default_factory=list)  # each 429's limit (cause_of_429)
    # callback_query_id -> when it was answered (twice: the press was handled twice)
    answers: dict[str, list[float]] = field(default_factory=dict)
    not_modified: list[float] = field(default_factory=list)  # edits that changed nothing

    def install(self, fake: FakeBotAPI) -> None:
        check = fake._check_limits

        def checked(chat_id: int) -> float:
            try:
                return check(chat_id)
            except ApiError as exc:
                if exc.status == 429:
                    self.rejected.append((time.monotonic(), chat_id))
                    self.causes.append(cause_of_429(fake, chat_id))
                raise

        fake._check_limits = checked  # type: ignore[method-assign]
        for method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            fake._methods[method] = self._recording(method, fake._methods[method])
        answer = fake._methods["answerCallbackQuery"]

        async def answered(token: str, params: dict[str, Any]) -> Any:
            self.answers.setdefault(str(params.get("callback_query_id")), []).append(
                time.monotonic())
            return await answer(token, params)

        fake._methods["answerCallbackQuery"] = answered

    def _recording(self, method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        async def record(token: str, params: dict[str, Any]) -> Any:
            try:
                message = await original(token, params)
            except ApiError as exc:
                if "not modified" in exc.description:
                    self.not_modified.append(time.monotonic())
                raise
            markup = message.get("reply_markup") or {}
            labels = tuple(b["text"] for row in markup.get("inline_keyboard", []) for b in row)
            self.log.setdefault(int(message["chat"]["id"]), []).append(
                Sent(time.monotonic(), method, int(message["message_id"]),
                     message.get("text", ""), labels))
            return message

        return record


def cause_of_429(fake: FakeBotAPI, chat: int) -> str:
    """Which of the fake's limits a 429 came from: "chat" (a message to this chat less than a
    second ago), "group" (20 a minute), "overall" (30 a second)."""
    now = fake.clock()
    last = fake._last_sent.get(chat)
    if fake.limits == "strict" and last is not None and now - last < 1.0:
        return "chat"
    sent = fake._chat_sent.get(chat)
    if fake.limits == "documented" and sent is not None and len(sent) >= 3 \
            and now - sent[0] < 3.0:
        return "chat"
    group = fake._group_sent.get(chat)
    if group is not None and len(group) >= 20 and now - group[0] < 60.0:
        return "group"
    return "overall"


# --- the people ------------------------------------------------------------------------------

Check = Callable[["Person"], bool]


def button(label: str) -> Check:
    def shown(p: Person) -> bool:
        return any(t == label for t, _ in p.buttons())
    return shown


def text(fragment: str) -> Check:
    def shown(p: Person) -> bool:
        return any(fragment in m.get("text", "") for m in p.bot_messages())
    return shown


def booking_steps(postcode: str, desk: str) -> list[tuple[str, str, Check]]:
    """(send | press, what, the screen that answers it), from /start to the booking done."""
    return [
        ("send", "/start", button("Yes, in a reception centre")),
        ("press", "No", button("📍 Find help near me")),
        ("press", "📍 Find help near me", button("Find places near me")),
        ("press", "Find places near me", button("Skip the questions")),
        ("press", "Skip the questions", button("Type a postcode")),
        ("press", "Type a postcode", text("Type a Belgian postcode")),
        ("send", postcode, button(f"1. Contact {desk}")),
        ("press", f"1. Contact {desk}", button("Write to me here")),
        ("press", "Write to me here", button("I do not know")),
        ("press", "No", button("Travel documents")),
        ("press", "Travel documents", button("Continue")),
        ("press", "Continue", button("✅ Yes, share")),
        ("press", "✅ Yes, share", button("No, thank you")),
        ("press", "No, thank you", text("Your reference:")),
    ]


@dataclass
class Person:
    run: Run
    user: SimUser
    started: float = 0.0
    step: int = 0  # steps done
    stuck: str = ""  # why this person did not get to the end
    told_unreachable: int = 0
    posts: list[tuple[float, str, str]] = field(default_factory=list)  # (time, kind, what)
    final: Check | None = None

    @property
    def chat(self) -> Any:
        return self.run.fake.chats[self.user.id]

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.chat.messages.values() if m["from"].get("is_bot")]

    def newest(self) -> dict[str, Any] | None:
        with_buttons = [m for m in self.bot_messages() if m.get("reply_markup")]
        return with_buttons[-1] if with_buttons else None

    def buttons(self) -> list[tuple[str, str]]:
        message = self.newest()
        if message is None:
            return []
        return [(b["text"], b.get("callback_data", "")) for row in
                message["reply_markup"]["inline_keyboard"] for b in row]

    async def wait(self, check: Check, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not check(self):
            changed = self.chat.changed
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)
        return True

    def update(self, kind: str, what: str) -> dict[str, Any] | None:
        fake = self.run.fake
        if kind == "send":
            return fake.user_message(self.user, what)
        newest = self.newest()
        for label, data in self.buttons():
            if label == what and newest is not None:
                return fake.user_press(self.user, newest["message_id"], data)
        return None

    def said_since(self, start: str, mark: int) -> bool:
        """The bot showed a text beginning with ``start`` (a new message or an edit) after
        event ``mark`` of the chat."""
        return any(e["kind"] in ("message", "edit") and not e["message"]["mine"]
                   and html.unescape(e["message"]["html"]).startswith(start)
                   for e in self.chat.events[mark:])

    def already(self) -> bool:
        """The booking's last press was handled again (after a crash) and found the booking
        made by the first handling: the person is told they have a contact with the place."""
        return text(ALREADY)(self)

    async def attempt(self, kind: str, what: str, answer: Check, patience: float) -> str:
        """One update and its answer: "answered", "unreachable" or why not."""
        if kind == "press" and not button(what)(self) and button(BACK)(self):
            # after "not reachable": back to the screen, then the same press again
            back = self.update("press", BACK)
            if back is None or not await self.run.post(back) \
                    or not await self.wait(button(what), patience):
                return f"no way back to {what!r}"
        mark = len(self.chat.events)
        update = self.update(kind, what)
        if update is None:
            return f"no button {what!r}"
        if not self.started:
            self.started = time.monotonic()
        self.posts.append((time.monotonic(), kind, what))
        if not await self.run.post(update):
            return "webhook update refused"
        final = answer is self.final
        await self.wait(lambda p: answer(p) or p.said_since(UNREACHABLE, mark)
                        or p.said_since(SORRY, mark) or (final and p.already()), patience)
        if answer(self) or (final and self.already()):
            return "answered"
        if self.said_since(UNREACHABLE, mark):
            return "unreachable"
        return f"told {SORRY!r}" if self.said_since(SORRY, mark) else "unanswered"

    async def go(self, steps: list[tuple[str, str, Check]], patience: float) -> None:
        self.run.fake.open_chat(self.user)
        self.final = steps[-1][2] if len(steps) > 1 else None
        for n, (kind, what, answer) in enumerate(steps):
            if n:  # the person reads the screen before pressing or typing
                await asyncio.sleep(self.run.think * (1 + self.run.random.random()))
            outcome = await self.attempt(kind, what, answer, patience)
            for _ in range(4):  # "Please try again in a moment": they do
                if outcome != "unreachable":
                    break
                self.told_unreachable += 1
                await asyncio.sleep(2.0)
                outcome = await self.attempt(kind, what, answer, patience)
            if outcome != "answered":
                newest = self.bot_messages()[-1]["text"][:60] if self.bot_messages() else ""
                self.stuck = f"step {n + 1} ({what!r}): {outcome}; last: {newest!r}"
                return
            self.step += 1


# --- the run ---------------------------------------------------------------------------------

@dataclass
class Run:
    fake: FakeBotAPI
    watch: Watch
    webhook: RoundRobin
    http: httpx.AsyncClient
    think: float = 1.0  # a person's reading time before each step: think to 2 × think s
    random: random.Random = field(default_factory=lambda: random.Random(16))
    webhook_retries: int = 0
    webhook_lost: int = 0

    async def post(self, update: dict[str, Any]) -> bool:
        """As Telegram does: a non-2xx answer (or none) is sent again, a second later."""
        for _ in range(30):
            try:
                answer = await self.http.post(
                    self.webhook.url + "/webhook", json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                if answer.status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            self.webhook_retries += 1
            await asyncio.sleep(1.0)
        self.webhook_lost += 1
        return False


class Processes:
    """The child processes, each with its log file (kept in one folder, shown on failure)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
        self.all: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=log)
        self.all.append((name, proc))
        return proc

    def adopt(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        self.all.append((name, proc))

    def log_of(self, name: str, proc: subprocess.Popen[bytes]) -> str:
        path = LOGS.get(proc.pid) or str(self.folder / f"{name}.log")
        return Path(path).read_text(errors="replace")

    async def stop(self) -> None:
        for _, proc in self.all:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in self.all:
            try:
                await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up (exit code {proc.poll()})")


async def create_desks(api_url: str, admin_token: str) -> dict[str, tuple[str, str, int]]:
    """The 20 partner desks through the admin API: id -> (postcode, name, group chat id)."""
    desks = {}
    async with httpx.AsyncClient(base_url=api_url, timeout=30,
                                 headers={"Authorization": f"Bearer {admin_token}"}) as admin:
        for n, (postcode, city) in enumerate(DESKS):
            desk_id, name, group = f"bench-desk-{n:02d}", f"{city} desk", FIRST_GROUP - n
            answer = await admin.post("/v1/admin/partners", json={
                "id": desk_id, "name": name, "kind": "return_desk", "city": city,
                "postal_code": postcode, "notification_chat_id": group,
                "services": ["general"], "languages": ["en", "nl", "fr"]})
            if answer.status_code != 201:
                raise RuntimeError(f"partner {desk_id}: {answer.status_code} {answer.text}")
            added = await admin.post(f"/v1/admin/partners/{desk_id}/counsellors",
                                     json={"telegram_user_id": 5_000_000 + n})
            if added.status_code != 201:
                raise RuntimeError(f"counsellor of {desk_id}: {added.status_code}")
            desks[desk_id] = (postcode, name, group)
    return desks


async def count_referrals(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM referrals"))


async def run(args: argparse.Namespace) -> bool:
    name = f"conex_bench_replicas_{secrets.token_hex(3)}"
    database = await fresh_database(name)
    prefix = f"bench-replicas-{secrets.token_hex(4)}"
    procs = Processes()
    fake = FakeBotAPI(limits=args.limits)
    fake.queue_updates = False
    watch = Watch()
    watch.install(fake)
    for group in [COORDINATOR_GROUP, *(FIRST_GROUP - n for n in range(len(DESKS)))]:
        fake.open_group(group)
    fake_port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(fake), host="127.0.0.1", port=fake_port,
                                           log_level="warning",
                                           timeout_keep_alive=args.fake_keep_alive))
    server_task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    fake_url = f"http://127.0.0.1:{fake_port}"
    service_token, admin_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    data_key = Fernet.generate_key().decode()
    env = {**os.environ, "DATABASE_URL": database.replace("postgresql://",
                                                          "postgresql+asyncpg://"),
           "SERVICE_TOKEN": service_token, "ADMIN_TOKEN": admin_token,
           "DATA_KEY": data_key, "REDIS_URL": REDIS_URL,
           "REDIS_PREFIX": prefix, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake_url,
           "COORDINATOR_CHAT_ID": str(COORDINATOR_GROUP), "API_SURFACE": "bot",
           "PYTHONPATH": str(ROOT), **({"BULK_RATE": str(args.bulk_rate)} if args.bulk_rate
                                       else {})}
    python = sys.executable
    fronts: list[RoundRobin] = []
    http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=300))
    db = None
    try:
        migrate = await asyncio.create_subprocess_exec(
            python, "-m", "referral_api", "upgrade", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, error = await migrate.communicate()
        if migrate.returncode:
            raise RuntimeError(f"migration failed: {error.decode()[-2000:]}")
        db = await asyncpg.connect(database)
        apis, api_ports = [], [free_port() for _ in range(2)]
        for i, port in enumerate(api_ports):
            apis.append(procs.start(f"api{i}", [python, "-m", "referral_api", "--host",
                                                "127.0.0.1", "--port", str(port)], env))
        for port, proc in zip(api_ports, apis, strict=True):
            await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        api_front = RoundRobin("api", [f"http://127.0.0.1:{p}" for p in api_ports])
        await api_front.start()
        fronts.append(api_front)
        desks = await create_desks(api_front.url, admin_token)
        workers, worker_ports = [], [free_port() for _ in range(2)]
        for i, port in enumerate(worker_ports):  # each its own operator port (/healthz)
            workers.append(procs.start(f"worker{i}", [python, "-m", "referral_api.outbox"],
                                       {**env, "WORKER_HTTP_PORT": str(port)}))
        bots, bot_ports = [], [free_port() for _ in range(3)]
        bot_env = {"REDIS_URL": REDIS_URL, "REFERRAL_API_URL": api_front.url,
                   "SERVICE_TOKEN": service_token,
                   **({"BULK_RATE": str(args.bulk_rate)} if args.bulk_rate else {}),
                   **({"GOVERNOR_PACE_REPLIES": "true"} if args.pace_replies else {})}
        for i, port in enumerate(bot_ports):
            proc = start_bot(fake_url, prefix, port, bot_env)
            procs.adopt(f"bot{i}", proc)
            bots.append(proc)
        for port, proc in zip(bot_ports, bots, strict=True):
            await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        webhook = RoundRobin("webhook", [f"http://127.0.0.1:{p}" for p in bot_ports])
        await webhook.start()
        fronts.append(webhook)
        for port, proc in zip(worker_ports, workers, strict=True):
            await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        for name_, proc in procs.all:
            if proc.poll() is not None:
                raise RuntimeError(f"{name_} exited at start")

        r = Run(fake, watch, webhook, http, think=args.think)
        return await measure(args, r, db, data_key, desks, procs, bots, apis, workers,
                             api_front)
    except RuntimeError:
        for name_, proc in procs.all:
            if proc.poll() is not None:
                tail = "\n".join(procs.log_of(name_, proc).splitlines()[-15:])
                print(f"{name_} exited ({proc.returncode}):\n{tail}", file=sys.stderr)
        raise
    finally:
        await http.aclose()
        await procs.stop()
        for front in fronts:
            await front.stop()
        server.should_exit = True
        await server_task
        if db is not None:
            await db.close()
        await drop_database(name)
        await clean_redis(prefix, REDIS_URL)
        bot_logs = [LOGS[p.pid] for n, p in procs.all if n.startswith("bot") and p.pid in LOGS]
        print(f"process logs: {procs.folder} {' '.join(bot_logs)}")


async def measure(args: argparse.Namespace, r: Run, db: asyncpg.Connection, data_key: str,
                  desks: dict[str, tuple[str, str, int]], procs: Processes,
                  bots: list[subprocess.Popen[bytes]], apis: list[subprocess.Popen[bytes]],
                  workers: list[subprocess.Popen[bytes]], api_front: RoundRobin) -> bool:
    fake, watch = r.fake, r.watch
    stride = max(1, args.people // max(args.bookers, 1))
    booker_index = {i * stride for i in range(min(args.bookers, args.people))}
    desk_list = list(desks.items())
    people: list[Person] = []
    steps_of: dict[int, list[tuple[str, str, Check]]] = {}
    desk_of: dict[int, str] = {}  # booker -> the desk they book with
    for i in range(args.people):
        person = Person(r, SimUser(FIRST_PERSON + i, language_code="en"))
        people.append(person)
        if i in booker_index:
            desk_id, (postcode, desk, _) = desk_list[len(desk_of) % len(desk_list)]
            desk_of[person.user.id] = desk_id
            steps_of[person.user.id] = booking_steps(postcode, desk)
        else:
            steps_of[person.user.id] = [("send", "/start", button("Yes, in a reception centre"))]
    bookers = [p for p in people if p.user.id in desk_of]
    killed: dict[str, Any] = {}
    t0 = time.monotonic()

    async def one(i: int, person: Person) -> None:
        await asyncio.sleep(i * args.seconds / args.people)
        await person.go(steps_of[person.user.id], args.patience)

    async def kill() -> None:
        """Bot 0, API 0 and worker 0 get the signal once half the bookings are stored."""
        while await count_referrals(db) < len(bookers) // 2:  # noqa: ASYNC110 - the database
            await asyncio.sleep(0.2)
        sig = signal.SIGKILL if args.kill_signal == "KILL" else signal.SIGTERM
        killed["at"] = time.monotonic()
        killed["referrals"] = await count_referrals(db)
        killed["pending"] = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'failed', 'dropped')")
        for proc in (bots[0], apis[0], workers[0]):
            proc.send_signal(sig)
        codes = await asyncio.gather(*(asyncio.to_thread(p.wait) for p in
                                       (bots[0], apis[0], workers[0])))
        killed["exit"] = codes
        killed["gone_after"] = time.monotonic() - killed["at"]

    killer = None if args.no_kill else asyncio.create_task(kill())
    progress = asyncio.create_task(show_progress(people, bookers, t0))
    await asyncio.gather(*(one(i, p) for i, p in enumerate(people)))
    people_done = time.monotonic() - t0
    if killer is not None and not killer.done():
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killer

    # The referrals, each with its person (the chat id is encrypted with DATA_KEY).
    fernet = Fernet(data_key)
    rows = [(f"{row['reference'][:4]}-{row['reference'][4:]}", row["partner_id"],
             int(fernet.decrypt(row["chat_id_enc"].encode()).decode()))
            for row in await db.fetch("SELECT reference, partner_id, chat_id_enc FROM referrals")]
    references = {ref: partner for ref, partner, _ in rows}
    group_of = {desk_id: group for desk_id, (_, _, group) in desks.items()}

    def cards() -> list[tuple[str, int, float]]:
        """(reference, group, time) of every message in a group that carries a reference."""
        return [(ref, chat, x.at) for chat, sent in list(watch.log.items()) if chat < 0
                for x in sent if x.method == "sendMessage"
                for ref in references if ref in x.text]

    # The cards: one per referral, in its partner's group (a killed worker's claims come back
    # once their lease runs out).
    deadline = time.monotonic() + args.card_patience
    while time.monotonic() < deadline and {  # noqa: ASYNC110 - the fake's record
            ref for ref, _, _ in cards()} < set(references):
        await asyncio.sleep(1.0)
    await asyncio.sleep(3.0)  # and nothing more arrives (a card sent twice)
    cards_done = time.monotonic() - t0
    progress.cancel()
    found = cards()
    outbox = await db.fetch("SELECT kind, status, count(*) AS n FROM outbox GROUP BY 1, 2 "
                            "ORDER BY 1, 2")

    # --- figures and checks ---
    ok = True
    lines: list[str] = []

    def goal(met: bool, line: str) -> None:
        nonlocal ok
        ok = ok and met
        lines.append(f"  [{'ok' if met else 'MISSED'}] {line}")

    # Repeats that kill -9 allows: what the killed bot had in hand, handled again by another
    # replica once its inbox lease ran out (shortly after the kill).
    def in_kill_window(at: float) -> bool:
        return (args.kill_signal == "KILL" and "at" in killed
                and killed["at"] <= at <= killed["at"] + KILL_WINDOW)

    answered = [p for p in people if p.user.id in watch.log]
    latency = [watch.log[p.user.id][0].at - p.started for p in answered if p.started]
    goal(len(answered) == len(people),
         f"people answered: {len(answered)}/{len(people)} (first answer p50 "
         f"{percentile(latency, 50):.1f} s, p99 {percentile(latency, 99):.1f} s, max "
         f"{max(latency, default=0):.1f} s)")
    done = [p for p in bookers if p.step == len(steps_of[p.user.id])]
    already = [p for p in done if not text("Your reference:")(p)]
    already_at = [min(x.at for x in watch.log.get(p.user.id, []) if ALREADY in x.text)
                  for p in already]
    goal(len(done) == len(bookers),
         f"bookers who reached the end of the booking: {len(done)}/{len(bookers)}; told "
         f"'Your reference': {len(done) - len(already)}, told 'You already have a contact' "
         f"(their last press handled twice): {len(already)}, told {SORRY!r} (the update "
         f"failed): {sum(1 for p in bookers if SORRY in p.stuck)}"
         + (f"; told 'not reachable, try again' and tried again: "
            f"{sum(p.told_unreachable for p in bookers)}"
            if any(p.told_unreachable for p in bookers) else ""))
    for p in [p for p in people if p.stuck][:5]:
        lines.append(f"      stuck: {p.user.id}: {p.stuck}")
    late = [(t, cause) for (t, _), cause in zip(watch.rejected, watch.causes, strict=True)
            if t - t0 > 1.0]
    goal(not late, f"429s: {len(watch.rejected)} in total, {len(late)} after the first second"
         + (f" (by limit: {dict(Counter(c for _, c in late))}; first at "
            f"{min(late)[0] - t0:.1f} s, last at {max(late)[0] - t0:.1f} s)" if late else "")
         + f"; messages sent: {fake.sent_messages}")
    per_chat = Counter(chat for _, _, chat in rows)
    shown = {p.user.id: {m.group(1) for x in watch.log.get(p.user.id, [])
                         for m in [REFERENCE.search(x.text)] if m} for p in bookers}
    stored = {chat: ref for ref, _, chat in rows}
    wrong_desk = sum(1 for _, partner, chat in rows if desk_of.get(chat) != partner)
    mismatched = sum(1 for chat, refs in shown.items() if refs and refs != {stored.get(chat)})
    goal(len(rows) == len(bookers) and all(per_chat[p.user.id] == 1 for p in bookers)
         and not wrong_desk and not mismatched,
         f"referrals in the database: {len(rows)} for {len(bookers)} bookers; bookers with "
         f"exactly one: {sum(1 for p in bookers if per_chat[p.user.id] == 1)}, with none: "
         f"{sum(1 for p in bookers if per_chat[p.user.id] == 0)}, with more: "
         f"{sum(1 for p in bookers if per_chat[p.user.id] > 1)}; not a booker's or not the "
         f"chosen desk: {wrong_desk}; reference shown differs from the one stored: {mismatched}")
    per_ref = Counter(ref for ref, _, _ in found)
    wrong_group = sum(1 for ref, chat, _ in found if group_of.get(references[ref]) != chat)
    goal(all(per_ref[ref] == 1 for ref in references) and not wrong_group,
         f"cards: {sum(1 for ref in references if per_ref[ref] >= 1)}/{len(references)} "
         f"referrals carded, {sum(1 for n in per_ref.values() if n > 1)} carded more than "
         f"once, {wrong_group} in a wrong group")
    shown_at = {m.group(1): x.at for p in bookers for x in watch.log.get(p.user.id, [])
                for m in [REFERENCE.search(x.text)] if m}
    card_at: dict[str, float] = {}
    for ref, _, at in found:
        card_at.setdefault(ref, at)
    delays = [card_at[ref] - shown_at[ref] for ref in card_at if ref in shown_at]
    lines.append(f"         a card's delay after the booking: p50 {percentile(delays, 50):.1f} "
                 f"s, p99 {percentile(delays, 99):.1f} s, max {max(delays, default=0):.1f} s")
    repeats = [times[1] for times in watch.answers.values() if len(times) > 1]  # presses
    sent_twice = [b.at for p in people for a, b in itertools.pairwise(
        [x for x in watch.log.get(p.user.id, []) if x.method == "sendMessage"])
        if a.text == b.text]
    repeats += sent_twice
    repeats += watch.not_modified
    repeats += already_at
    unexplained = [at for at in repeats if not in_kill_window(at)]
    goal(not unexplained,
         f"updates handled twice: {len(repeats)} (button presses answered twice "
         f"{sum(1 for t in watch.answers.values() if len(t) > 1)}, same message sent twice in "
         f"a row {len(sent_twice)}, edits that changed nothing {len(watch.not_modified)}, "
         f"bookings answered 'already' {len(already_at)}); "
         f"{len(repeats) - len(unexplained)} of them right after the kill -9 (in flight), "
         f"{len(unexplained)} otherwise")
    out_of_order = sum(1 for p in bookers if not in_order(watch.log.get(p.user.id, []),
                                                          steps_of[p.user.id]))
    goal(out_of_order == 0, f"per-chat order: {len(bookers) - out_of_order}/{len(bookers)} "
                            f"bookers saw their screens in the flow's order")
    goal(r.webhook_lost == 0, f"webhook updates lost: {r.webhook_lost} (sent again after a "
                              f"non-2xx answer or none: {r.webhook_retries})")
    survivors = [(n, p) for n, p in procs.all
                 if p not in (bots[0], apis[0], workers[0]) or args.no_kill]
    dead = [n for n, p in survivors if p.poll() is not None]
    goal(not dead, f"replicas still running at the end: {len(survivors) - len(dead)}/"
                   f"{len(survivors)}" + (f" (died: {', '.join(dead)})" if dead else ""))

    print(f"replicas: 3 bots, 2 APIs, 2 workers; people={len(people)} bookers={len(bookers)} "
          f"limits={args.limits} kill={'none' if args.no_kill else args.kill_signal} "
          f"think={args.think}")
    if not args.no_kill:
        if "at" not in killed:
            lines.append("  [MISSED] kill: never happened (half the bookings never stored)")
            ok = False
        else:
            print(f"  kill: at {killed['at'] - t0:.1f} s, with {killed['referrals']} referrals "
                  f"stored and {killed['pending']} outbox messages not yet delivered; "
                  f"exit codes bot/api/worker {killed['exit']}, gone "
                  f"{killed['gone_after']:.1f} s after the signal")
    print(f"  fronts: webhook {dict(r.webhook.forwarded)} refused-and-retried "
          f"{r.webhook.refused} cut-off {r.webhook.cut_off}; api "
          f"{dict(api_front.forwarded)} refused-and-retried {api_front.refused} cut-off "
          f"{api_front.cut_off}")
    print("  outbox: " + ", ".join(f"{row['kind']}/{row['status']}={row['n']}" for row in outbox))
    print("\n".join(lines))
    if args.trace:
        twice = {p.user.id for p in people for a, b in itertools.pairwise(
            [x for x in watch.log.get(p.user.id, []) if x.method == "sendMessage"])
            if a.text == b.text}
        odd = [p for p in people if p.stuck or p in already or p.user.id in twice]
        trace(watch, t0, odd[:4] or bookers[:1])
        if "at" in killed:
            print(f"    kill at {killed['at'] - t0:.2f} s")
        for ref in [ref for ref, n in per_ref.items() if n > 1]:
            times = [f"{at - t0:.2f}" for r_, _, at in found if r_ == ref]
            row = await db.fetchrow(
                "SELECT o.status, o.attempts, o.created_at, o.sent_at, o.claimed_until, "
                "o.last_error, now() AS now FROM outbox o JOIN referrals r ON "
                "r.id = o.referral_id WHERE r.reference = $1 AND o.kind = 'partner_card'",
                ref.replace("-", ""))
            print(f"    card {ref} sent at {times}; outbox row {dict(row) if row else None}")
    print(f"  time: people done at {people_done:.1f} s, cards done at {cards_done:.1f} s")
    print(f"verdict: {'every goal met' if ok else 'GOAL MISSED'} — {len(answered)}/"
          f"{len(people)} answered, {len(done)}/{len(bookers)} booked, {len(rows)} referrals, "
          f"{sum(1 for ref in references if per_ref[ref] == 1)} cards exactly once, "
          f"{len(late)} 429s after the first second, {len(repeats)} updates handled twice "
          f"({len(unexplained)} not in flight at a kill -9), {out_of_order} out of order, "
          f"in {cards_done:.0f} s", flush=True)
    return ok


def trace(watch: Watch, t0: float, people: list[Person]) -> None:
    for (at, chat), why in list(zip(watch.rejected, watch.causes, strict=True))[:20]:
        sends = [x.at - t0 for x in watch.log.get(chat, []) if x.method == "sendMessage"]
        before = [f"{x:.2f}" for x in sends if at - t0 - 60 < x < at - t0][-3:]
        print(f"    429 at {at - t0:.2f} to {chat} ({why}); sent to it in the minute "
              f"before: {len(before)}, last at {before}")
    buckets = Counter(int((x.at - t0) // 10) * 10 for chat, sent in watch.log.items()
                      if chat < 0 for x in sent if x.method == "sendMessage")
    print(f"    group messages by 10 s: {dict(sorted(buckets.items()))}")
    for p in people:
        print(f"    person {p.user.id}: {p.stuck or 'done'}")
        events = [(x.at, f"bot {x.method:<16} {x.text[:60]!r} {list(x.labels)[:3]}")
                  for x in watch.log.get(p.user.id, [])]
        events += [(at, f"person {kind} {what!r}") for at, kind, what in p.posts]
        for at, line in sorted(events):
            print(f"      {at - t0:7.2f} {line}")


def in_order(sent: list[Sent], steps: list[tuple[str, str, Check]]) -> bool:
    """No screen of an earlier step arrives after a screen of a later one. Each message or
    edit is placed at the first step, from the one reached on, whose screen it is; a message
    that is only an earlier step's screen is out of order."""
    reached = 0
    for s in sent:
        steps_of_screen = screen_steps(s, len(steps))
        later = [k for k in steps_of_screen if k >= reached]
        if later:
            reached = later[0]
        elif steps_of_screen:
            return False
    return True


def screen_steps(s: Sent, count: int) -> list[int]:
    """The steps (of the first ``count``, and the menu after the last) this message shows."""
    found = []
    for k, (kind, value) in enumerate(EXPECTED):
        if k >= count and k != len(EXPECTED) - 1:
            continue
        if kind == "button" and any(label == value or (value.endswith(" ")
                                                       and label.startswith(value))
                                    for label in s.labels):
            found.append(k)
        if kind == "text" and value in html.unescape(s.text):
            found.append(k)
    return found


# What each booking step's answer shows: a button label or a text unique to that screen ("1.
# Contact " is a prefix).
EXPECTED: list[tuple[str, str]] = [
    ("button", "Yes, in a reception centre"),
    ("button", "📍 Find help near me"),
    ("button", "Find places near me"),
    ("button", "Skip the questions"),
    ("button", "Type a postcode"),
    ("text", "Type a Belgian postcode"),
    ("button", "1. Contact "),
    ("button", "Write to me here"),
    ("button", "I do not know"),
    ("button", "Travel documents"),
    ("button", "Continue"),
    ("button", "✅ Yes, share"),
    ("button", "No, thank you"),
    ("text", "Your reference:"),
    ("button", "📍 Find help near me"),  # the menu, sent after the booking is done
]


async def show_progress(people: list[Person], bookers: list[Person], t0: float) -> None:
    while True:
        await asyncio.sleep(10)
        answered = sum(1 for p in people if p.step > 0)
        booked = sum(1 for p in bookers if p.step == 14)
        print(f"  … {time.monotonic() - t0:.0f} s: {answered} answered, {booked} booked",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--bookers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="the /start burst's length")
    parser.add_argument("--kill-signal", choices=["TERM", "KILL"], default="TERM")
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--limits", choices=["strict", "documented"], default="strict")
    parser.add_argument("--think", type=float, default=1.0,
                        help="a person reads each screen between THINK and 2 × THINK seconds "
                             "before the next step (0: at once)")
    parser.add_argument("--bulk-rate", type=float, default=None,
                        help="BULK_RATE of the bots and workers (default: theirs, 28)")
    parser.add_argument("--pace-replies", action="store_true",
                        help="GOVERNOR_PACE_REPLIES for the bots: replies paced by the bucket")
    parser.add_argument("--fake-keep-alive", type=float, default=5.0,
                        help="seconds the fake Bot API keeps an idle connection open (uvicorn's "
                             "default, 5; aiogram's pool keeps them 15 s: a request on a "
                             "connection the server is closing fails with a network error)")
    parser.add_argument("--patience", type=float, default=120.0,
                        help="seconds a person waits for one answer")
    parser.add_argument("--card-patience", type=float, default=150.0,
                        help="seconds to wait for the last card after the people are done")
    parser.add_argument("--trace", action="store_true", help="show the first booker's screens")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(run(args)) else 1)


if __name__ == "__main__":
    main()
