"""DATA_KEY rotation (issue 16, item 7; docs/operations.md, "Rotating DATA_KEY").

A database filled under the old key keeps working when the API restarts with `DATA_KEY=new,old`
(new tokens are the new key's, people still find their referrals: the chat lookup keys do not
move); `python -m referral_api rotate-keys` re-encrypts every personal field with the new key;
then, with the `LOOKUP_KEY` that `python -m referral_api lookup-key` printed pinned, the old key
can go. A malformed key stops the start with its position, never its value."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, text

from referral_api.__main__ import main as cli
from referral_api.app import create_app, create_context
from referral_api.crypto import DataVault
from referral_api.dependencies import AppContext
from referral_api.key_rotation import encrypted_tables
from referral_api.referrals.models import Referral
from referral_api.settings import ConfigError
from tests.referral_api.conftest import make_settings
from tests.referral_api.factories import DATA_KEY, SERVICE_TOKEN, book, make_partner, outbox_rows
from tests.referral_api.followup_world import set_clock
from tests.referral_api.test_followup import enrolled, tick

OLD = DATA_KEY  # what the session's app encrypts with
NEW = Fernet.generate_key().decode()
RETURNEE, CALLER, NEWCOMER = 777, 778, 779
PHONE = "+32470123456"
ENCRYPTED = {"referrals": {"name_enc", "chat_id_enc", "phone_enc", "signal_key_enc"},
             "relay_messages": {"text_enc"}, "outbox": {"chat_id_enc", "payload_enc"},
             "followup_enrolments": {"chat_id_enc"}}

Restart = Callable[..., AppContext]


@pytest.fixture
async def restart(app: FastAPI, database_url: str) -> AsyncIterator[Restart]:
    """Restarts the API on the same database with other settings (DATA_KEY, LOOKUP_KEY)."""
    original = app.state.context
    made: list[AppContext] = []

    def with_settings(**overrides: Any) -> AppContext:
        context = create_context(make_settings(database_url, **overrides))
        made.append(context)
        app.state.context = context
        return context

    yield with_settings
    app.state.context = original
    for context in made:
        await context.aclose()


@pytest.fixture
def command_line(database_url: str, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Callable[..., Any]:
    """`python -m referral_api …` in a thread (it runs its own event loop), with DATA_KEY and
    LOOKUP_KEY as given and no .env."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)

    async def run(*args: str, data_key: str, lookup_key: str = "") -> int:
        monkeypatch.setenv("DATA_KEY", data_key)
        monkeypatch.setenv("LOOKUP_KEY", lookup_key)  # empty: unset
        return await asyncio.to_thread(cli, list(args))

    return run


def legacy_chat_key(data_key: str, chat_id: int) -> str:
    """chat_key as it was made before DATA_KEY could rotate (HKDF of the one key)."""
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                  info=b"conex/referral_api/chat_key/v1").derive(data_key.encode())
    return hmac.new(secret, str(chat_id).encode(), hashlib.sha256).hexdigest()


