"""Schemathesis against the real API process, bounded in time (issue 17, item 8): `make fuzz`.

    python bench/fuzz_api.py [--seconds 120] [--examples 30]

Starts `python -m referral_api` (API_DOCS on, the seed partners loaded) on a fresh PostgreSQL
database and runs `schemathesis run` twice: with the bot's service token and the admin token
(every check: no 5xx, responses that fit the schema, status codes and content types the schema
declares), and with no token at all (everything must be 401, never a 5xx). Exits non-zero on
any failure; prints schemathesis's summary of each run.
"""



from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bench_db import drop_database, fresh_database, sqlalchemy_url
from cryptography.fernet import Fernet
from telegram_world import free_port

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "data" / "partners.yaml"


def wait_until_up(port: int) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=120, help="time budget of each run")
    parser.add_argument("--examples", type=int, default=30, help="examples per operation")
    args = parser.parse_args()
    name = f"conex_fuzz_{secrets.token_hex(3)}"
    url = sqlalchemy_url(asyncio.run(fresh_database(name)))
    service, admin = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = {**os.environ, "DATABASE_URL": url, "SERVICE_TOKEN": service, "ADMIN_TOKEN": admin,
           "DATA_KEY": Fernet.generate_key().decode(), "REDIS_URL": "", "API_DOCS": "true",
           "PYTHONPATH": str(ROOT)}
    python = sys.executable
    schemathesis = str(Path(python).parent / "schemathesis")
    failed = False
    server = None
    try:
        subprocess.run([python, "-m", "referral_api", "upgrade"], env=env, check=True,
                       capture_output=True)
        subprocess.run([python, "-m", "referral_api", "seed-partners", str(SEED)], env=env,
                       check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([python, "-m", "referral_api", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(port)
        schema = f"http://127.0.0.1:{port}/openapi.json"
        # positive_data_acceptance is left out: a schema-valid request may still be refused by
        # a rule of the domain (a point outside Belgium, an unknown postcode, a slot taken).
        common = ["--max-examples", str(args.examples), "--max-time", str(args.seconds),
                  "--generation-deterministic", "--include-path-regex", "^/v1/",
                  "--exclude-checks", "positive_data_acceptance"]
        runs = {
            "service token (the bot)": ["-H", f"Authorization: Bearer {service}",
                                        "--checks", "all", "--exclude-path-regex", "^/v1/admin"],
            "admin token": ["-H", f"Authorization: Bearer {admin}", "--checks", "all",
                            "--include-path-regex", "^/v1/admin"],
            "no token": ["--checks", "not_a_server_error,status_code_conformance"],
        }
        for title, extra in runs.items():
            print(f"== {title}", flush=True)
            done = subprocess.run([schemathesis, "run", schema, *common, *extra],
                                  env={**os.environ, "NO_COLOR": "1"}, check=False)
            failed |= done.returncode != 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        asyncio.run(drop_database(name))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
