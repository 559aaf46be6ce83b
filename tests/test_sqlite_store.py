"""SqliteCallStore's own ways: the file it makes, its schema's versions, its lock, and a database it cannot write.

What every store does is in the contract suite, tests/test_store.py; a full disk, for
real, is in tests/test_storage_faults.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dialajoke.models import Call, CallStatus, Direction
from dialajoke.store import (
    BookingQuota,
    CannotOpenDatabase,
    DatabaseInUse,
    LimitReached,
    OnDoNotCallList,
    SqliteCallStore,
    StorageUnavailable,
    UserExists,
)
from dialajoke.store.contract import LOGIN_FAILURES_KEPT_S
from dialajoke.store.sqlite import (
    MIGRATIONS,
    QUOTA_QUERIES,
    SCHEMA_VERSION,
    WRITE_PROBE_AFTER_S,
    call_changes_query,
    is_storage_fault,
    list_calls_query,
)

from .clock import ManualClock

LOCK_WAIT_S = 0.05
"""How long a write waits for another program's lock in these tests, instead of the 5 s default."""


@pytest.fixture
async def store(database: Path, clock: ManualClock) -> AsyncIterator[SqliteCallStore]:
    opened = await SqliteCallStore.open(database, clock, busy_timeout_s=LOCK_WAIT_S)
    yield opened
    await opened.close()


async def book(
    store: SqliteCallStore, clock: ManualClock, quota: BookingQuota | None = None, owner_id: int | None = None
) -> Call:
    return await store.add_call(
        direction=Direction.OUTBOUND,
        to="+12025550142",
        from_="+13125550100",
        at=datetime.fromtimestamp(clock.time(), UTC) + timedelta(hours=1),
        timezone="UTC",
        status=CallStatus.SCHEDULED,
        detail="booked",
        quota=quota,
        owner_id=owner_id,
    )


@pytest.fixture
def other_writer(database: Path) -> Iterator[sqlite3.Connection]:
    """Another program on the same file (the sqlite3 shell, say), able to take the write lock."""
    connection = sqlite3.connect(database, isolation_level=None)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


@pytest.fixture
def everyday_umask() -> Iterator[None]:
    """The usual umask (022), which lets everyone read what is created 0644: the store must not rely on it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_open_creates_the_database_folder_for_its_owner_alone(
    tmp_path: Path, clock: ManualClock, everyday_umask: None
) -> None:
    before = mode_of(tmp_path)
    path = tmp_path / "new" / "folder" / "calls.sqlite3"

    opened = await SqliteCallStore.open(path, clock)
    try:
        await opened.ping()
    finally:
        await opened.close()

    assert path.exists()
    assert (mode_of(tmp_path / "new"), mode_of(tmp_path / "new" / "folder")) == (0o700, 0o700)
    assert mode_of(tmp_path) == before


async def test_the_database_and_the_files_beside_it_are_readable_by_their_owner_alone(
    database: Path, clock: ManualClock, everyday_umask: None
) -> None:
    opened = await SqliteCallStore.open(database, clock)
    try:
        await opened.add_user(name="alice", password_hash="$argon2id$secret", is_admin=True)
        await book(opened, clock)
        modes = {
            suffix: mode_of(database.with_name(database.name + suffix)) for suffix in ("", "-wal", "-shm", ".lock")
        }
    finally:
        await opened.close()

    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, ".lock": 0o600}


async def test_an_existing_database_keeps_its_mode_with_a_warning(
    database: Path, clock: ManualClock, everyday_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The owner chose it (a group that makes backups, say): the store only sets the mode of what it creates,
    but says what an open mode exposes."""
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o640))

    opened = await SqliteCallStore.open(database, clock)
    await opened.close()

    assert mode_of(database) == 0o640
    assert f"database {database} can be read by other users of this machine (mode 0o640)" in caplog.text


