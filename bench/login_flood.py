"""A login flood against the real API: do the bot's calls stay fast? (issue 17, item 1)

    python bench/login_flood.py [--logins 80] [--seconds 6] [--rate 20] [--shape split|one]

Starts `python -m referral_api` (uvicorn, argon2 at its production cost) on a fresh PostgreSQL
database, then measures the bot's `POST /v1/referrals/mine` at `--rate` a second: first alone
(the baseline), then while `--logins` concurrent wrong-password logins hammer `/staff/login`
from a process of their own. Each attempt comes from a new address and at a new account, so
the rate limit is not what protects the bot: every attempt reaches argon2.

`--shape split` (the production shape, docs/operations.md): the bot's API and the staff app in
processes of their own (API_SURFACE=bot / staff), each on a CPU of its own as separate
deployments would be. `--shape one`: everything in one process, for comparison.

Prints p50/p99/max of the bot's calls in both phases and their ratio, the logins' answers (401
checked, 503 told busy, 429 slowed down) and any other error. Goal: p99 under 200 ms during the
flood, no 500.
"""

# ruff: noqa: ASYNC220, ASYNC221 - processes are started before anything is measured

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_db import drop_database, fresh_database, sqlalchemy_url
from cryptography.fernet import Fernet
from telegram_world import free_port

ROOT = Path(__file__).resolve().parent.parent


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


async def bot_calls(http: httpx.AsyncClient, token: str, rate: float, seconds: float,
                    out: list[float], errors: Counter[int]) -> None:
    async def one(n: int) -> None:
        started = time.perf_counter()
        try:
            response = await http.post("/v1/referrals/mine", json={"chat_id": 10_000 + n},
                                        headers={"authorization": f"Bearer {token}"})
            if response.status_code != 200:
                errors[response.status_code] += 1
        except httpx.HTTPError:
            errors[0] += 1
        out.append(time.perf_counter() - started)

    tasks = []
    for n in range(int(rate * seconds)):
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)


async def login_form(http: httpx.AsyncClient) -> tuple[str, str]:
    """A staff session cookie and its CSRF token, as a browser gets them from the login page
    (the cookie is Secure: over plain http it is passed on by hand)."""
    page = await http.get("/staff/login")
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return cookie, token


