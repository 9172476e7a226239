"""Signals benchmark: reports over 1,000,000 anonymous events on PostgreSQL.

    python bench/signals.py [--events N] [--database-url URL] [--keep]

Makes a throw-away database on the server of TEST_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432), migrates it, generates N synthetic events
(about 9 per person-month, 3 months, 40 campaigns, 18 languages, 11 provinces) and loads them
with COPY, builds the rollups in SQL, then times:

* the on-insert path (`record_events`, batches of 50 as the bot sends them), events/s;
* each report the staff pages and the JSON/CSV export serve (`report()`, which reads only the
  rollups), median of 5 runs;
* the same funnel and obstacle counts computed naively over the raw events (GROUP BY person,
  COUNT DISTINCT), as the baseline, with the ratio.

The goal (issue 7): every report under 1 second over 1,000,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from referral_api.db.engine import create_engine, create_sessionmaker
from referral_api.db.migrate import alembic_config
from referral_api.signals.catalogue import (
    CONTACT_MODES,
    OBSTACLES,
    PROVINCES,
    SCREENING_FLAGS,
    TOPICS,
)
from referral_api.signals.service import (
    ReportFilter,
    Signal,
    naive_report,
    rebuild_rollups,
    record_events,
    report,
)

SERVER = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
LANGUAGES = ("ar", "fa", "ps", "ckb", "ti", "so", "ru", "uk", "ka", "hy", "sq", "ro", "tr",
             "es", "pt", "am", "mn", "fr")
MONTHS = (202609, 202610, 202611)
CAMPAIGNS = tuple(f"B{n:05d}" for n in range(40))
RUNS = 5


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def generate(count: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """Synthetic journeys until `count` events: (month, pseudonym, event, value, language,
    province, campaign, hour)."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    person = 0
    while len(rows) < count:
        person += 1
        month = rng.choice(MONTHS)
        pseudonym = hashlib.sha256(f"{person}".encode()).hexdigest()
        start = datetime(month // 100, month % 100, 1, tzinfo=UTC) + timedelta(
            hours=rng.randrange(27 * 24))
        language = rng.choice(LANGUAGES)
        campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.7 else None
        province = rng.choice(PROVINCES)
        events: list[tuple[str, str | None]] = [("conversation_started", None)]
        if rng.random() < 0.3:
            events.append(("language_chosen", None))
        events += [("topic_viewed", rng.choice(TOPICS)) for _ in range(rng.randint(0, 4))]
        events += [("obstacle_named", o) for o in rng.sample(OBSTACLES, rng.randint(0, 3))]
        events += [("screening_flag", f) for f in rng.sample(SCREENING_FLAGS,
                                                              rng.choice((0, 0, 0, 1, 2)))]
        if rng.random() < 0.35:
            events.append(("booking_started", None))
            if rng.random() < 0.5:
                events.append(("booking_completed", rng.choice(CONTACT_MODES)))
                for status in ("accepted", "contacted", "closed"):
                    if rng.random() < 0.7:
                        events.append((f"referral_{status}", None))
        for i, (event, value) in enumerate(events):
            hour = start + timedelta(minutes=3 * i)
            first = i == 0
            rows.append((month, pseudonym, event, value, language,
                         province if event == "booking_completed" else None,
                         campaign if first else None,
                         hour.replace(minute=0, second=0, microsecond=0)))
    return rows[:count]


