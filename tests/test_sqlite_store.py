"""SqliteCallStore's own ways: the file it makes, and what another program on that file sees.

What every store does is in the contract suite, tests/test_store.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialajoke.models import Call, CallStatus, Direction
from dialajoke.store import SqliteCallStore

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
