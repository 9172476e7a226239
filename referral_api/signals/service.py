"""Recording signals (with their rollups) and computing the reports, with suppression.

`record_events` / `record_event` add rows in the caller's transaction (the caller commits):
the signals router, the referral status changes, and later the follow-up questionnaire
(issue 8) call them. A signal that cannot be recorded must never break what the person does:
`record_event_quietly` logs and swallows.

Reports read only the rollups (see models.py) and count *people* (pseudonyms), never events;
each count goes through referral_api.suppression before it leaves this module.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    String,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.campaigns.models import Campaign
from referral_api.signals.catalogue import (
    EVENTS,
    OBSTACLES,
    PROVINCES,
    RANKED,
    SCREENING_FLAGS,
    STAGES,
    TOPICS,
    bit_of,
    stage_rank,
    validate,
)
from referral_api.signals.models import SignalEvent, SignalJourney
from referral_api.suppression import Count, SuppressedTable, suppress_list, suppress_table

logger = logging.getLogger(__name__)

PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
BRUSSELS = ZoneInfo("Europe/Brussels")
DIMENSIONS = ("week", "campaign", "language", "province", "channel")
CHANNELS = ("telegram", "web")  # bot.channels.CHANNELS: Telegram or our web chat
MONTH_TEXT = re.compile(r"^(\d{4})-(\d{2})$")


class SignalRejected(ValueError):
    """A signal outside the closed lists."""


def month_of(at: datetime) -> int:
    """yyyymm of the calendar month in Belgium (the pseudonym key's period)."""
    local = at.astimezone(BRUSSELS)
    return local.year * 100 + local.month


def parse_month(text: str) -> int | None:
    match = MONTH_TEXT.fullmatch(text.strip())
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (2020 <= year <= 2100 and 1 <= month <= 12):
        return None
    return year * 100 + month


def format_month(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def add_months(month: int, delta: int) -> int:
    index = (month // 100) * 12 + (month % 100 - 1) + delta
    return (index // 12) * 100 + index % 12 + 1


def monday_of(at: datetime) -> date:
    day = at.astimezone(BRUSSELS).date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Signal:
    """One event, already in the closed lists (see `checked`)."""

    month: int
    pseudonym: str
    event: str
    value: str | None = None
    language: str | None = None
    province: str | None = None
    campaign: str | None = None
    channel: str | None = None  # "telegram" or "web"; none for a server-side event

    def checked(self) -> Signal:
        if not PSEUDONYM.fullmatch(self.pseudonym):
            raise SignalRejected("pseudonym")
        if not validate(self.event, self.value):
            raise SignalRejected("event")
        if self.language is not None and not LANGUAGE.fullmatch(self.language):
            raise SignalRejected("language")
        if self.province is not None and self.province not in PROVINCES:
            raise SignalRejected("province")
        if self.channel is not None and self.channel not in CHANNELS:
            raise SignalRejected("channel")
        return self


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)


def _greatest(session: AsyncSession, a: Any, b: Any) -> ColumnElement[Any]:
    name = session.bind.dialect.name if session.bind is not None else "postgresql"
    return func.max(a, b) if name == "sqlite" else func.greatest(a, b)


def _least(session: AsyncSession, a: Any, b: Any) -> ColumnElement[Any]:
    name = session.bind.dialect.name if session.bind is not None else "postgresql"
    return func.min(a, b) if name == "sqlite" else func.least(a, b)


async def known_campaigns(session: AsyncSession, codes: Iterable[str | None]) -> set[str]:
    wanted = {code for code in codes if code}
    if not wanted:
        return set()
    return set(await session.scalars(select(Campaign.code).where(Campaign.code.in_(wanted))))


async def record_events(session: AsyncSession, signals: Sequence[Signal], now: datetime) -> int:
    """Store `signals` (each checked against the closed lists; raise SignalRejected) and keep
    the rollups. An unknown campaign code is stored as none. Does not commit."""
    if not signals:
        return 0
    checked = [signal.checked() for signal in signals]
    campaigns = await known_campaigns(session, (s.campaign for s in checked))
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    week = monday_of(now)
    rows = [
        {"month": s.month, "pseudonym": s.pseudonym, "event": s.event, "value": s.value,
         "language": s.language, "province": s.province,
         "campaign": s.campaign if s.campaign in campaigns else None, "channel": s.channel,
         "hour": hour}
        for s in checked
    ]
    await session.execute(_insert(session, SignalEvent).values(rows))  # one statement

    journeys: dict[tuple[int, str], dict[str, Any]] = {}
    for s in checked:
        key = (s.month, s.pseudonym)
        journey = journeys.setdefault(key, {"month": key[0], "pseudonym": key[1], "stage": 0,
                                            "campaign": None, "language": None,
                                            "province": None, "channel": None, "week": week,
                                            "topics": 0, "obstacles": 0, "flags": 0})
        journey["stage"] = max(journey["stage"], stage_rank(EVENTS[s.event][1]))
        journey["campaign"] = journey["campaign"] or (
            s.campaign if s.campaign in campaigns else None)
        journey["language"] = s.language or journey["language"]
        journey["province"] = s.province or journey["province"]
        journey["channel"] = journey["channel"] or s.channel
        bit = bit_of(s.event, s.value)
        if bit is not None:
            journey[bit[0]] |= bit[1]

    table = SignalJourney.__table__
    stmt = _insert(session, SignalJourney).values(list(journeys.values()))
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.month, table.c.pseudonym],
        set_={
            "stage": _greatest(session, table.c.stage, stmt.excluded.stage),
            "campaign": func.coalesce(table.c.campaign, stmt.excluded.campaign),
            "language": func.coalesce(stmt.excluded.language, table.c.language),
            "province": func.coalesce(stmt.excluded.province, table.c.province),
            "channel": func.coalesce(table.c.channel, stmt.excluded.channel),
            "week": _least(session, table.c.week, stmt.excluded.week),
            **{column: table.c[column].op("|")(stmt.excluded[column])
               for column, _ in RANKED.values()},
        },
    )
    await session.execute(stmt)
    return len(rows)


async def record_event(session: AsyncSession, *, month: int, pseudonym: str, event: str,
                       now: datetime, value: str | None = None, language: str | None = None,
                       province: str | None = None, campaign: str | None = None,
                       channel: str | None = None) -> None:
    """One event (for server-side hooks, which know no channel: the journey keeps the one
    the bot's events named). Does not commit."""
    await record_events(session, [Signal(month, pseudonym, event, value, language, province,
                                         campaign, channel)], now)


async def record_event_quietly(session: AsyncSession, **kwargs: Any) -> None:
    """`record_event` inside a SAVEPOINT: a failure is logged and never reaches the person."""
    try:
        async with session.begin_nested():
            await record_event(session, **kwargs)
    except Exception as exc:
        logger.warning("signal not recorded: %s", type(exc).__name__)


async def forget(session: AsyncSession, pseudonyms: Sequence[str], now: datetime) -> int:
    """Delete every signal of these pseudonyms (a person's months), then count the /forget
    itself under a random one-off pseudonym that links to nothing. Commits."""
    wanted = [p for p in pseudonyms if PSEUDONYM.fullmatch(p)]
    deleted = 0
    if wanted:
        result = await session.execute(delete(SignalEvent).where(
            SignalEvent.pseudonym.in_(wanted)))
        deleted = int(getattr(result, "rowcount", 0) or 0)
        await session.execute(delete(SignalJourney).where(SignalJourney.pseudonym.in_(wanted)))
    await record_event(session, month=month_of(now), pseudonym=secrets.token_hex(32),
                       event="forget", now=now)
    await session.commit()
    return deleted


async def rebuild_rollups(session: AsyncSession) -> None:
    """Recompute both rollups from `signal_events` in SQL (after a bulk load such as the
    benchmark's COPY, or a repair). PostgreSQL only. Does not commit."""
    await session.execute(delete(SignalJourney))
    stage_case = " ".join(
        f"WHEN '{event}' THEN {stage_rank(stage)}" for event, (_, stage) in EVENTS.items())
    bits = {column: " ".join(f"WHEN '{value}' THEN {1 << i}" for i, value in enumerate(values))
            for column, values in RANKED.values()}
    events_of = {column: event for event, (column, _) in RANKED.items()}
    masks = ",\n".join(
        f"coalesce(bit_or(CASE WHEN event = '{events_of[c]}' THEN CASE value {b} END END), 0)"
        for c, b in bits.items())
    await session.execute(text(f"""
        INSERT INTO signal_journeys (month, pseudonym, stage, campaign, language, province,
                                     channel, week, {", ".join(bits)})
        SELECT month, pseudonym,
               max(CASE event {stage_case} ELSE 0 END),
               (array_agg(campaign ORDER BY id) FILTER (WHERE campaign IS NOT NULL))[1],
               (array_agg(language ORDER BY id DESC) FILTER (WHERE language IS NOT NULL))[1],
               (array_agg(province ORDER BY id DESC) FILTER (WHERE province IS NOT NULL))[1],
               (array_agg(channel ORDER BY id) FILTER (WHERE channel IS NOT NULL))[1],
               min(date_trunc('week', hour AT TIME ZONE 'Europe/Brussels'))::date,
               {masks}
        FROM signal_events GROUP BY month, pseudonym
    """))  # noqa: S608 - stage_case is built from the closed catalogue, not from input


# --- reports ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportFilter:
    since: int  # yyyymm, inclusive
    until: int  # yyyymm, inclusive
    campaigns: tuple[str, ...] | None = None  # None = every campaign (and none)
    language: str | None = None
    province: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [SignalJourney.month >= self.since,
                                              SignalJourney.month <= self.until]
        if self.campaigns is not None:
            clauses.append(SignalJourney.campaign.in_(self.campaigns))
        if self.language is not None:
            clauses.append(SignalJourney.language == self.language)
        if self.province is not None:
            clauses.append(SignalJourney.province == self.province)
        return clauses


@dataclass(frozen=True, slots=True)
class Ranked:
    value: str
    count: Count


@dataclass(slots=True)
class Report:
    filter: ReportFilter
    dimension: str
    stages: tuple[str, ...] = STAGES
    funnel: list[Count] = field(default_factory=list)  # people who reached each stage
    rows: list[tuple[str, list[Count]]] = field(default_factory=list)  # funnel by dimension
    obstacles: list[Ranked] = field(default_factory=list)
    topics: list[Ranked] = field(default_factory=list)
    flags: list[Ranked] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        f = self.filter
        return {
            "filter": {"since": format_month(f.since), "until": format_month(f.until),
                       "campaigns": list(f.campaigns) if f.campaigns is not None else None,
                       "language": f.language, "province": f.province},
            "unit": "people per month (distinct pseudonyms); a count below 5 reads \"<5\"",
            "stages": list(self.stages),
            "funnel": {stage: c.json() for stage, c in zip(self.stages, self.funnel,
                                                            strict=True)},
            "by": self.dimension,
            "rows": [{"key": key, **{stage: c.json() for stage, c in zip(self.stages, counts,
                                                                          strict=True)}}
                     for key, counts in self.rows],
            "obstacles": [{"value": r.value, "people": r.count.json()} for r in self.obstacles],
            "topics": [{"value": r.value, "people": r.count.json()} for r in self.topics],
            "screening_flags": [{"value": r.value, "people": r.count.json()}
                                for r in self.flags],
        }

    def csv_rows(self) -> list[list[str]]:
        out: list[list[str]] = [["section", "key", *self.stages]]
        out.append(["funnel", "all", *(str(c) for c in self.funnel)])
        out += [[f"funnel_by_{self.dimension}", key, *(str(c) for c in counts)]
                for key, counts in self.rows]
        for section, items in (("obstacle", self.obstacles), ("topic", self.topics),
                               ("screening_flag", self.flags)):
            out += [[section, r.value, str(r.count)] for r in items]
        return out


def _dimension_column(dimension: str) -> Any:
    return {"week": SignalJourney.week, "campaign": SignalJourney.campaign,
            "language": SignalJourney.language, "province": SignalJourney.province,
            "channel": SignalJourney.channel}[dimension]


def _rank(values: tuple[str, ...], counts: dict[str, int]) -> list[Ranked]:
    """Multi-answer counts: primary suppression only (no total is published). Shown counts
    first, largest first; hidden ones after, in catalogue order, so the order of the hidden
    ones reveals nothing."""
    cells, _ = suppress_list([counts.get(v, 0) for v in values], with_total=False)
    items = [Ranked(v, c) for v, c in zip(values, cells, strict=True)]
    shown = sorted((i for i in items if not i.count.hidden), key=lambda i: -i.count.value)
    return shown + [i for i in items if i.count.hidden]


async def report(session: AsyncSession, flt: ReportFilter, dimension: str = "week") -> Report:
    if dimension not in DIMENSIONS:
        raise ValueError("dimension")
    where = flt.where()
    column = _dimension_column(dimension)
    result = await session.execute(
        select(column, SignalJourney.stage, func.count())
        .where(*where, SignalJourney.stage > 0)
        .group_by(column, SignalJourney.stage)
    )
    by_key: dict[str, list[int]] = {}
    for key, stage, people in result:
        label = key.isoformat() if isinstance(key, date) else (key or "none")
        counts = by_key.setdefault(label, [0] * len(STAGES))
        for i in range(stage):  # reaching a stage means passing every earlier one
            counts[i] += people
    keys = sorted(by_key)
    out = Report(filter=flt, dimension=dimension)
    if keys:
        table: SuppressedTable = suppress_table([by_key[k] for k in keys], row_totals=False,
                                                col_totals=True)
        out.rows = list(zip(keys, table.cells, strict=True))
        assert table.col_totals is not None
        out.funnel = table.col_totals  # the same suppression as the table it sums
    else:
        out.funnel = suppress_list([0] * len(STAGES), with_total=False)[0]

    per_event: dict[str, dict[str, int]] = {}
    for event, (column, values) in RANKED.items():
        # People per combination of ticks (a few hundred at most), then per value in Python:
        # much cheaper than one CASE per value and row.
        mask = SignalJourney.__table__.c[column]
        combos = await session.execute(
            select(mask, func.count()).where(*where, mask != 0).group_by(mask))
        tally = per_event.setdefault(event, dict.fromkeys(values, 0))
        for bits, people in combos:
            for i, value in enumerate(values):
                if bits & (1 << i):
                    tally[value] += people
    out.obstacles = _rank(OBSTACLES, per_event.get("obstacle_named", {}))
    out.topics = _rank(TOPICS, per_event.get("topic_viewed", {}))
    out.flags = _rank(SCREENING_FLAGS, per_event.get("screening_flag", {}))
    return out


async def naive_report(session: AsyncSession, flt: ReportFilter) -> dict[str, int]:
    """The same funnel and obstacle counts computed straight from `signal_events` (a GROUP BY
    per person, COUNT DISTINCT): the benchmark's baseline and a cross-check of the rollups.
    PostgreSQL only; filters on months only."""
    stage_case = " ".join(
        f"WHEN '{event}' THEN {stage_rank(stage)}" for event, (_, stage) in EVENTS.items())
    params = {"since": flt.since, "until": flt.until}
    rows = await session.execute(text(f"""
        SELECT stage, count(*) FROM (
            SELECT max(CASE event {stage_case} ELSE 0 END) AS stage
            FROM signal_events WHERE month BETWEEN :since AND :until
            GROUP BY month, pseudonym) AS journeys
        GROUP BY stage"""), params)  # noqa: S608 - from the closed catalogue
    out: dict[str, int] = dict.fromkeys(STAGES, 0)
    for stage, people in rows:
        for i in range(stage):
            out[STAGES[i]] += people
    obstacles = await session.execute(text("""
        SELECT value, count(DISTINCT (month, pseudonym)) FROM signal_events
        WHERE event = 'obstacle_named' AND month BETWEEN :since AND :until
        GROUP BY value"""), params)
    out.update({f"obstacle:{value}": people for value, people in obstacles})
    return out


FORGET_MONTHS = 13  # as far back as the bot's /forget reaches (bot.signals.FORGET_MONTHS)
ANONYMOUS_PREFIX = "anon-"  # a journey that no pseudonym (hence no /forget) can reach


def oldest_forgettable_month(now: datetime) -> int:
    """The oldest month /forget still reaches: this month and the FORGET_MONTHS before."""
    year, month = divmod(month_of(now), 100)
    index = year * 12 + (month - 1) - FORGET_MONTHS
    return (index // 12) * 100 + index % 12 + 1


async def anonymise_old_months(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Retention of signals: for months /forget can no longer reach, delete the raw events
    (with their hour) and replace each journey's pseudonym by a random value, so the rollups
    (and the reports) stay but nothing links to a person any more. Commits.
    Returns (events deleted, journeys anonymised)."""
    cutoff = oldest_forgettable_month(now)
    events = await session.execute(delete(SignalEvent).where(SignalEvent.month < cutoff))
    random_hex = literal_column(
        "md5(random()::text || clock_timestamp()::text)"
        if session.get_bind().dialect.name == "postgresql" else "lower(hex(randomblob(16)))",
        String)
    journeys = await session.execute(
        update(SignalJourney)
        .where(SignalJourney.month < cutoff,
               SignalJourney.pseudonym.not_like(f"{ANONYMOUS_PREFIX}%"))
        .values(pseudonym=literal(ANONYMOUS_PREFIX, String) + random_hex)
        .execution_options(synchronize_session=False))
    await session.commit()
    return (int(getattr(events, "rowcount", 0) or 0), int(getattr(journeys, "rowcount", 0) or 0))