async def encrypted_values(app: FastAPI) -> dict[str, list[str]]:
    """Every non-null encrypted value, by table (raw SQL: what a dump holds)."""
    values: dict[str, list[str]] = {}
    async with app.state.context.sessionmaker() as session:
        for table, columns in ENCRYPTED.items():
            for column in sorted(columns):
                values.setdefault(table, []).extend(await session.scalars(text(
                    f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")))
    return values


def readable_by(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


async def mine(client: httpx.AsyncClient, chat_id: int) -> list[dict[str, Any]]:
    response = await client.post("/v1/referrals/mine", json={"chat_id": chat_id})
    assert response.status_code == 200, response.text
    referrals: list[dict[str, Any]] = response.json()
    return referrals


async def populate(app: FastAPI, client: httpx.AsyncClient,
                   admin: httpx.AsyncClient) -> dict[int, str]:
    """Under the old key: a returnee enrolled in the follow-up (its first wave queued), a
    phone contact with a name and a relayed message. Returns each person's reference."""
    set_clock(app)  # the return is recent: its first wave is still to come
    await enrolled(app, client, admin, chat_id=RETURNEE)
    await tick(app, "2026-04-13T09:00")
    caller = await book(client, chat_id=CALLER, contact_mode="phone", phone="0470 12 34 56",
                        name="Amina")
    relayed = await client.post("/v1/relay/to-partner", json={
        "chat_id": CALLER, "reference": caller["reference"], "text": "Can we talk on Monday?"})
    assert relayed.status_code == 202, relayed.text
    returnee = await mine(client, RETURNEE)
    return {RETURNEE: returnee[0]["reference"], CALLER: caller["reference"]}


def test_every_encrypted_column_is_rotated() -> None:
    found = {table.name: {c.name for c in columns} for table, columns in encrypted_tables()}
    assert found == ENCRYPTED


async def test_a_new_key_in_front_then_rotation_then_the_old_key_removed(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient, restart: Restart,
        command_line: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    references = await populate(app, client, admin)
    before = await encrypted_values(app)
    assert {table for table, values in before.items() if values} == set(ENCRYPTED)
    assert all(readable_by(OLD, v) and not readable_by(NEW, v)
               for values in before.values() for v in values)
    async with app.state.context.sessionmaker() as session:
        chat_keys = {reference: key for reference, key in await session.execute(
            select(Referral.reference, Referral.chat_key))}
    assert chat_keys[references[CALLER].replace("-", "")] == legacy_chat_key(OLD, CALLER)

    # 0. Pin the lookup secret while DATA_KEY still holds one key; a second key without the
    #    pin is refused at start (the key order changes during a rotation, lookups must not).
    assert await command_line("lookup-key", data_key=OLD) == 0
    pin = SecretStr(capsys.readouterr().out.strip())
    assert pin.get_secret_value() and OLD not in pin.get_secret_value()
    with pytest.raises(ConfigError, match="set LOOKUP_KEY first"):
        restart(data_key=SecretStr(f"{OLD},{NEW}"))
    # 1. The new key second (every process then reads it), then in front: everything reads,
    #    new data is the new key's.
    restart(data_key=SecretStr(f"{OLD},{NEW}"), lookup_key=pin)
    assert [r["reference"] for r in await mine(client, RETURNEE)] == [references[RETURNEE]]
    context = restart(data_key=SecretStr(f"{NEW},{OLD}"), lookup_key=pin)
    rows = await outbox_rows(app)
    assert {row["kind"] for row in rows} >= {"partner_card", "relay", "followup_wave"}
    assert [r["reference"] for r in await mine(client, RETURNEE)] == [references[RETURNEE]]
    [phoned] = await mine(client, CALLER)
    assert phoned["reference"] == references[CALLER] and phoned["phone_hint"].endswith("56")
    await make_partner(admin, "second-desk")
    again = await book(client, partner_id="second-desk", chat_id=CALLER, contact_mode="phone",
                       phone="0470 65 43 21")
    assert {r["reference"] for r in await mine(client, CALLER)} == {
        references[CALLER], again["reference"]}
    async with context.sessionmaker() as session:
        fresh = await session.scalar(select(Referral).where(
            Referral.reference == again["reference"].replace("-", "")))
        unchanged = {reference: key for reference, key in await session.execute(
            select(Referral.reference, Referral.chat_key))}
    assert fresh is not None and fresh.phone_enc and fresh.chat_id_enc
    assert Fernet(NEW.encode()).decrypt(fresh.phone_enc.encode()) == b"+32470654321"
    assert not readable_by(OLD, fresh.chat_id_enc)
    assert fresh.chat_key == legacy_chat_key(OLD, CALLER)  # the lookup did not move
    assert {k: v for k, v in unchanged.items() if k in chat_keys} == chat_keys

    # 2. rotate-keys, in batches of 2 rows: every value is then the new key's alone.
    assert await command_line("rotate-keys", "--batch-size", "2",
                              data_key=f"{NEW},{OLD}", lookup_key=pin.get_secret_value()) == 0
    out = capsys.readouterr().out
    # The new referral (chat id, phone) was the new key's already.
    assert "referrals: 3 rows, 4 values re-encrypted, 2 already current" in out
    assert "relay_messages: 1 rows, 1 values re-encrypted, 0 already current" in out
    assert "followup_enrolments: 1 rows, 1 values re-encrypted" in out
    assert str(CALLER) not in out and PHONE not in out and "Amina" not in out
    after = await encrypted_values(app)
    assert all(readable_by(NEW, v) for values in after.values() for v in values)
    assert await command_line("rotate-keys", data_key=f"{NEW},{OLD}",
                              lookup_key=pin.get_secret_value()) == 0  # idempotent
    again_out = capsys.readouterr().out
    assert " 0 values re-encrypted" in again_out and "unreadable" not in again_out

    # 3. Remove the old key, the pin kept: people still find their referrals.
    assert await command_line("lookup-key", data_key=f"{NEW},{OLD}",
                              lookup_key=pin.get_secret_value()) == 0
    lookup_key = capsys.readouterr().out.strip()
    assert lookup_key == pin.get_secret_value()  # it prints what is in force
    restart(data_key=SecretStr(NEW), lookup_key=SecretStr(""))  # the pin dropped: keys moved
    assert await mine(client, RETURNEE) == []
    context = restart(data_key=SecretStr(NEW), lookup_key=SecretStr(lookup_key))
    assert [r["reference"] for r in await mine(client, RETURNEE)] == [references[RETURNEE]]
    assert len(await mine(client, CALLER)) == 2
    async with context.sessionmaker() as session:
        phones = sorted(context.vault.decrypt(p) for p in await session.scalars(
            select(Referral.phone_enc).where(Referral.phone_enc.is_not(None))))
    assert phones == [PHONE, "+32470654321"]
    assert {row["kind"] for row in await outbox_rows(app)} >= {"relay", "followup_wave"}
    assert await command_line("rotate-keys", data_key=NEW, lookup_key=lookup_key) == 0
    forgotten = await client.post("/v1/forget", json={"chat_id": RETURNEE})
    assert forgotten.json() == {"deleted_referrals": 1, "deleted_followups": 1}


def test_the_staff_session_secret_survives_the_rotation(database_url: str) -> None:
    before = make_settings(database_url, data_key=SecretStr(OLD))
    during = make_settings(database_url, data_key=SecretStr(f"{NEW}, {OLD}"),
                           lookup_key=SecretStr(DataVault(OLD).lookup_key()))
    pinned = make_settings(database_url, data_key=SecretStr(NEW),
                           lookup_key=SecretStr(DataVault(OLD).lookup_key()))
    unpinned = make_settings(database_url, data_key=SecretStr(NEW))
    secrets = {s.resolved_staff_session_secret() for s in (before, during, pinned)}
    assert len(secrets) == 1
    assert unpinned.resolved_staff_session_secret() not in secrets
    assert OLD.encode() not in secrets.pop()


async def test_rotate_keys_reports_what_it_cannot_do(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        command_line: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    await populate(app, client, admin)
    # The old key left out too early: nothing is rewritten, the operator is told.
    assert await command_line("rotate-keys", data_key=NEW) == 1
    captured = capsys.readouterr()
    assert "referrals: 2 rows, 0 values re-encrypted, 0 already current, " \
           "4 unreadable with every key of DATA_KEY" in captured.out
    assert "keep every key in DATA_KEY" in captured.err
    # A wrong LOOKUP_KEY pinned: the stored chat keys say so.
    assert await command_line("rotate-keys", data_key=f"{NEW},{OLD}",
                              lookup_key=DataVault(NEW).lookup_key()) == 1
    out = capsys.readouterr().out
    assert "referrals: 2 rows, 4 values re-encrypted, 0 already current, " \
           "2 chat_keys not made by the current LOOKUP_KEY" in out


async def test_a_malformed_key_stops_the_start_and_names_its_position(
        database_url: str, command_line: Callable[..., Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = "not-a-fernet-key-" + "x" * 27
    with pytest.raises(ConfigError, match=r"^DATA_KEY: key 2 of 3 is not a Fernet key") as error:
        create_app(make_settings(database_url, data_key=SecretStr(f"{NEW},{bad},{OLD}")))
    assert bad not in str(error.value) and NEW not in str(error.value)
    with pytest.raises(ConfigError, match=r"^DATA_KEY: key 2 of 2 is empty"):
        create_app(make_settings(database_url, data_key=SecretStr(f"{NEW},")))
    with pytest.raises(ConfigError, match=r"^LOOKUP_KEY is not a lookup key"):
        create_app(make_settings(database_url, data_key=SecretStr(NEW),
                                 lookup_key=SecretStr("too-short")))
    assert await command_line("lookup-key", data_key=f"{bad},{NEW}") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("DATA_KEY: key 1 of 2 is not a Fernet key")
    assert bad not in captured.err and captured.out == ""
