"""SqliteThread: writes grouped into one commit, each durable before its answer, failures kept apart."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dialajoke.store.sqlite_thread import BatchFailed, SqliteThread, SqliteThreadClosed

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS pins (
    note_id INTEGER REFERENCES notes (id) DEFERRABLE INITIALLY DEFERRED
);
"""


def set_up(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)


@pytest.fixture
async def writer(database: Path) -> AsyncIterator[SqliteThread]:
    thread = await SqliteThread.open(database, group_commit=True, setup=set_up, name="test writer")
    yield thread
    await thread.close()


def add(text: str) -> Callable[[sqlite3.Connection], int]:
    def insert(db: sqlite3.Connection) -> int:
        row_id = db.execute("INSERT INTO notes (text) VALUES (?)", (text,)).lastrowid
        assert row_id is not None
        return row_id

    return insert


def file_size(database: Path) -> int:
    """The database file alone, without its WAL: it grows only when a checkpoint copies pages in."""
    return database.stat().st_size


def on_disk(database: Path) -> list[str]:
    """What another process would find: a fresh connection, no shared cache."""
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT text FROM notes ORDER BY id")]


async def test_writes_handed_over_together_share_one_commit(writer: SqliteThread, database: Path) -> None:
    before = writer.transactions

    ids = await asyncio.gather(*(writer.run(add(f"note {n}")) for n in range(50)))

    assert writer.transactions - before == 1
    assert sorted(ids) == list(range(1, 51))
    assert on_disk(database) == [f"note {n}" for n in range(50)]


async def test_a_write_is_on_disk_when_its_answer_arrives(writer: SqliteThread, database: Path) -> None:
    await writer.run(add("durable"))

    assert on_disk(database) == ["durable"]


async def test_a_failing_write_fails_alone_and_leaves_nothing_behind(writer: SqliteThread, database: Path) -> None:
    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO notes (text) VALUES ('half')")
        raise ValueError("changed my mind")

    results = await asyncio.gather(
        writer.run(add("before")), writer.run(half_then_fail), writer.run(add("after")), return_exceptions=True
    )

    assert isinstance(results[1], ValueError)
    assert results[0] == 1
    assert isinstance(results[2], int)
    assert on_disk(database) == ["before", "after"]


async def test_a_write_refused_at_commit_fails_alone(writer: SqliteThread, database: Path) -> None:
    """A deferred foreign key is checked only at COMMIT: the whole batch fails there, then is replayed."""
    dangling = writer.run(lambda db: db.execute("INSERT INTO pins (note_id) VALUES (999)"))

    results = await asyncio.gather(writer.run(add("kept")), dangling, return_exceptions=True)

    assert isinstance(results[1], sqlite3.IntegrityError)
    assert on_disk(database) == ["kept"]


async def test_a_reader_sees_every_write_answered_before_it_asked(writer: SqliteThread, database: Path) -> None:
    reader = await SqliteThread.open(database, group_commit=False, setup=lambda db: None, name="test reader")
    try:
        for n in range(20):
            await writer.run(add(f"note {n}"))
            count = await reader.run(lambda db: db.execute("SELECT COUNT(*) FROM notes").fetchone()[0])
            assert count == n + 1
    finally:
        await reader.close()


async def test_a_failing_read_fails_alone(database: Path, writer: SqliteThread) -> None:
    reader = await SqliteThread.open(database, group_commit=False, setup=lambda db: None, name="test reader")
    try:
        results = await asyncio.gather(
            reader.run(lambda db: db.execute("SELECT nonsense FROM nowhere").fetchall()),
            reader.run(lambda db: db.execute("SELECT 42").fetchone()[0]),
            return_exceptions=True,
        )
    finally:
        await reader.close()

    assert isinstance(results[0], sqlite3.OperationalError)
    assert results[1] == 42


async def test_close_finishes_what_was_handed_over_then_refuses_more(database: Path) -> None:
    writer = await SqliteThread.open(database, group_commit=True, setup=set_up, name="test writer")
    pending = [writer.run(add(f"note {n}")) for n in range(5)]

    await writer.close()

    assert [future.result() for future in pending] == [1, 2, 3, 4, 5]
    with pytest.raises(SqliteThreadClosed):
        await writer.run(add("too late"))
    assert len(on_disk(database)) == 5


