"""Backups and restore (issue 16, item 7): a `pg_dump` of a populated database, restored into a
fresh one with `pg_restore` (the procedure of docs/operations.md), holds every referral, outbox
row and follow-up wave, and the restored personal fields decrypt with the same DATA_KEY."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from referral_api.crypto import DataVault
from referral_api.db.engine import create_engine, create_sessionmaker
from referral_api.followup.models import FollowupWave
from referral_api.outbox.models import OutboxMessage
from referral_api.referrals.models import Referral
from tests.referral_api.databases import TEST_DATABASE_URL, _server_execute
from tests.referral_api.factories import book, future_slot
from tests.referral_api.test_followup import enrolled, tick

TABLES = (Referral, OutboxMessage, FollowupWave)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def counts_and_phones(url: str, vault: DataVault) -> tuple[list[int], list[str]]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            counts = [int(await session.scalar(select(func.count()).select_from(model)) or 0)
                      for model in TABLES]
            phones = sorted(vault.decrypt(p) for p in await session.scalars(
                select(Referral.phone_enc).where(Referral.phone_enc.is_not(None))))
        return counts, phones
    finally:
        await engine.dispose()


async def test_a_dump_restored_into_a_fresh_database_holds_everything(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        database_url: str, tmp_path: Path) -> None:
    await enrolled(app, client, admin, chat_id=777)  # a returned person with follow-up
    await tick(app, "2026-04-13T09:00")  # its first wave is due and queued
    await book(client, chat_id=778, contact_mode="phone", phone="0470 12 34 56")
    await book(client, chat_id=779, contact_mode="visit", slot_start=future_slot())
    vault = app.state.context.vault
    before = await counts_and_phones(database_url, vault)
    assert all(before[0]) and before[1] == ["+32470123456"]

    dump = tmp_path / "conex.dump"
    await asyncio.to_thread(subprocess.run, ["pg_dump", "--format=custom", "--no-owner",
                                             "--file", str(dump), libpq(database_url)],
                            check=True)
    name = f"conex_restore_{uuid.uuid4().hex[:12]}"
    restored = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(
        hide_password=False)
    await _server_execute(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(subprocess.run, ["pg_restore", "--no-owner", "--exit-on-error",
                                                 "--dbname", libpq(restored), str(dump)],
                                check=True)
        after = await counts_and_phones(restored, vault)
    finally:
        await _server_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert after == before
