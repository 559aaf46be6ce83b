"""SqliteCallStore's own ways: the file it makes, its lock, and what another program on that file sees.

What every store does is in the contract suite, tests/test_store.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialajoke.models import Call, CallStatus, Direction
from dialajoke.store import DatabaseInUse, SqliteCallStore

from .clock import ManualClock


@pytest.fixture
async def store(database: Path, clock: ManualClock) -> AsyncIterator[SqliteCallStore]:
    opened = await SqliteCallStore.open(database, clock)
    yield opened
    await opened.close()


async def book(store: SqliteCallStore, clock: ManualClock) -> Call:
    return await store.add_call(
        direction=Direction.OUTBOUND,
        to="+12025550142",
        from_="+13125550100",
        at=datetime.fromtimestamp(clock.time(), UTC) + timedelta(hours=1),
        timezone="UTC",
        status=CallStatus.SCHEDULED,
        detail="booked",
    )


async def test_open_creates_the_database_folder(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "new" / "folder" / "calls.sqlite3"

    opened = await SqliteCallStore.open(path, clock)
    try:
        await opened.ping()
    finally:
        await opened.close()

    assert path.exists()


async def test_a_refused_move_leaves_the_database_free_for_other_writers(
    store: SqliteCallStore, clock: ManualClock, database: Path
) -> None:
    call = await book(store, clock)
    await store.move(call.id, CallStatus.CANCELLED, "cancelled")

    assert await store.move(call.id, CallStatus.DIALING, "dialing") is None

    other = sqlite3.connect(database, timeout=0)
    try:
        other.execute("INSERT INTO webhook_events (event_id, event_type, received_at, body) VALUES ('x', 't', 0, x'')")
        other.commit()
    finally:
        other.close()


# One process per database (two processes for real: tests/test_database_in_use.py)


async def test_a_second_store_on_the_same_file_is_refused_naming_the_holder(
    store: SqliteCallStore, database: Path, clock: ManualClock
) -> None:
    with pytest.raises(DatabaseInUse) as refused:
        await SqliteCallStore.open(database, clock)

    assert str(refused.value) == (
        f"database {database} is in use by process {os.getpid()} (another Dial-A-Joke); stop it or set database.path"
    )
    assert refused.value.holder == os.getpid()
    assert await store.get_call(1) is None  # the holder is unaffected


async def test_the_lock_file_beside_the_database_names_its_holder(store: SqliteCallStore, database: Path) -> None:
    assert database.with_name(database.name + ".lock").read_text() == f"{os.getpid()}\n"


async def test_closing_the_store_lets_another_open_the_file(database: Path, clock: ManualClock) -> None:
    first = await SqliteCallStore.open(database, clock)
    call = await book(first, clock)
    await first.close()

    second = await SqliteCallStore.open(database, clock)
    try:
        assert await second.get_call(call.id) == call
    finally:
        await second.close()


async def test_a_store_that_fails_to_open_does_not_keep_the_lock(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "calls.sqlite3"
    path.mkdir()  # a folder where the database should be: SQLite cannot open it

    with pytest.raises(sqlite3.OperationalError):
        await SqliteCallStore.open(path, clock)
    path.rmdir()

    opened = await SqliteCallStore.open(path, clock)
    await opened.close()