async def test_a_database_that_cannot_be_opened_says_why(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await SqliteThread.open(tmp_path, group_commit=True, setup=set_up, name="test writer")


def traced(statements: list[str]) -> Callable[[sqlite3.Connection], None]:
    def set_up_and_trace(db: sqlite3.Connection) -> None:
        set_up(db)
        db.set_trace_callback(statements.append)

    return set_up_and_trace


async def test_after_a_failing_write_the_others_still_share_one_commit(database: Path) -> None:
    statements: list[str] = []
    writer = await SqliteThread.open(database, group_commit=True, setup=traced(statements), name="test writer")
    statements.clear()

    results = await asyncio.gather(
        *(writer.run(add(f"note {n}")) for n in range(5)), writer.run(add("note 0")), return_exceptions=True
    )
    await writer.close()

    assert isinstance(results[-1], sqlite3.IntegrityError)
    assert statements.count("COMMIT") == 1
    assert on_disk(database) == [f"note {n}" for n in range(5)]


async def test_a_database_locked_by_another_process_fails_the_batch_at_once(database: Path) -> None:
    statements: list[str] = []
    writer = await SqliteThread.open(
        database, group_commit=True, setup=traced(statements), name="test writer", busy_timeout_s=0.01
    )
    statements.clear()
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        results = await asyncio.gather(*(writer.run(add(f"note {n}")) for n in range(20)), return_exceptions=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    later = await writer.run(add("after the lock"))
    await writer.close()

    assert all(isinstance(result, sqlite3.OperationalError) for result in results)
    assert statements.count("BEGIN IMMEDIATE") == 2  # one for the locked-out batch, one after
    assert later == 1


def wal_size(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def write_notes(writer: SqliteThread, count: int) -> None:
    """One write at a time, as a steady trickle of requests would hand them over."""
    for n in range(count):
        await writer.run(add(f"a note long enough to fill pages {n:04d} " + "x" * 200))


async def after_checkpoints(writer: SqliteThread) -> None:
    """The writer checkpoints between batches, after answering: once a later batch is answered, that is done."""
    await writer.run(lambda db: None)


async def test_the_writer_copies_the_wal_into_the_database_between_batches(database: Path) -> None:
    writer = await SqliteThread.open(database, group_commit=True, setup=set_up, name="test writer", checkpoint_every=5)
    size_before = file_size(database)
    await write_notes(writer, 200)
    await after_checkpoints(writer)

    # Only a checkpoint writes to the database file itself (SQLite's own is turned off,
    # and closing the last connection would checkpoint too, so the writer stays open).
    grown = file_size(database) - size_before
    await writer.close()
    assert grown > 20_000
    assert len(on_disk(database)) == 200


async def test_checkpoints_keep_the_wal_from_growing_with_the_writes(tmp_path: Path) -> None:
    checkpointed, unchecked = tmp_path / "checkpointed.sqlite3", tmp_path / "unchecked.sqlite3"
    writer = await SqliteThread.open(checkpointed, group_commit=True, setup=set_up, checkpoint_every=5)
    await write_notes(writer, 300)
    checkpointed_wal = wal_size(checkpointed)
    await writer.close()

    def set_up_without_checkpoints(db: sqlite3.Connection) -> None:
        set_up(db)
        db.execute("PRAGMA wal_autocheckpoint=0")

    writer = await SqliteThread.open(unchecked, group_commit=True, setup=set_up_without_checkpoints)
    await write_notes(writer, 300)
    unchecked_wal = wal_size(unchecked)
    await writer.close()

    # Each checkpoint copies the whole WAL, so the next commit starts it over: it stays
    # the size of a few commits instead of holding every one of the 300.
    assert checkpointed_wal * 10 < unchecked_wal


async def test_a_writer_that_is_never_idle_still_checkpoints(database: Path) -> None:
    writer = await SqliteThread.open(database, group_commit=True, setup=set_up, name="test writer", checkpoint_every=2)
    size_before = file_size(database)
    started = [threading.Event() for _ in range(100)]
    released = [threading.Event() for _ in range(100)]

    def held_write(n: int) -> Callable[[sqlite3.Connection], int]:
        def write(db: sqlite3.Connection) -> int:
            started[n].set()
            released[n].wait(5)
            return add(f"a note long enough to fill pages {n:04d} " + "x" * 200)(db)

        return write

    # Each write is a batch of its own, held on the writer's thread until the next one
    # has been handed over: whenever a batch commits, more work is already waiting. The
    # loop runs its callbacks in the order they were scheduled, so the hand-over that
    # run() schedules comes before the release scheduled after it.
    loop = asyncio.get_running_loop()
    writes = []
    for n in range(100):
        writes.append(writer.run(held_write(n)))
        if n:
            loop.call_soon(released[n - 1].set)
        assert await asyncio.to_thread(started[n].wait, 5)
    # The last write is running, so every checkpoint before it is done; and it is still
    # held, so the writer has not been idle once.
    grown = file_size(database) - size_before
    released[-1].set()
    await asyncio.gather(*writes)
    await writer.close()
    assert grown > 20_000
    assert len(on_disk(database)) == 100


async def test_without_checkpoint_every_the_writer_never_checkpoints(database: Path) -> None:
    def set_up_without_checkpoints(db: sqlite3.Connection) -> None:
        set_up(db)
        db.execute("PRAGMA wal_autocheckpoint=0")

    writer = await SqliteThread.open(database, group_commit=True, setup=set_up_without_checkpoints, name="test writer")
    size_before = file_size(database)
    for n in range(200):
        await writer.run(add(f"a note long enough to fill pages {n:04d} " + "x" * 200))

    assert file_size(database) == size_before
    await writer.close()


# Nothing that goes wrong leaves a caller waiting

ANSWER_WITHIN_S = 5.0
"""A caller that has not been answered by then is taken to be waiting forever."""


class Escaped(BaseException):
    """Not an Exception: what no unit of work is expected to raise, and no `except Exception` catches."""


def escaping(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO notes (text) VALUES ('half')")
    raise Escaped("out of the unit of work")


async def answered(*futures: asyncio.Future[Any]) -> list[object]:
    return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), ANSWER_WITHIN_S)


async def test_a_write_batch_killed_by_its_unit_fails_alone_and_the_next_batch_is_served(
    writer: SqliteThread, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    killed = await answered(writer.run(add("same batch")), writer.run(escaping))

    after = await asyncio.wait_for(writer.run(add("next batch")), ANSWER_WITHIN_S)

    assert [type(result) for result in killed] == [BatchFailed, BatchFailed]
    assert isinstance(killed[1], BatchFailed)
    assert isinstance(killed[1].__cause__, Escaped)
    assert isinstance(after, int)
    assert on_disk(database) == ["next batch"]
    assert "the next batch will be served" in caplog.text


async def test_a_read_batch_killed_by_its_unit_fails_alone_and_the_next_batch_is_served(
    writer: SqliteThread, database: Path
) -> None:
    reader = await SqliteThread.open(database, group_commit=False, setup=lambda db: None, name="test reader")
    try:
        killed = await answered(reader.run(lambda db: 1), reader.run(escaping))
        after = await asyncio.wait_for(reader.run(lambda db: db.execute("SELECT 42").fetchone()[0]), ANSWER_WITHIN_S)
    finally:
        await reader.close()

    assert [type(result) for result in killed] == [BatchFailed, BatchFailed]
    assert after == 42


async def test_writes_committed_before_the_batch_was_killed_keep_their_answers(
    writer: SqliteThread, database: Path
) -> None:
    """The COMMIT fails, so each write runs again alone: the first commits, then the third kills the batch."""
    runs = 0

    def escaping_when_run_again(db: sqlite3.Connection) -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            raise Escaped("on its second run")

    dangling = writer.run(lambda db: db.execute("INSERT INTO pins (note_id) VALUES (999)"))

    results = await answered(writer.run(add("kept")), dangling, writer.run(escaping_when_run_again))
    after = await asyncio.wait_for(writer.run(add("next batch")), ANSWER_WITHIN_S)

    assert results[0] == 1
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert isinstance(results[2], BatchFailed)
    assert isinstance(after, int)
    assert on_disk(database) == ["kept", "next batch"]


async def test_a_connection_that_no_longer_works_fails_every_caller_instead_of_hanging(writer: SqliteThread) -> None:
    broken = await answered(writer.run(add("before")), writer.run(lambda db: db.close()))

    later = await answered(*(writer.run(add(f"note {n}")) for n in range(3)))
    again = await answered(writer.run(add("again")))

    assert all(isinstance(result, sqlite3.ProgrammingError) for result in [*broken, *later, *again])


class DiesBetweenBatches(SqliteThread):
    """A fault injected where no unit of work runs: after its first batch, the thread stops when told to."""

    die: threading.Event

    def _checkpoint_when_quiet(self, connection: sqlite3.Connection) -> None:
        self.die.wait(ANSWER_WITHIN_S)
        raise Escaped("in the batch machinery")


async def test_work_handed_to_a_thread_that_stopped_fails_instead_of_waiting_forever(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = await DiesBetweenBatches.open(database, group_commit=True, setup=set_up, name="test writer")
    assert isinstance(writer, DiesBetweenBatches)
    writer.die = threading.Event()
    first = await asyncio.wait_for(writer.run(add("first")), ANSWER_WITHIN_S)

    waiting = [writer.run(add(f"note {n}")) for n in range(3)]
    asyncio.get_running_loop().call_soon(writer.die.set)  # after the hand-over that run() scheduled
    left = await answered(*waiting)
    with pytest.raises(SqliteThreadClosed):
        writer.run(add("after"))
    await writer.close()

    assert first == 1
    assert [type(result) for result in left] == [SqliteThreadClosed] * 3
    assert on_disk(database) == ["first"]
    assert "no more work can run" in caplog.text