async def test_a_private_database_opens_without_a_warning(
    database: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        opened = await SqliteCallStore.open(database, clock)
        await opened.close()

    assert "can be read by other users" not in caplog.text


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


# Versions of the schema

SCHEMA_BEFORE_VERSIONS = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL,
    due_at REAL NOT NULL,
    timezone TEXT NOT NULL,
    status TEXT NOT NULL,
    joke TEXT,
    call_control_id TEXT UNIQUE,
    hangup_cause TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX calls_by_status_due ON calls (status, due_at);
CREATE TABLE call_events (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls (id),
    at REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX call_events_by_call ON call_events (call_id, id);
CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL,
    processed_at REAL,
    error TEXT
);
CREATE INDEX webhook_events_unprocessed ON webhook_events (received_at) WHERE processed_at IS NULL;
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at REAL NOT NULL
);
"""
"""The schema as released before it had versions (user_version 0), frozen here as databases out there have it."""


def database_before_versions(path: Path, clock: ManualClock) -> None:
    """A database as the release before accounts left it: two calls, one of them with its timeline moved on."""
    now = clock.time()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA_BEFORE_VERSIONS)
        db.executemany(
            "INSERT INTO calls (id, ref, direction, to_number, from_number, due_at, timezone, status, joke,"
            " created_at, updated_at) VALUES (?, ?, 'outbound', ?, '+13125550100', ?, 'UTC', ?, ?, ?, ?)",
            [
                (1, "ref-one", "+12025550142", now + 3600, "scheduled", None, now, now),
                (2, "ref-two", "+12025550143", now - 60, "completed", "A joke", now - 120, now - 30),
            ],
        )
        db.executemany(
            "INSERT INTO call_events (call_id, at, status, detail) VALUES (?, ?, ?, ?)",
            [
                (1, now, "scheduled", "booked"),
                (2, now - 120, "scheduled", "booked"),
                (2, now - 30, "completed", "done"),
            ],
        )
        db.execute("INSERT INTO webhook_events (event_id, event_type, received_at, body) VALUES ('e1', 't', 0, x'')")


def schema_of(path: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """The version and every table and index with its SQL, whitespace aside: what a migration must get right."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        return version, [(kind, name, " ".join(sql.split())) for kind, name, sql in rows]


async def test_a_database_from_before_versions_keeps_its_calls_without_owners(
    database: Path, clock: ManualClock
) -> None:
    database_before_versions(database, clock)

    store = await SqliteCallStore.open(database, clock)
    try:
        calls = await store.list_calls()
        due = [item async for item in store.scheduled()]
        recorded_again = await store.record_event("e1", "t", b"")
    finally:
        await store.close()

    assert [(call.ref, call.status, call.joke, call.owner_id) for call in calls] == [
        ("ref-one", CallStatus.SCHEDULED, None, None),
        ("ref-two", CallStatus.COMPLETED, "A joke", None),
    ]
    assert [entry.detail for entry in calls[1].events] == ["booked", "done"]
    assert due == [(1, clock.time() + 3600, None)]
    assert recorded_again is False


async def test_a_database_from_before_versions_takes_users_and_owned_calls(database: Path, clock: ManualClock) -> None:
    database_before_versions(database, clock)

    store = await SqliteCallStore.open(database, clock)
    try:
        alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
        with pytest.raises(UserExists):
            await store.add_user(name="ALICE", password_hash=None, is_admin=False)
        owned = await store.add_call(
            direction=Direction.OUTBOUND,
            to="+12025550144",
            from_="+13125550100",
            at=datetime.fromtimestamp(clock.time(), UTC) + timedelta(hours=2),
            timezone="UTC",
            status=CallStatus.SCHEDULED,
            detail="booked",
            owner_id=alice.id,
        )
        alices = await store.list_calls(owner_id=alice.id)
    finally:
        await store.close()

    assert alices == [owned]
    assert owned.id == 3