async def flood(http: httpx.AsyncClient, logins: int, stop: asyncio.Event,
                answers: Counter[int]) -> None:
    sent = 0

    async def one(n: int) -> None:
        nonlocal sent
        cookie, csrf = await login_form(http)
        while not stop.is_set():
            sent += 1  # a new address and account each time: every attempt reaches argon2
            try:
                response = await http.post("/staff/login", data={
                    "email": f"guess{sent}@bench.example", "password": f"wrong {n}",
                    "csrf_token": csrf}, headers={
                    "cookie": cookie,
                    "x-forwarded-for": f"10.{sent // 65536 % 256}.{sent // 256 % 256}."
                                       f"{sent % 256}"})
                answers[response.status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1

    await asyncio.gather(*(one(n) for n in range(logins)))


async def run(args: argparse.Namespace) -> None:
    name = f"conex_bench_login_{secrets.token_hex(3)}"
    url = sqlalchemy_url(await fresh_database(name))
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "DATABASE_URL": url, "SERVICE_TOKEN": token,
           "ADMIN_TOKEN": secrets.token_urlsafe(24), "DATA_KEY": Fernet.generate_key().decode(),
           "REDIS_URL": "", "PYTHONPATH": str(ROOT),
           # the flood comes "through a proxy" from ever new addresses: the rate limit lets
           # every attempt through, so what is measured is argon2's isolation
           "TRUSTED_PROXIES": "127.0.0.1"}
    python = sys.executable
    subprocess.run([python, "-m", "referral_api", "upgrade"], env=env, check=True,
                   capture_output=True)
    subprocess.run([python, "-m", "referral_api", "create-admin", "--email",
                    "counsellor@bench.example", "--password", "a long bench password"],
                   env=env, check=True, capture_output=True)
    port, staff_port = free_port(), free_port()
    cpus = sorted(os.sched_getaffinity(0))
    pinned = args.shape == "split" and len(cpus) >= 2
    if args.shape == "one":  # everything in one process
        servers = [subprocess.Popen([python, "-m", "referral_api", "--port", str(port)],
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)]
        staff_port = port
    else:  # the production shape: the bot's API and the staff app in processes of their own
        # Separate deployments have CPUs of their own (Kubernetes requests): here the bot's
        # API gets CPU 0, the staff app and this load generator (the "attacker") CPU 1.
        servers = [subprocess.Popen(
            ["taskset", "-c", str(cpu), python, "-m", "referral_api", "--port", str(p)]
            if pinned else [python, "-m", "referral_api", "--port", str(p)],
            env={**env, "API_SURFACE": surface}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
            for p, surface, cpu in ((port, "bot", cpus[0]), (staff_port, "staff", cpus[-1]))]
        if pinned:
            os.sched_setaffinity(0, {cpus[0]})  # the bot's side of the machine
    try:
        limits = httpx.Limits(max_connections=args.logins + 200)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                     limits=limits) as http, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{staff_port}", timeout=60, limits=limits) as staff:
            for client in (http, staff):
                for _ in range(100):
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
            errors: Counter[int] = Counter()
            await bot_calls(http, token, args.rate, 1.0, [], errors)  # warm the pools up
            alone: list[float] = []
            await bot_calls(http, token, args.rate, args.seconds, alone, errors)
            during: list[float] = []
            # The flood comes from a process of its own (pinned with the staff app), so that
            # what is measured is the bot's API, not this process's own share of the CPU.
            flooder = subprocess.Popen(
                [python, __file__, "--flood", str(staff_port), "--logins", str(args.logins),
                 "--seconds", str(args.seconds + 2)], stdout=subprocess.PIPE, text=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, {cpus[-1]})) if pinned else None)
            await asyncio.sleep(1.5)  # the flood is on
            await bot_calls(http, token, args.rate, args.seconds, during, errors)
            out, _ = flooder.communicate(timeout=120)
            answers = Counter({int(k): int(v) for k, v in
                               (pair.split("=") for pair in out.split())})
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        await drop_database(name)
    a50, a99, amax = percentiles(alone)
    d50, d99, dmax = percentiles(during)
    print(f"shape: {args.shape}")
    print(f"bot calls alone:        p50={a50 * 1000:.0f} ms p99={a99 * 1000:.0f} ms "
          f"max={amax * 1000:.0f} ms ({len(alone)} calls)")
    print(f"bot calls during flood: p50={d50 * 1000:.0f} ms p99={d99 * 1000:.0f} ms "
          f"max={dmax * 1000:.0f} ms ({len(during)} calls), p99 ratio {d99 / a99:.1f}")
    print(f"{args.logins} concurrent logins: answers {dict(sorted(answers.items()))}; "
          f"bot errors {dict(errors) or 'none'}")
    goal = d99 < 0.2 and not errors and not any(code >= 500 and code != 503 for code in answers)
    print("goal met" if goal else "GOAL MISSED")


async def flood_only(port: int, logins: int, seconds: float) -> None:
    """The flood of a child process: prints "status=count ..." when done."""
    answers: Counter[int] = Counter()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=logins + 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                 limits=limits) as staff:
        flooding = asyncio.create_task(flood(staff, logins, stop, answers))
        await asyncio.sleep(seconds)
        stop.set()
        await flooding
    print(" ".join(f"{code}={n}" for code, n in answers.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, help=argparse.SUPPRESS)  # the child: port
    parser.add_argument("--logins", type=int, default=80)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--shape", choices=("one", "split"), default="split",
                        help="one process for everything, or the bot's API apart (production)")
    args = parser.parse_args()
    if args.flood:
        asyncio.run(flood_only(args.flood, args.logins, args.seconds))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
