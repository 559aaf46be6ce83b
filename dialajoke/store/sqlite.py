"""SqliteCallStore: the CallStore contract on one SQLite file.

The schedule must survive a restart, so every call is a row and every step of its life
a row on its timeline.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Self, TypeVar

from ..clock import Clock
from ..ids import unique_id
from ..models import IN_PROGRESS, Call, CallStatus, Direction, TimelineEntry, epoch_to_datetime
from .contract import CallStore, CannotOpenDatabase, StorageUnavailable
from .lock import DatabaseLock
from .sqlite_thread import BUSY_TIMEOUT_S, SqliteThread

logger = logging.getLogger(__name__)

T = TypeVar("T")


SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
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
CREATE INDEX IF NOT EXISTS calls_by_status_due ON calls (status, due_at);
CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls (id),
    at REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS call_events_by_call ON call_events (call_id, id);
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL,
    processed_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_events_unprocessed ON webhook_events (received_at) WHERE processed_at IS NULL;
CREATE TABLE IF NOT EXISTS write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at REAL NOT NULL
);
"""

_CALL_COLUMNS = (
    "id, ref, direction, to_number, from_number, due_at, timezone, status, joke, call_control_id, "
    "hangup_cause, created_at, updated_at"
)


class SqliteCallStore(CallStore):
    """SQLite in WAL mode with full sync: a write has reached the disk when its method returns.

    Two connections, each on its own :class:`SqliteThread`: the writer runs every write
    waiting at one moment in one transaction (group commit: one fsync for a burst of
    bookings or webhooks), the reader serves every read waiting at one moment from one
    snapshot, and the writer copies the WAL into the database file when it is otherwise
    idle. WAL lets the two work at once. Each method hands over one function that does
    all of its SQL, so a method costs one trip to a thread, however many statements it runs.

    One process at a time: the store holds a :class:`DatabaseLock` while it is open.
    A write that SQLite refuses for want of storage (see :func:`is_storage_fault`)
    raises :class:`StorageUnavailable`; the first such failure is logged as a warning,
    and the first write to succeed after it as the recovery.
    """

    def __init__(
        self, path: str | Path, writer: SqliteThread, reader: SqliteThread, clock: Clock, lock: DatabaseLock
    ) -> None:
        self._path = path
        self._writer = writer
        self._reader = reader
        self._clock = clock
        self._lock = lock
        self._write_fault: str | None = None
        """Why the last write failed for want of storage; None once a write has succeeded since."""
        self._written_at = -math.inf
        """When a write last succeeded (the clock's epoch seconds)."""

    @classmethod
    async def open(cls, path: str | Path, clock: Clock, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Self:
        """Lock the database for this process, then connect the writer and the reader.

        Raises :class:`DatabaseInUse` when another process has it open.

        :param busy_timeout_s: how long a write waits for another program's lock on the file
            before it fails with :class:`StorageUnavailable`.
        """
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise ValueError(f"database.path must name a file (got {path!r}): the schedule has to survive a restart")
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            lock = DatabaseLock.acquire(path)
        except OSError as exc:
            why = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
            raise _cannot_open(path, why) from exc
        try:
            writer, reader = await _connect(path, busy_timeout_s)
        except sqlite3.Error as exc:
            lock.release()
            raise _cannot_open(path, str(exc)) from exc
        except BaseException:
            lock.release()
            raise
        return cls(path, writer, reader, clock, lock)

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
        self._lock.release()

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write; a refusal for want of storage becomes :class:`StorageUnavailable`."""
        try:
            result = await self._writer.run(work)
        except sqlite3.Error as exc:
            if not is_storage_fault(exc):
                raise
            raise self._cannot_write(exc) from exc
        self._can_write()
        return result

    def _cannot_write(self, exc: sqlite3.Error) -> StorageUnavailable:
        if self._write_fault is None:
            logger.warning(
                "database %s cannot be written (%s): every write is refused until it can;"
                " free disk space, make the file writable, or stop what holds its lock",
                self._path,
                exc,
            )
        self._write_fault = str(exc)
        return StorageUnavailable(f"the database cannot be written: {exc}")

    def _can_write(self) -> None:
        self._written_at = self._clock.time()
        if self._write_fault is not None:
            logger.info("database %s can be written again (it could not: %s)", self._path, self._write_fault)
            self._write_fault = None

    async def add_call(
        self,
        *,
        direction: Direction,
        to: str,
        from_: str,
        at: datetime,
        timezone: str,
        status: CallStatus,
        detail: str,
        call_control_id: str | None = None,
    ) -> Call:
        now = self._clock.time()
        ref = unique_id()
        due_at = at.timestamp()

        def insert(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO calls (ref, direction, to_number, from_number, due_at, timezone, status, call_control_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ref, direction, to, from_, due_at, timezone, status, call_control_id, now, now),
            )
            assert cursor.lastrowid is not None
            _insert_event(db, cursor.lastrowid, now, status, detail)
            return cursor.lastrowid

        call_id = await self._write(insert)
        # Built from what was written rather than read back: nothing else can have changed it yet.
        created = epoch_to_datetime(now)
        return Call(
            id=call_id,
            ref=ref,
            direction=direction,
            to=to,
            from_=from_,
            at=epoch_to_datetime(due_at),
            timezone=timezone,
            status=status,
            call_control_id=call_control_id,
            created_at=created,
            updated_at=created,
            events=(TimelineEntry(created, status, detail),),
        )

    async def get_call(self, call_id: int) -> Call | None:
        return await self._reader.run(lambda db: _call_by(db, "id", call_id))

    async def find_call(self, *, ref: str | None = None, call_control_id: str | None = None) -> Call | None:
        def find(db: sqlite3.Connection) -> Call | None:
            for column, value in (("ref", ref), ("call_control_id", call_control_id)):
                if value:
                    call = _call_by(db, column, value)
                    if call is not None:
                        return call
            return None

        return await self._reader.run(find)

    async def move(
        self,
        call_id: int,
        new: CallStatus,
        detail: str,
        *,
        only_from: Iterable[CallStatus] = (),
        joke: str | None = None,
        hangup_cause: str | None = None,
    ) -> Call | None:
        allowed = sorted(CallStatus.before(new).intersection(only_from or CallStatus))
        now = self._clock.time()
        sql = (
            "UPDATE calls SET status = ?, updated_at = ?, joke = COALESCE(?, joke),"
            " hangup_cause = COALESCE(?, hangup_cause)"
            f" WHERE id = ? AND status IN ({', '.join('?' * len(allowed))})"
        )

        def update(db: sqlite3.Connection) -> Call | None:
            if db.execute(sql, (new, now, joke, hangup_cause, call_id, *allowed)).rowcount != 1:
                return None
            _insert_event(db, call_id, now, new, detail)
            return _call_by(db, "id", call_id)

        moved = await self._write(update)
        if moved is not None:
            logger.info("call %s is %s: %s", call_id, new, detail)
        return moved

    async def attach_call_control_id(self, call_id: int, call_control_id: str) -> None:
        sql = "UPDATE calls SET call_control_id = ? WHERE id = ? AND call_control_id IS NULL"
        await self._write(partial(_execute, sql=sql, params=(call_control_id, call_id)))

    async def add_note(self, call_id: int, detail: str) -> None:
        now = self._clock.time()
        sql = "INSERT INTO call_events (call_id, at, status, detail) SELECT id, ?, status, ? FROM calls WHERE id = ?"
        await self._write(partial(_execute, sql=sql, params=(now, detail, call_id)))
        logger.info("call %s: %s", call_id, detail)

    async def list_calls(
        self, *, statuses: Iterable[CallStatus] | None = None, limit: int = 50, upcoming: bool = False
    ) -> list[Call]:
        where, params = "", []
        if statuses is not None:
            wanted = list(statuses)
            where = f" WHERE status IN ({', '.join('?' * len(wanted))})"
            params = [str(status) for status in wanted]
        order = "due_at ASC, id ASC" if upcoming else "due_at DESC, id DESC"
        sql = f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY {order} LIMIT ?"
        return await self._reader.run(lambda db: _calls(db, sql, (*params, limit)))

    async def scheduled(self, *, after: float = -math.inf, until: float = math.inf) -> AsyncIterator[tuple[int, float]]:
        # Page by page, each page a whole query: no statement stays open between pages,
        # so the reader never holds an old snapshot while other reads wait behind it.
        sql = (
            "SELECT id, due_at FROM calls WHERE status = ? AND (due_at, id) > (?, ?) AND due_at <= ?"
            " ORDER BY due_at, id LIMIT ?"
        )
        last_due: float = after
        last_id: float = math.inf
        while True:
            params = (CallStatus.SCHEDULED, last_due, last_id, until, SCHEDULED_PAGE)
            page = await self._reader.run(partial(_fetch_all, sql=sql, params=params))
            for call_id, due_at in page:
                yield call_id, due_at
            if len(page) < SCHEDULED_PAGE:
                return
            last_id, last_due = page[-1]

    async def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        statuses = [status.value for status in IN_PROGRESS]
        placeholders = ", ".join("?" * len(statuses))
        sql = f"SELECT id, status, direction, call_control_id FROM calls WHERE status IN ({placeholders})"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=statuses))
        for call_id, status, direction, call_control_id in rows:
            yield call_id, CallStatus(status), Direction(direction), call_control_id

    async def count_by_status(self) -> dict[CallStatus, int]:
        rows = await self._reader.run(partial(_fetch_all, sql="SELECT status, COUNT(*) FROM calls GROUP BY status"))
        return {CallStatus(status): count for status, count in rows}

    async def record_event(self, event_id: str, event_type: str, body: bytes) -> bool:
        received_at = self._clock.time()
        sql = "INSERT OR IGNORE INTO webhook_events (event_id, event_type, received_at, body) VALUES (?, ?, ?, ?)"
        return await self._write(lambda db: db.execute(sql, (event_id, event_type, received_at, body)).rowcount == 1)

    async def mark_events_processed(self, outcomes: Mapping[str, str | None]) -> None:
        processed_at = self._clock.time()
        rows = [(processed_at, error, event_id) for event_id, error in outcomes.items()]
        sql = "UPDATE webhook_events SET processed_at = ?, error = ? WHERE event_id = ?"
        await self._write(partial(_execute_many, sql=sql, rows=rows))

    async def forget_events(self, processed_before: float) -> int:
        def delete(db: sqlite3.Connection) -> int:
            sql = "DELETE FROM webhook_events WHERE processed_at IS NOT NULL AND processed_at < ?"
            return db.execute(sql, (processed_before,)).rowcount

        return await self._write(delete)

    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        sql = "SELECT event_id, body FROM webhook_events WHERE processed_at IS NULL ORDER BY received_at LIMIT ?"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=(limit + len(exclude),)))
        return [(event_id, bytes(body)) for event_id, body in rows if event_id not in exclude][:limit]

    async def ping(self) -> None:
        await self._reader.run(partial(_fetch_all, sql="SELECT 1"))
        if self._write_fault is not None or self._clock.time() - self._written_at >= WRITE_PROBE_AFTER_S:
            now = self._clock.time()
            await self._write(
                partial(_execute, sql="REPLACE INTO write_probe (id, written_at) VALUES (1, ?)", params=(now,))
            )


def _cannot_open(path: str | Path, why: str) -> CannotOpenDatabase:
    return CannotOpenDatabase(
        f"cannot open the database {path} ({why}): set database.path to a file this user can write"
    )


async def _connect(path: str | Path, busy_timeout_s: float) -> tuple[SqliteThread, SqliteThread]:
    writer = await SqliteThread.open(
        path,
        group_commit=True,
        setup=_set_up_writer,
        name="sqlite writer",
        busy_timeout_s=busy_timeout_s,
        checkpoint_every=CHECKPOINT_EVERY,
    )
    try:
        reader = await SqliteThread.open(path, group_commit=False, setup=_set_up_reader, name="sqlite reader")
    except BaseException:
        await writer.close()
        raise
    return writer, reader


STORAGE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
    }
)
"""SQLite's primary result codes for a write refused by the storage, not by the write itself."""


def is_storage_fault(exc: sqlite3.Error) -> bool:
    """A full disk, a read-only or locked database, an I/O error: not the write's fault, and it may pass."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in STORAGE_FAULTS


WRITE_PROBE_AFTER_S = 1.0
"""A ping writes only when no write has succeeded for this long, so that a busy service's
health checks cost no commit of their own, while an idle one's still notice a full disk."""
CHECKPOINT_EVERY = 1000
"""Commits between two checkpoints: enough to make checkpoints rare, few enough that the WAL stays
a bounded number of pages (see SqliteThread)."""
SCHEDULED_PAGE = 1000
"""Calls read per query by :meth:`SqliteCallStore.scheduled`."""


def _set_up_writer(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)


def _set_up_reader(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA query_only=ON")


def _execute(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> None:
    """Run a write; the cursor stays on the database's thread."""
    db.execute(sql, params)


def _execute_many(db: sqlite3.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    db.executemany(sql, rows)


def _fetch_all(db: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    return db.execute(sql, params).fetchall()


def _insert_event(db: sqlite3.Connection, call_id: int, at: float, status: CallStatus, detail: str) -> None:
    db.execute(
        "INSERT INTO call_events (call_id, at, status, detail) VALUES (?, ?, ?, ?)", (call_id, at, status, detail)
    )


def _call_by(db: sqlite3.Connection, column: str, value: object) -> Call | None:
    calls = _calls(db, f"SELECT {_CALL_COLUMNS} FROM calls WHERE {column} = ?", (value,))
    return calls[0] if calls else None


def _calls(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Call]:
    """The calls a query selects (``_CALL_COLUMNS``), each with its timeline."""
    rows = db.execute(sql, params).fetchall()
    if not rows:
        return []
    timelines = _timelines(db, [row["id"] for row in rows])
    return [_call_from_row(row, timelines.get(row["id"], ())) for row in rows]


def _timelines(db: sqlite3.Connection, call_ids: list[int]) -> dict[int, tuple[TimelineEntry, ...]]:
    rows = db.execute(
        f"SELECT call_id, at, status, detail FROM call_events WHERE call_id IN ({', '.join('?' * len(call_ids))})"
        " ORDER BY id",
        call_ids,
    ).fetchall()
    timelines: dict[int, list[TimelineEntry]] = {}
    for call_id, at, status, detail in rows:
        timelines.setdefault(call_id, []).append(TimelineEntry(epoch_to_datetime(at), CallStatus(status), detail))
    return {call_id: tuple(entries) for call_id, entries in timelines.items()}


def _call_from_row(row: sqlite3.Row, events: tuple[TimelineEntry, ...]) -> Call:
    return Call(
        id=row["id"],
        ref=row["ref"],
        direction=Direction(row["direction"]),
        to=row["to_number"],
        from_=row["from_number"],
        at=epoch_to_datetime(row["due_at"]),
        timezone=row["timezone"],
        status=CallStatus(row["status"]),
        joke=row["joke"],
        call_control_id=row["call_control_id"],
        hangup_cause=row["hangup_cause"],
        created_at=epoch_to_datetime(row["created_at"]),
        updated_at=epoch_to_datetime(row["updated_at"]),
        events=events,
    )