async def test_a_migrated_database_has_the_schema_of_a_new_one(
    database: Path, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialajoke.store")
    database_before_versions(database, clock)
    fresh = tmp_path / "fresh.sqlite3"

    for path in (database, fresh):
        store = await SqliteCallStore.open(path, clock)
        await store.close()

    assert schema_of(database) == schema_of(fresh)
    assert schema_of(fresh)[0] == SCHEMA_VERSION
    assert f"database {database}: schema brought from version 0 to {SCHEMA_VERSION}" in caplog.text
    assert f"database {fresh}: created (schema version {SCHEMA_VERSION})" in caplog.text


async def test_reopening_an_up_to_date_database_changes_nothing(database: Path, clock: ManualClock) -> None:
    first = await SqliteCallStore.open(database, clock)
    user = await first.add_user(name="alice", password_hash="hash", is_admin=True)
    await first.close()
    before = schema_of(database)

    second = await SqliteCallStore.open(database, clock)
    try:
        assert await second.get_user(user.id) == user
    finally:
        await second.close()

    assert schema_of(database) == before


async def test_a_database_from_a_newer_version_is_refused_untouched(database: Path, clock: ManualClock) -> None:
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.execute("CREATE TABLE from_the_future (id INTEGER PRIMARY KEY)")
        db.commit()

    with pytest.raises(CannotOpenDatabase, match=f"schema version {SCHEMA_VERSION + 1}, made by a newer Dial-A-Joke"):
        await SqliteCallStore.open(database, clock)

    assert schema_of(database) == (
        SCHEMA_VERSION + 1,
        [("table", "from_the_future", "CREATE TABLE from_the_future (id INTEGER PRIMARY KEY)")],
    )


def database_at_version_3(path: Path, clock: ManualClock) -> None:
    """A database as the release before the do-not-call list left it: a user, a call dialed and one scheduled."""
    now = clock.time()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        for statements in MIGRATIONS[:3]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 3")
        db.execute(
            "INSERT INTO users (id, name, name_key, is_admin, created_at) VALUES (1, 'alice', 'alice', 0, ?)", (now,)
        )
        db.executemany(
            "INSERT INTO calls (id, ref, direction, to_number, from_number, due_at, timezone, status, owner_id,"
            " created_at, updated_at) VALUES (?, ?, 'outbound', '+12025550142', '+13125550100', ?, 'UTC', ?, 1, ?, ?)",
            [
                (1, "ref-one", now - 60, "dialing", now - 120, now - 60),
                (2, "ref-two", now + 3600, "scheduled", now, now),
            ],
        )
        db.executemany(
            "INSERT INTO call_events (call_id, at, status, detail) VALUES (?, ?, ?, ?)",
            [
                (1, now - 120, "scheduled", "booked"),
                (1, now - 60, "dialing", "dialing"),
                (2, now, "scheduled", "booked"),
            ],
        )


async def test_a_database_at_version_3_keeps_its_calls_and_counts_them_for_the_limits(
    database: Path, clock: ManualClock, tmp_path: Path
) -> None:
    database_at_version_3(database, clock)

    store = await SqliteCallStore.open(database, clock)
    try:
        calls = await store.list_calls()
        with pytest.raises(LimitReached):
            await book(store, clock, quota=BookingQuota(calls_per_number_per_day=2), owner_id=1)
        _, cancelled = await store.add_to_do_not_call("+12025550142", added_by="alice")
        with pytest.raises(OnDoNotCallList):
            await book(store, clock, quota=BookingQuota(), owner_id=1)
    finally:
        await store.close()
    fresh = tmp_path / "fresh.sqlite3"
    await (await SqliteCallStore.open(fresh, clock)).close()

    assert [(call.ref, call.status, call.owner_id) for call in calls] == [
        ("ref-two", CallStatus.SCHEDULED, 1),
        ("ref-one", CallStatus.DIALING, 1),
    ]
    assert [entry.detail for entry in calls[1].events] == ["booked", "dialing"]
    assert [call.ref for call in cancelled] == ["ref-two"]
    assert schema_of(database) == schema_of(fresh)


async def test_no_limit_or_dial_cap_query_scans_the_calls(database: Path, clock: ManualClock) -> None:
    await (await SqliteCallStore.open(database, clock)).close()

    with contextlib.closing(sqlite3.connect(database)) as db:
        plans = {
            name: [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", [0] * sql.count("?"))]
            for name, sql in QUOTA_QUERIES.items()
        }

    for name, plan in plans.items():
        assert [step for step in plan if step.startswith("SEARCH calls USING ")], (name, plan)
        # A count bounded by the limit reads its own subquery's rows, never the calls themselves.
        assert not [step for step in plan if step.startswith("SCAN calls")], (name, plan)


LIST_FILTERS: dict[str, dict[str, Any]] = {
    "status": {"statuses": [CallStatus.SCHEDULED]},
    "statuses": {"statuses": [CallStatus.SCHEDULED, CallStatus.CANCELLED, CallStatus.COMPLETED]},
    "owner": {"owner_id": 1},
    "owner and status": {"owner_id": 1, "statuses": [CallStatus.SCHEDULED]},
    "owner and statuses": {"owner_id": 1, "statuses": [CallStatus.SCHEDULED, CallStatus.CANCELLED]},
    "time range": {"due_from": 0.0, "due_until": 1.0},
    "owner and time range": {"owner_id": 1, "due_from": 0.0, "due_until": 1.0},
    "status and time range": {"statuses": [CallStatus.COMPLETED], "due_from": 0.0, "due_until": 1.0},
    "next page": {"after": (0.0, 1)},
    "next page of an owner's calls of a status": {"owner_id": 1, "statuses": [CallStatus.SCHEDULED], "after": (0.0, 1)},
}


@pytest.mark.parametrize("upcoming", [False, True], ids=["newest first", "soonest first"])
@pytest.mark.parametrize("filters", list(LIST_FILTERS.values()), ids=list(LIST_FILTERS))
async def test_each_list_filter_is_an_index_search_in_due_order(
    database: Path, clock: ManualClock, filters: dict[str, Any], upcoming: bool
) -> None:
    """So a page of a million calls reads its own rows from an index, never sorting the table to find them."""
    await (await SqliteCallStore.open(database, clock)).close()
    query = list_calls_query(
        **{"statuses": None, "owner_id": None, "due_from": None, "due_until": None, "after": None, **filters},
        limit=50,
        upcoming=upcoming,
    )
    assert query is not None
    sql, params = query

    with contextlib.closing(sqlite3.connect(database)) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    searches = [step for step in plan if step.startswith("SEARCH calls USING INDEX ")]
    assert searches, plan
    assert not [step for step in plan if step.startswith("SCAN calls") or "TEMP B-TREE" in step], plan


@pytest.mark.parametrize("owner_id", [None, 1], ids=["every call", "one owner's"])
async def test_the_change_feed_is_a_range_of_the_timeline_primary_key(
    database: Path, clock: ManualClock, owner_id: int | None
) -> None:
    """So a live page at the end of a million-entry timeline reads only the entries after its own."""
    await (await SqliteCallStore.open(database, clock)).close()
    sql, params = call_changes_query(after=0, owner_id=owner_id, limit=100)

    with contextlib.closing(sqlite3.connect(database)) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    assert plan[0].startswith("SEARCH e USING INTEGER PRIMARY KEY (rowid>?)"), plan
    assert plan[1].startswith("SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"), plan
    assert not [step for step in plan if step.startswith("SCAN") or "TEMP B-TREE" in step], plan


# Failed sign-ins


async def test_failed_sign_ins_older_than_a_day_are_deleted_as_new_ones_come(
    store: SqliteCallStore, clock: ManualClock, database: Path
) -> None:
    """So that a flood of guesses over weeks cannot fill the disk."""
    for _ in range(3):
        await store.record_login_failure(name="alice", address="192.0.2.1")
    clock.advance(LOGIN_FAILURES_KEPT_S + 1)

    await store.record_login_failure(name="bob", address="192.0.2.2")

    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT name_key, address FROM login_failures").fetchall() == [("bob", "192.0.2.2")]


async def test_ended_sessions_past_their_time_are_deleted_as_new_ones_end(
    store: SqliteCallStore, clock: ManualClock, database: Path
) -> None:
    """So that signing out again and again cannot fill the disk."""
    await store.end_session("old", until=clock.time() + 60)
    await store.end_session("still-running", until=clock.time() + 120)
    clock.advance(60)

    await store.end_session("new", until=clock.time() + 60)

    with contextlib.closing(sqlite3.connect(database)) as db:
        assert sorted(db.execute("SELECT id FROM ended_sessions").fetchall()) == [("new",), ("still-running",)]


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


async def test_a_second_store_through_a_symlink_to_the_same_file_is_refused_too(
    store: SqliteCallStore, database: Path, clock: ManualClock, tmp_path: Path
) -> None:
    alias = tmp_path / "alias.sqlite3"
    alias.symlink_to(database)

    with pytest.raises(DatabaseInUse):
        await SqliteCallStore.open(alias, clock)


async def test_a_symlink_planted_as_the_lock_file_is_refused_and_its_target_left_alone(
    database: Path, clock: ManualClock, tmp_path: Path
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("precious content")
    database.with_name(database.name + ".lock").symlink_to(precious)

    with pytest.raises(CannotOpenDatabase, match=r"symbolic links: .*calls\.sqlite3\.lock"):
        await SqliteCallStore.open(database, clock)

    assert precious.read_text() == "precious content"


async def test_the_lock_file_is_readable_by_its_owner_alone(store: SqliteCallStore, database: Path) -> None:
    assert database.with_name(database.name + ".lock").stat().st_mode & 0o777 == 0o600


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

    with pytest.raises(CannotOpenDatabase, match="unable to open database file"):
        await SqliteCallStore.open(path, clock)
    path.rmdir()

    opened = await SqliteCallStore.open(path, clock)
    await opened.close()


# Beside the service: the command line that edits users


async def test_a_store_opened_not_exclusive_works_beside_the_service_and_they_see_each_others_users(
    store: SqliteCallStore, database: Path, clock: ManualClock
) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=True)

    beside = await SqliteCallStore.open(database, clock, exclusive=False)
    try:
        assert await beside.find_user("alice") == alice
        bob = await beside.add_user(name="bob", password_hash="hash", is_admin=False)
        with pytest.raises(UserExists):
            await beside.add_user(name="Alice", password_hash=None, is_admin=False)
    finally:
        await beside.close()

    assert await store.list_users() == [alice, bob]
    with pytest.raises(DatabaseInUse):
        await SqliteCallStore.open(database, clock)


async def test_a_store_opened_not_exclusive_leaves_the_database_free_for_the_service(
    database: Path, clock: ManualClock
) -> None:
    beside = await SqliteCallStore.open(database, clock, exclusive=False)
    try:
        user = await beside.add_user(name="alice", password_hash=None, is_admin=True)
        service = await SqliteCallStore.open(database, clock)
        try:
            assert await service.get_user(user.id) == user
        finally:
            await service.close()
    finally:
        await beside.close()


# A database that cannot be written


async def test_a_write_to_a_database_locked_by_another_program_is_storage_unavailable(
    store: SqliteCallStore, clock: ManualClock, other_writer: sqlite3.Connection
) -> None:
    booked = await book(store, clock)
    other_writer.execute("BEGIN IMMEDIATE")

    with pytest.raises(StorageUnavailable, match="database is locked"):
        await book(store, clock)
    with pytest.raises(StorageUnavailable):
        await store.record_event("evt-1", "call.hangup", b"{}")
    other_writer.execute("ROLLBACK")

    again = await book(store, clock)
    assert [call.id for call in await store.list_calls()] == [again.id, booked.id]


async def test_ping_fails_while_writes_fail_and_passes_once_they_succeed(
    store: SqliteCallStore, clock: ManualClock, other_writer: sqlite3.Connection
) -> None:
    other_writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(StorageUnavailable):
        await book(store, clock)

    with pytest.raises(StorageUnavailable, match="database is locked"):
        await store.ping()
    other_writer.execute("ROLLBACK")

    await store.ping()


async def test_ping_notices_a_database_it_cannot_write_without_any_other_write(
    store: SqliteCallStore, clock: ManualClock, other_writer: sqlite3.Connection
) -> None:
    await store.ping()
    other_writer.execute("BEGIN IMMEDIATE")
    clock.advance(WRITE_PROBE_AFTER_S)

    with pytest.raises(StorageUnavailable):
        await store.ping()


async def test_ping_right_after_a_successful_write_writes_nothing_itself(
    store: SqliteCallStore, clock: ManualClock, other_writer: sqlite3.Connection
) -> None:
    """So health checks cost no commit while the service is writing anyway."""
    await book(store, clock)
    other_writer.execute("BEGIN IMMEDIATE")

    await store.ping()


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    store: SqliteCallStore, clock: ManualClock, other_writer: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialajoke.store")
    other_writer.execute("BEGIN IMMEDIATE")
    for _ in range(3):
        with pytest.raises(StorageUnavailable):
            await book(store, clock)
    other_writer.execute("ROLLBACK")
    await book(store, clock)
    await book(store, clock)

    records = [(record.levelno, record.getMessage()) for record in caplog.records if "written" in record.getMessage()]
    assert [level for level, _ in records] == [logging.WARNING, logging.INFO]
    assert "cannot be written (database is locked)" in records[0][1]
    assert "can be written again" in records[1][1]
    assert not [record for record in caplog.records if record.exc_info]


def sqlite_error(database: str | Path, sql: str, *, uri: bool = False) -> sqlite3.Error:
    """The error SQLite itself raises for ``sql``."""
    connection = sqlite3.connect(database, uri=uri, isolation_level=None)
    try:
        connection.execute(sql)
    except sqlite3.Error as exc:
        return exc
    finally:
        connection.close()
    raise AssertionError(f"{sql} did not fail")


async def test_a_read_only_database_is_a_storage_fault_and_a_bad_statement_is_not(
    store: SqliteCallStore, database: Path
) -> None:
    refused = sqlite_error(f"file:{database}?mode=ro", "DELETE FROM calls", uri=True)
    mistaken = sqlite_error(database, "SELECT nonsense FROM nowhere")

    assert "attempt to write a readonly database" in str(refused)
    assert is_storage_fault(refused)
    assert not is_storage_fault(mistaken)