async def timed(call: Callable[[], Awaitable[Any]], runs: int = RUNS) -> tuple[float, Any]:
    result: Any = None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def bench(url: str, count: int) -> None:
    connection = await asyncpg.connect(_dsn(url))
    print(f"generating {count:,} events …", flush=True)
    started = time.perf_counter()
    rows = generate(count)
    print(f"  generated in {time.perf_counter() - started:.1f} s "
          f"({len({r[1] for r in rows}):,} person-months)")
    await connection.executemany(
        "INSERT INTO campaigns (code, city, channel, label, created_at, active) "
        "VALUES ($1, 'Bench', 'flyer', $1, now(), true)", [(c,) for c in CAMPAIGNS])
    started = time.perf_counter()
    await connection.copy_records_to_table(
        "signal_events", records=rows,
        columns=["month", "pseudonym", "event", "value", "language", "province", "campaign",
                 "hour"])
    print(f"  COPY into signal_events: {time.perf_counter() - started:.1f} s")
    await connection.close()

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            started = time.perf_counter()
            await rebuild_rollups(session)
            await session.commit()
            print(f"  rollups built from the raw events: {time.perf_counter() - started:.1f} s")
            await session.execute(text("ANALYZE"))
            journeys = await session.scalar(text("SELECT count(*) FROM signal_journeys"))
            print(f"  signal_journeys (the rollup): {journeys:,} rows")

        # The on-insert path, as the bot sends (batches of 50), on top of the 1M.
        inserts = [Signal(202611, hashlib.sha256(f"x{n // 6}".encode()).hexdigest(),
                          ("conversation_started", "topic_viewed", "obstacle_named")[n % 3],
                          (None, "faq", "debts")[n % 3], "ar", None, CAMPAIGNS[n % 40])
                   for n in range(5000)]
        started = time.perf_counter()
        for i in range(0, len(inserts), 50):
            async with sessions() as session:
                await record_events(session, inserts[i:i + 50], datetime.now(UTC))
                await session.commit()
        elapsed = time.perf_counter() - started
        print(f"  record_events (rollups kept on insert): {len(inserts) / elapsed:,.0f} "
              f"events/s in batches of 50 ({elapsed / (len(inserts) / 50) * 1000:.1f} ms "
              "per batch)\n")

        everything = ReportFilter(MONTHS[0], MONTHS[-1])
        cases: list[tuple[str, ReportFilter, str]] = [
            ("all, funnel by week", everything, "week"),
            ("all, funnel by campaign", everything, "campaign"),
            ("all, funnel by language", everything, "language"),
            ("all, funnel by province", everything, "province"),
            ("one campaign, by week", ReportFilter(MONTHS[0], MONTHS[-1],
                                                   campaigns=(CAMPAIGNS[3],)), "week"),
            ("a partner's 5 campaigns", ReportFilter(MONTHS[0], MONTHS[-1],
                                                     campaigns=CAMPAIGNS[:5]), "week"),
            ("one month, one language", ReportFilter(MONTHS[-1], MONTHS[-1],
                                                     language="ar"), "province"),
        ]
        print(f"{'report (rollups, median of 5)':<36}{'seconds':>10}")
        worst = 0.0
        async with sessions() as session:
            for name, flt, dimension in cases:
                seconds, _ = await timed(lambda f=flt, d=dimension: report(session, f, d))
                worst = max(worst, seconds)
                print(f"{name:<36}{seconds:>10.3f}")
            fast_s, fast = await timed(lambda: report(session, everything, "week"))
            slow_s, slow = await timed(lambda: naive_report(session, everything), runs=3)
        same = [c.value for c in fast.funnel] == [slow[s] for s in fast.stages]
        print(f"\nbaseline: the same funnel + obstacles over the raw events (median of 3): "
              f"{slow_s:.3f} s")
        print(f"rollup report: {fast_s:.3f} s  → {slow_s / fast_s:,.0f}× faster; "
              f"same counts: {'yes' if same else 'NO'}")
        print(f"slowest report: {worst:.3f} s — goal < 1 s: {'met' if worst < 1 else 'MISSED'}")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="an existing, migrated database to fill")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away database")
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(bench(args.database_url, args.events))
        return
    name = f"conex_bench_{uuid.uuid4().hex[:8]}"

    async def server(sql: str) -> None:
        connection = await asyncpg.connect(_dsn(make_url(SERVER).set(
            database="postgres").render_as_string(hide_password=False)))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(server(f'CREATE DATABASE "{name}"'))
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "head")
        asyncio.run(bench(url, args.events))
    finally:
        if not args.keep:
            asyncio.run(server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print(f"kept database {name}")


if __name__ == "__main__":
    main()
