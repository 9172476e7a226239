"""`python -m referral_api rotate-keys`: every encrypted column re-encrypted with the newest key
of DATA_KEY (docs/operations.md, "Rotating DATA_KEY").

The encrypted columns are the ones whose name ends in `_enc` (the convention of every domain's
models), found in the metadata of all tables, so that a new one is rotated too. Rows are read
in primary-key order, `BATCH_SIZE` at a time, one transaction per batch; a value the newest key
already reads is left alone, so the command is idempotent and can be stopped and run again.
Each update is conditional on the value read (compare and set): a row the API or the worker
changed in between keeps their value (written with the newest key if they run with the same
DATA_KEY) and is counted as changed meanwhile.

Along the way each row with both a `chat_id_enc` and a `chat_key` is checked: its chat_key must
be the one the current lookup secret makes (LOOKUP_KEY pinned right). Nothing personal is
printed: counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral_api.crypto import DataVault, InvalidToken
from referral_api.db.all_models import metadata

BATCH_SIZE = 500
ENCRYPTED_SUFFIX = "_enc"


@dataclass
class TableRotation:
    """What rotate-keys did to one table (counts of values, not of rows, but `rows`)."""

    table: str
    rows: int = 0  # rows read
    rotated: int = 0  # values re-encrypted with the newest key
    current: int = 0  # values the newest key already read
    unreadable: int = 0  # values no key of DATA_KEY reads (left as they are)
    changed_meanwhile: int = 0  # rows changed by someone else between read and update
    chat_key_mismatches: int = 0  # chat_key not made by the current lookup secret

    @property
    def complete(self) -> bool:
        return not (self.unreadable or self.changed_meanwhile or self.chat_key_mismatches)

    def summary(self) -> str:
        text = (f"{self.table}: {self.rows} rows, {self.rotated} values re-encrypted, "
                f"{self.current} already current")
        for count, what in ((self.unreadable, "unreadable with every key of DATA_KEY"),
                            (self.changed_meanwhile, "rows changed meanwhile (run again)"),
                            (self.chat_key_mismatches,
                             "chat_keys not made by the current LOOKUP_KEY")):
            if count:
                text += f", {count} {what}"
        return text


def encrypted_tables() -> list[tuple[Table, list[Column[Any]]]]:
    """Every table with encrypted columns, and those columns (by name: `*_enc`)."""
    found = []
    for table in metadata().sorted_tables:
        columns = [c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX)]
        if columns:
            found.append((table, columns))
    return found


def _primary_key(table: Table) -> Column[Any]:
    [column] = list(table.primary_key.columns)  # every table with `_enc` columns has an `id`
    return column


async def rotate_table(sessionmaker: async_sessionmaker[AsyncSession], vault: DataVault,
                       table: Table, columns: list[Column[Any]], *,
                       batch_size: int = BATCH_SIZE) -> TableRotation:
    result = TableRotation(table.name)
    key = _primary_key(table)
    check_chat_key = "chat_key" in table.c and "chat_id_enc" in table.c
    read = [key, *columns] + ([table.c.chat_key] if check_chat_key else [])
    last: Any = None
    while True:
        async with sessionmaker() as session, session.begin():
            query = select(*read).order_by(key).limit(batch_size)
            if last is not None:
                query = query.where(key > last)
            rows = (await session.execute(query)).mappings().all()
            for row in rows:
                result.rows += 1
                if check_chat_key:
                    _check_chat_key(vault, row, result)
                changes: dict[str, str] = {}
                for column in columns:
                    value = row[column.name]
                    if value is None:
                        continue
                    if vault.is_current(value):
                        result.current += 1
                        continue
                    try:
                        changes[column.name] = vault.rotate(value)
                    except InvalidToken:
                        result.unreadable += 1
                if not changes:
                    continue
                done = await session.execute(
                    update(table).where(key == row[key.name],
                                        *(table.c[name] == row[name] for name in changes))
                    .values(changes))
                if getattr(done, "rowcount", 0) == 1:
                    result.rotated += len(changes)
                else:
                    result.changed_meanwhile += 1
        if len(rows) < batch_size:
            return result
        last = rows[-1][key.name]


def _check_chat_key(vault: DataVault, row: Any, result: TableRotation) -> None:
    token, stored = row["chat_id_enc"], row["chat_key"]
    if token is None or stored is None:
        return
    try:
        chat_id = vault.decrypt_chat_id(token)
    except (InvalidToken, ValueError):
        return  # counted as unreadable with the column
    if vault.chat_key(chat_id) != stored:
        result.chat_key_mismatches += 1


async def rotate_keys(sessionmaker: async_sessionmaker[AsyncSession], vault: DataVault, *,
                      batch_size: int = BATCH_SIZE,
                      report: Callable[[TableRotation], None] | None = None,
                      ) -> list[TableRotation]:
    """Every encrypted column of every table re-encrypted with the newest key of `vault`."""
    results = []
    for table, columns in encrypted_tables():
        result = await rotate_table(sessionmaker, vault, table, columns, batch_size=batch_size)
        if report is not None:
            report(result)
        results.append(result)
    return results
