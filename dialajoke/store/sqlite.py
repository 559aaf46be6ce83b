"""SqliteCallStore: the CallStore contract on one SQLite file.

The schedule must survive a restart, so every call is a row and every step of its life
a row on its timeline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Self, TypeVar

from ..clock import Clock
from ..ids import unique_id
from ..models import (
    IN_PROGRESS,
    ApiKey,
    Call,
    CallStatus,
    Direction,
    DoNotCallEntry,
    TimelineEntry,
    User,
    epoch_to_datetime,
)
from .contract import (
    DAY_S,
    HOUR_S,
    IDEMPOTENCY_KEYS_KEPT_S,
    LOGIN_FAILURES_KEPT_S,
    AlreadyBooked,
    BookingQuota,
    CallChange,
    CallStore,
    CannotOpenDatabase,
    DialRefusal,
    Idempotency,
    IdempotencyKeyReused,
    LastAdmin,
    Limit,
    LimitReached,
    OnDoNotCallList,
    StorageUnavailable,
    UserExists,
)
from .lock import DatabaseLock
from .quota import busiest_window
from .sqlite_thread import BUSY_TIMEOUT_S, SqliteThread

logger = logging.getLogger(__name__)

T = TypeVar("T")


_OUTBOUND_COUNTED = (
    f"direction = '{Direction.OUTBOUND}' AND status NOT IN ('{CallStatus.CANCELLED}', '{CallStatus.MISSED}')"
)
"""The calls the service-wide limit on calls a day counts: outbound ones that were not cancelled
or missed (no one was rung). Its index and its queries spell it the same, so SQLite uses the one for the other."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: calls, their timelines, webhook events: the schema of every database made before
    # versions were numbered (version 0). IF NOT EXISTS lets such a database through unchanged.
    (
        """CREATE TABLE IF NOT EXISTS calls (
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
        )""",
        "CREATE INDEX IF NOT EXISTS calls_by_status_due ON calls (status, due_at)",
        """CREATE TABLE IF NOT EXISTS call_events (
            id INTEGER PRIMARY KEY,
            call_id INTEGER NOT NULL REFERENCES calls (id),
            at REAL NOT NULL,
            status TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS call_events_by_call ON call_events (call_id, id)",
        """CREATE TABLE IF NOT EXISTS webhook_events (
            event_id TEXT PRIMARY KEY,
            event_type TEXT NOT NULL,
            received_at REAL NOT NULL,
            body BLOB NOT NULL,
            processed_at REAL,
            error TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS webhook_events_unprocessed ON webhook_events (received_at)"
        " WHERE processed_at IS NULL",
        """CREATE TABLE IF NOT EXISTS write_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            written_at REAL NOT NULL
        )""",
    ),
    # 2: users, their API keys, failed sign-ins; each call's owner.
    (
        # name_key is the name case-folded (SQLite's own lower() folds only ASCII letters).
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            is_admin INTEGER NOT NULL,
            password_hash TEXT,
            created_at REAL NOT NULL,
            disabled_at REAL
        )""",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id),
            name TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_used_at REAL,
            revoked_at REAL
        )""",
        "CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at)",
        """CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            name_key TEXT NOT NULL,
            address TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        "CREATE INDEX login_failures_by_name ON login_failures (name_key, at)",
        "CREATE INDEX login_failures_by_address ON login_failures (address, at)",
        "CREATE INDEX login_failures_by_time ON login_failures (at)",
        "ALTER TABLE calls ADD COLUMN owner_id INTEGER REFERENCES users (id)",
        "CREATE INDEX calls_by_owner_due ON calls (owner_id, due_at)",
    ),
    # 3: sessions ended on the page, kept until they would have expired.
    (
        """CREATE TABLE ended_sessions (
            id TEXT PRIMARY KEY,
            until REAL NOT NULL
        )""",
        "CREATE INDEX ended_sessions_by_until ON ended_sessions (until)",
    ),
    # 4: the do-not-call list; when each call was dialed; indexes that keep every booking
    # limit an index range, however many calls the table holds.
    (
        """CREATE TABLE do_not_call (
            number TEXT PRIMARY KEY,
            added_by TEXT NOT NULL,
            added_at REAL NOT NULL,
            call_id INTEGER
        )""",
        "CREATE INDEX do_not_call_by_added ON do_not_call (added_at)",
        "ALTER TABLE calls ADD COLUMN dialed_at REAL",
        "CREATE INDEX calls_by_dialed ON calls (dialed_at) WHERE dialed_at IS NOT NULL",
        "CREATE INDEX calls_by_number_due ON calls (to_number, due_at)",
        "CREATE INDEX calls_by_owner_status ON calls (owner_id, status, to_number)",
        "CREATE INDEX calls_by_owner_created ON calls (owner_id, created_at)",
        # Only the calls the service-wide limit counts, with the columns of its rule, so that
        # counting a day's calls reads this index alone, never the table.
        f"CREATE INDEX calls_counted_by_due ON calls (due_at, direction, status) WHERE {_OUTBOUND_COUNTED}",
    ),
    # 5: the list of calls, each of its filters an index search in due order (so a page never sorts
    # the table): every call by due time, and one owner's calls of one status.
    (
        "CREATE INDEX calls_by_due ON calls (due_at)",
        "CREATE INDEX calls_by_owner_status_due ON calls (owner_id, status, due_at)",
    ),
    # 6: the Idempotency-Key of each booking that came with one, per user, kept for a day.
    (
        """CREATE TABLE idempotency_keys (
            user_id INTEGER NOT NULL REFERENCES users (id),
            key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            call_id INTEGER NOT NULL REFERENCES calls (id),
            created_at REAL NOT NULL,
            PRIMARY KEY (user_id, key)
        )""",
        "CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at)",
    ),
)
"""The statements that bring a database from each version (``PRAGMA user_version``) to the next.

A change to the schema is a new entry at the end; an entry, once released, never changes,
since databases out there have run it.
"""
SCHEMA_VERSION = len(MIGRATIONS)
SCHEMA = "".join(f"{statement};\n" for statements in MIGRATIONS for statement in statements) + (
    f"PRAGMA user_version = {SCHEMA_VERSION};\n"
)
"""The whole schema as one script, for a tool that fills an empty database by hand (the benchmarks)."""

_CALL_COLUMNS = (
    "id, ref, direction, to_number, from_number, due_at, timezone, status, joke, call_control_id, "
    "hangup_cause, owner_id, created_at, updated_at"
)
_USER_COLUMNS = "id, name, is_admin, password_hash, created_at, disabled_at"
_KEY_COLUMNS = "id, user_id, name, secret_hash, created_at, last_used_at, revoked_at"
_DO_NOT_CALL_COLUMNS = "number, added_by, added_at, call_id"

_UNRUNG = f"('{CallStatus.CANCELLED}', '{CallStatus.MISSED}')"
"""Calls cancelled, or missed without ringing, count for no limit: no one was rung."""
_OUTBOUND = f"direction = '{Direction.OUTBOUND}'"
_PENDING = f"status = '{CallStatus.SCHEDULED}'"

QUOTA_QUERIES = {
    "calls_to_number": (
        "SELECT due_at FROM calls WHERE to_number = ? AND due_at > ? AND due_at < ?"
        f" AND {_OUTBOUND} AND status NOT IN {_UNRUNG}"
    ),
    "pending_to_number": f"SELECT count(*) FROM calls WHERE owner_id IS ? AND {_PENDING} AND to_number = ?",
    "pending": f"SELECT count(*) FROM calls WHERE owner_id IS ? AND {_PENDING}",
    "booked_count": f"SELECT count(*) FROM calls WHERE owner_id IS ? AND created_at > ? AND {_OUTBOUND}",
    "booked_nth": (
        f"SELECT created_at FROM calls WHERE owner_id IS ? AND created_at > ? AND {_OUTBOUND}"
        " ORDER BY created_at LIMIT 1 OFFSET ?"
    ),
    # Counted up to one past the limit at most: a day's calls cost no more to count than the limit allows.
    "due_count": (
        f"SELECT count(*) FROM (SELECT 1 FROM calls WHERE {_OUTBOUND_COUNTED} AND due_at > ? AND due_at <= ? LIMIT ?)"
    ),
    "due_nth": (
        f"SELECT due_at FROM calls WHERE {_OUTBOUND_COUNTED} AND due_at > ? AND due_at <= ?"
        " ORDER BY due_at LIMIT 1 OFFSET ?"
    ),
    "dialed_count": "SELECT count(*) FROM calls WHERE dialed_at > ? AND dialed_at <= ?",
    "scheduled_to_number": f"SELECT id FROM calls WHERE to_number = ? AND {_PENDING} AND {_OUTBOUND}",
}
"""The queries behind the booking limits, the daily dial cap and the do-not-call list's
cancellations: each an index range, never a scan of the calls (tests/test_sqlite_store.py
reads their plans)."""


class SqliteCallStore(CallStore):
    """SQLite in WAL mode with full sync: a write has reached the disk when its method returns.

    Two connections, each on its own :class:`SqliteThread`: the writer runs every write
    waiting at one moment in one transaction (group commit: one fsync for a burst of
    bookings or webhooks), the reader serves every read waiting at one moment from one
    snapshot, and the writer copies the WAL into the database file when it is otherwise
    idle. WAL lets the two work at once. Each method hands over one function that does
    all of its SQL, so a method costs one trip to a thread, however many statements it runs.

    One process at a time: the store holds a :class:`DatabaseLock` while it is open
    (unless opened with ``exclusive=False``, for a short edit beside the running service).
    The database and the files SQLite keeps beside it are readable by their owner alone:
    they hold password hashes and every number ever booked.
    A write that SQLite refuses for want of storage (see :func:`is_storage_fault`)
    raises :class:`StorageUnavailable`; the first such failure is logged as a warning,
    and the first write to succeed after it as the recovery.
    """

    def __init__(
        self,
        path: str | Path,
        writer: SqliteThread,
        reader: SqliteThread,
        clock: Clock,
        lock: DatabaseLock | None,
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
        self._calls_changed = asyncio.Event()
        """Set, and replaced by a fresh one, each time a write of this store changes a call's timeline."""

    @classmethod
    async def open(
        cls, path: str | Path, clock: Clock, *, busy_timeout_s: float = BUSY_TIMEOUT_S, exclusive: bool = True
    ) -> Self:
        """Lock the database for this process (see ``exclusive``), then connect the writer and the reader.

        A database made by an earlier version is brought up to date (see :data:`MIGRATIONS`).
        Raises :class:`DatabaseInUse` when another process has it open.

        :param busy_timeout_s: how long a write waits for another program's lock on the file
            before it fails with :class:`StorageUnavailable`.
        :param exclusive: False to open it without the lock, beside a service that holds it:
            for the command line that edits users, never to run calls (two schedulers would
            dial each call twice). SQLite's own locking keeps the two processes' writes apart.
        """
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise ValueError(f"database.path must name a file (got {path!r}): the schedule has to survive a restart")
        try:
            _create_private(Path(path))
            lock = DatabaseLock.acquire(path) if exclusive else None
        except OSError as exc:
            why = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
            raise _cannot_open(path, why) from exc
        try:
            writer, reader = await _connect(path, busy_timeout_s)
        except sqlite3.Error as exc:
            _release(lock)
            raise _cannot_open(path, str(exc)) from exc
        except BaseException:
            _release(lock)
            raise
        return cls(path, writer, reader, clock, lock)

    async def close(self) -> None:
        await self._writer.close()
        await self._reader.close()
        _release(self._lock)

    async def _write(self, work: Callable[[sqlite3.Connection], T], *, changes_calls: bool = False) -> T:
        """Run a write; a refusal for want of storage becomes :class:`StorageUnavailable`.

        ``changes_calls``: the write may add to the calls' timeline, so the waiters of
        :meth:`wait_for_change` are woken once it is committed (no query: they look for themselves).
        """
        try:
            result = await self._writer.run(work)
        except sqlite3.Error as exc:
            if not is_storage_fault(exc):
                raise
            raise self._cannot_write(exc) from exc
        self._can_write()
        if changes_calls:
            self._calls_changed.set()
            self._calls_changed = asyncio.Event()
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
        owner_id: int | None = None,
        quota: BookingQuota | None = None,
        idempotency: Idempotency | None = None,
    ) -> Call:
        if idempotency is not None and owner_id is None:
            raise ValueError("an idempotency key belongs to a user: give the owner_id of the booking")
        now = self._clock.time()
        ref = unique_id()
        due_at = at.timestamp()
        booking = _Booking(to=to, owner_id=owner_id, due_at=due_at, booked_at=now)

        def insert(db: sqlite3.Connection) -> int | _NotBooked:
            # A refusal is returned, not raised: raised, it would undo and rerun the whole batch.
            if idempotency is not None and owner_id is not None:
                earlier = _earlier_booking(db, owner_id, idempotency, now)
                if earlier is not None:
                    return earlier
            refusal = None if quota is None else _refusal(db, quota, booking)
            if refusal is not None:
                return refusal
            cursor = db.execute(
                "INSERT INTO calls (ref, direction, to_number, from_number, due_at, timezone, status, call_control_id,"
                " owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ref, direction, to, from_, due_at, timezone, status, call_control_id, owner_id, now, now),
            )
            assert cursor.lastrowid is not None
            _insert_event(db, cursor.lastrowid, now, status, detail)
            if idempotency is not None:
                db.execute(
                    "INSERT INTO idempotency_keys (user_id, key, fingerprint, call_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (owner_id, idempotency.key, idempotency.fingerprint, cursor.lastrowid, now),
                )
            return cursor.lastrowid

        call_id = await self._write(insert, changes_calls=True)
        if isinstance(call_id, Exception):
            raise call_id
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
            owner_id=owner_id,
            created_at=created,
            updated_at=created,
            events=(TimelineEntry(created, status, detail),),
        )

    async def booked_with_key(self, owner_id: int, idempotency: Idempotency) -> Call | None:
        now = self._clock.time()
        earlier = await self._reader.run(lambda db: _earlier_booking(db, owner_id, idempotency, now, forget=False))
        if isinstance(earlier, IdempotencyKeyReused):
            raise earlier
        return None if earlier is None else earlier.call

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

        moved = await self._write(update, changes_calls=True)
        if moved is not None:
            logger.info("call %s is %s: %s", call_id, new, detail)
        return moved

    async def attach_call_control_id(self, call_id: int, call_control_id: str) -> None:
        sql = "UPDATE calls SET call_control_id = ? WHERE id = ? AND call_control_id IS NULL"
        await self._write(partial(_execute, sql=sql, params=(call_control_id, call_id)))

    async def add_note(self, call_id: int, detail: str) -> None:
        now = self._clock.time()
        sql = "INSERT INTO call_events (call_id, at, status, detail) SELECT id, ?, status, ? FROM calls WHERE id = ?"
        await self._write(partial(_execute, sql=sql, params=(now, detail, call_id)), changes_calls=True)
        logger.info("call %s: %s", call_id, detail)

    async def list_calls(
        self,
        *,
        statuses: Iterable[CallStatus] | None = None,
        limit: int = 50,
        upcoming: bool = False,
        owner_id: int | None = None,
        due_from: float | None = None,
        due_until: float | None = None,
        after: tuple[float, int] | None = None,
    ) -> list[Call]:
        query = list_calls_query(
            statuses=statuses,
            limit=limit,
            upcoming=upcoming,
            owner_id=owner_id,
            due_from=due_from,
            due_until=due_until,
            after=after,
        )
        if query is None:
            return []
        sql, params = query
        return await self._reader.run(lambda db: _calls(db, sql, params))

    async def scheduled(
        self, *, after: float = -math.inf, until: float = math.inf
    ) -> AsyncIterator[tuple[int, float, int | None]]:
        # Page by page, each page a whole query: no statement stays open between pages,
        # so the reader never holds an old snapshot while other reads wait behind it.
        sql = (
            "SELECT id, due_at, owner_id FROM calls WHERE status = ? AND (due_at, id) > (?, ?) AND due_at <= ?"
            " ORDER BY due_at, id LIMIT ?"
        )
        last_due: float = after
        last_id: float = math.inf
        while True:
            params = (CallStatus.SCHEDULED, last_due, last_id, until, SCHEDULED_PAGE)
            page = await self._reader.run(partial(_fetch_all, sql=sql, params=params))
            for call_id, due_at, owner_id in page:
                yield call_id, due_at, owner_id
            if len(page) < SCHEDULED_PAGE:
                return
            last_id, last_due, _ = page[-1]

    async def claim_for_dialing(self, call_id: int, *, calls_per_day: int, refuse: DialRefusal) -> Call | None:
        now = self._clock.time()

        def claim(db: sqlite3.Connection) -> Call | None:
            call = _call_by(db, "id", call_id)
            if call is None or call.status is not CallStatus.SCHEDULED:
                return None
            new, detail = _dial_outcome(db, call, now, calls_per_day, refuse)
            sql = "UPDATE calls SET status = ?, updated_at = ?, dialed_at = ? WHERE id = ?"
            db.execute(sql, (new, now, now if new is CallStatus.DIALING else None, call_id))
            _insert_event(db, call_id, now, new, detail)
            return _call_by(db, "id", call_id)

        claimed = await self._write(claim, changes_calls=True)
        if claimed is not None:
            logger.info("call %s is %s: %s", call_id, claimed.status, claimed.events[-1].detail)
        return claimed

    async def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        statuses = [status.value for status in IN_PROGRESS]
        placeholders = ", ".join("?" * len(statuses))
        sql = f"SELECT id, status, direction, call_control_id FROM calls WHERE status IN ({placeholders})"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=statuses))
        for call_id, status, direction, call_control_id in rows:
            yield call_id, CallStatus(status), Direction(direction), call_control_id

    async def call_changes(self, *, after: int, owner_id: int | None = None, limit: int = 100) -> list[CallChange]:
        sql, params = call_changes_query(after=after, owner_id=owner_id, limit=limit)
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=params))
        return [CallChange(change_id, call_id) for change_id, call_id in rows]

    async def last_change(self) -> int:
        rows = await self._reader.run(partial(_fetch_all, sql="SELECT max(id) FROM call_events"))
        return int(rows[0][0] or 0)

    async def wait_for_change(self, after: int) -> None:
        while True:
            # Taken before looking, so that a change written while we look still wakes us.
            changed = self._calls_changed
            if await self.last_change() > after:
                return
            await changed.wait()

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

    async def add_to_do_not_call(
        self, number: str, *, added_by: str, call_id: int | None = None
    ) -> tuple[DoNotCallEntry, list[Call]]:
        now = self._clock.time()
        detail = "cancelled: the number asked never to be called (do-not-call list)"
        sql = f"INSERT INTO do_not_call ({_DO_NOT_CALL_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT (number) DO NOTHING"

        def add(db: sqlite3.Connection) -> tuple[DoNotCallEntry, list[Call]]:
            db.execute(sql, (number, added_by, now, call_id))
            entry = _do_not_call_by(db, number)
            assert entry is not None
            ids = [row[0] for row in db.execute(QUOTA_QUERIES["scheduled_to_number"], (number,))]
            for scheduled_id in ids:
                db.execute(
                    "UPDATE calls SET status = ?, updated_at = ? WHERE id = ?",
                    (CallStatus.CANCELLED, now, scheduled_id),
                )
                _insert_event(db, scheduled_id, now, CallStatus.CANCELLED, detail)
            return entry, _calls_by_ids(db, ids)

        entry, cancelled = await self._write(add, changes_calls=True)
        logger.info(
            "%s is on the do-not-call list (added by %s); %d calls cancelled", number, entry.added_by, len(cancelled)
        )
        return entry, cancelled

    async def remove_from_do_not_call(self, number: str) -> DoNotCallEntry | None:
        def remove(db: sqlite3.Connection) -> DoNotCallEntry | None:
            entry = _do_not_call_by(db, number)
            db.execute("DELETE FROM do_not_call WHERE number = ?", (number,))
            return entry

        removed = await self._write(remove)
        if removed is not None:
            logger.info("%s is off the do-not-call list", number)
        return removed

    async def do_not_call_entry(self, number: str) -> DoNotCallEntry | None:
        return await self._reader.run(partial(_do_not_call_by, number=number))

    async def list_do_not_call(self, *, limit: int = 100, offset: int = 0) -> list[DoNotCallEntry]:
        sql = f"SELECT {_DO_NOT_CALL_COLUMNS} FROM do_not_call ORDER BY added_at DESC, rowid DESC LIMIT ? OFFSET ?"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=(limit, offset)))
        return [_do_not_call_from_row(row) for row in rows]

    async def add_user(self, *, name: str, password_hash: str | None, is_admin: bool) -> User:
        now = self._clock.time()
        sql = (
            "INSERT INTO users (name, name_key, is_admin, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name_key) DO NOTHING"
        )
        params = (name, _name_key(name), is_admin, password_hash, now)
        user_id = await self._write(partial(_insert, sql=sql, params=params))
        if user_id is None:
            raise UserExists(name)
        return User(
            id=user_id, name=name, is_admin=is_admin, password_hash=password_hash, created_at=epoch_to_datetime(now)
        )

    async def get_user(self, user_id: int) -> User | None:
        return await self._reader.run(partial(_user_by, column="id", value=user_id))

    async def find_user(self, name: str) -> User | None:
        return await self._reader.run(partial(_user_by, column="name_key", value=_name_key(name)))

    async def list_users(self) -> list[User]:
        sql = f"SELECT {_USER_COLUMNS} FROM users ORDER BY name_key, id"
        rows = await self._reader.run(partial(_fetch_all, sql=sql))
        return [_user_from_row(row) for row in rows]

    async def has_users(self) -> bool:
        rows = await self._reader.run(partial(_fetch_all, sql="SELECT EXISTS (SELECT 1 FROM users)"))
        return bool(rows[0][0])

    async def set_password_hash(self, user_id: int, password_hash: str | None) -> bool:
        sql = "UPDATE users SET password_hash = ? WHERE id = ?"
        return await self._write(partial(_changes_one, sql=sql, params=(password_hash, user_id)))

    async def disable_user(self, user_id: int) -> User | None:
        now = self._clock.time()
        # One statement: the check that another admin remains and the change cannot be split.
        sql = (
            "UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?"
            " AND (NOT is_admin OR disabled_at IS NOT NULL OR EXISTS ("
            "  SELECT 1 FROM users AS other WHERE other.id != users.id AND other.is_admin AND other.disabled_at IS NULL"
            " ))"
        )

        def disable(db: sqlite3.Connection) -> tuple[User | None, bool]:
            changed = _changes_one(db, sql, (now, user_id))
            return _user_by(db, "id", user_id), changed

        user, changed = await self._write(disable)
        if user is not None and not changed:
            raise LastAdmin(user.name)
        return user

    async def add_api_key(self, *, user_id: int, key_id: str, name: str, secret_hash: str) -> ApiKey:
        now = self._clock.time()
        sql = (
            "INSERT INTO api_keys (id, user_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING"
        )
        if await self._write(partial(_insert, sql=sql, params=(key_id, user_id, name, secret_hash, now))) is None:
            raise ValueError(f"an API key with the id {key_id!r} exists already: make the key again")
        return ApiKey(id=key_id, user_id=user_id, name=name, secret_hash=secret_hash, created_at=epoch_to_datetime(now))

    async def find_api_key(self, key_id: str) -> ApiKey | None:
        return await self._reader.run(partial(_key_by, key_id=key_id))

    async def list_api_keys(self, user_id: int) -> list[ApiKey]:
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, rowid DESC"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=(user_id,)))
        return [_key_from_row(row) for row in rows]

    async def revoke_api_key(self, user_id: int, key_id: str) -> ApiKey | None:
        now = self._clock.time()
        sql = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?"

        def revoke(db: sqlite3.Connection) -> ApiKey | None:
            return _key_by(db, key_id) if _changes_one(db, sql, (now, key_id, user_id)) else None

        return await self._write(revoke)

    async def touch_api_key(self, key_id: str, used_at: float) -> None:
        sql = "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, ?), ?) WHERE id = ?"
        await self._write(partial(_execute, sql=sql, params=(used_at, used_at, key_id)))

    async def record_login_failure(self, *, name: str, address: str) -> None:
        now = self._clock.time()

        def record(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM login_failures WHERE at < ?", (now - LOGIN_FAILURES_KEPT_S,))
            sql = "INSERT INTO login_failures (name_key, address, at) VALUES (?, ?, ?)"
            db.execute(sql, (_name_key(name), address, now))

        await self._write(record)

    async def login_failures(self, *, name: str, address: str, since: float) -> tuple[int, int, float | None]:
        key = _name_key(name)
        sql = (
            "SELECT COALESCE(SUM(name_key = ?), 0), COALESCE(SUM(address = ?), 0), MIN(at) FROM login_failures"
            " WHERE at > ? AND (name_key = ? OR address = ?)"
        )
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=(key, address, since, key, address)))
        by_name, by_address, oldest = rows[0]
        return by_name, by_address, oldest

    async def end_session(self, session_id: str, until: float) -> None:
        now = self._clock.time()

        def end(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM ended_sessions WHERE until <= ?", (now,))
            sql = (
                "INSERT INTO ended_sessions (id, until) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET until = MAX(until, excluded.until)"
            )
            db.execute(sql, (session_id, until))

        await self._write(end)

    async def is_session_ended(self, session_id: str) -> bool:
        sql = "SELECT EXISTS (SELECT 1 FROM ended_sessions WHERE id = ? AND until > ?)"
        rows = await self._reader.run(partial(_fetch_all, sql=sql, params=(session_id, self._clock.time())))
        return bool(rows[0][0])

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


def _release(lock: DatabaseLock | None) -> None:
    if lock is not None:
        lock.release()


def _create_private(path: Path) -> None:
    """Make the database's folder (0700) and an empty database file (0600) unless they exist.

    SQLite would make the file readable by everyone (0644 less the umask), and it gives the
    -wal and -shm files it keeps beside it the database's own mode; the database holds
    password hashes and every number booked. An existing file is left as it is: its mode
    is its owner's choice. SQLite takes an empty file for an empty database.
    """
    _create_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        _warn_if_shared(path)
        return
    os.close(fd)


def _warn_if_shared(path: Path) -> None:
    """Say so when an existing database (one made before it held passwords, say) is open to other users."""
    mode = path.stat().st_mode
    if mode & 0o077:
        logger.warning(
            "database %s can be read by other users of this machine (mode %s) and holds password hashes and"
            " every number booked: chmod 600 it",
            path,
            oct(mode & 0o777),
        )


def _create_folder(folder: Path) -> None:
    """Make the folder and any missing above it, each 0700 (``mkdir -p`` would give the upper ones 0755)."""
    if folder.is_dir():
        return
    _create_folder(folder.parent)
    folder.mkdir(mode=0o700, exist_ok=True)


async def _connect(path: str | Path, busy_timeout_s: float) -> tuple[SqliteThread, SqliteThread]:
    writer = await SqliteThread.open(
        path,
        group_commit=True,
        setup=partial(_set_up_writer, path=path),
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


def _set_up_writer(db: sqlite3.Connection, path: str | Path) -> None:
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    _migrate(db, path)


def _migrate(db: sqlite3.Connection, path: str | Path) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, in one transaction.

    BEGIN IMMEDIATE takes the write lock before the version is read, so that two processes
    opening the same old database (the service and the command line) cannot both migrate it.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CannotOpenDatabase(
                f"the database {path} has schema version {version}, made by a newer Dial-A-Joke"
                f" (this one knows versions up to {SCHEMA_VERSION}): run the newer version, or set database.path"
            )
        is_new = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if is_new:
        logger.info("database %s: created (schema version %d)", path, SCHEMA_VERSION)
    elif version < SCHEMA_VERSION:
        logger.info("database %s: schema brought from version %d to %d", path, version, SCHEMA_VERSION)


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


def _insert(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int | None:
    """Run an INSERT ... ON CONFLICT DO NOTHING: the new row's id, or None when it conflicted."""
    cursor = db.execute(sql, params)
    return cursor.lastrowid if cursor.rowcount == 1 else None


def _changes_one(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> bool:
    return db.execute(sql, params).rowcount == 1


def _name_key(name: str) -> str:
    """What names are compared by: SQLite's lower() folds ASCII letters only, so Python folds them."""
    return name.casefold()


def _user_by(db: sqlite3.Connection, column: str, value: object) -> User | None:
    row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE {column} = ?", (value,)).fetchone()
    return _user_from_row(row) if row is not None else None


def _user_from_row(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        is_admin=bool(row["is_admin"]),
        password_hash=row["password_hash"],
        created_at=epoch_to_datetime(row["created_at"]),
        disabled_at=_maybe_datetime(row["disabled_at"]),
    )


def _key_by(db: sqlite3.Connection, key_id: str) -> ApiKey | None:
    row = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    return _key_from_row(row) if row is not None else None


def _key_from_row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        created_at=epoch_to_datetime(row["created_at"]),
        last_used_at=_maybe_datetime(row["last_used_at"]),
        revoked_at=_maybe_datetime(row["revoked_at"]),
    )


def _maybe_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else epoch_to_datetime(ts)


def _insert_event(db: sqlite3.Connection, call_id: int, at: float, status: CallStatus, detail: str) -> None:
    db.execute(
        "INSERT INTO call_events (call_id, at, status, detail) VALUES (?, ?, ?, ?)", (call_id, at, status, detail)
    )


def _call_by(db: sqlite3.Connection, column: str, value: object) -> Call | None:
    calls = _calls(db, f"SELECT {_CALL_COLUMNS} FROM calls WHERE {column} = ?", (value,))
    return calls[0] if calls else None


def list_calls_query(
    *,
    statuses: Iterable[CallStatus] | None,
    limit: int,
    upcoming: bool,
    owner_id: int | None,
    due_from: float | None,
    due_until: float | None,
    after: tuple[float, int] | None,
) -> tuple[str, list[object]] | None:
    """The query of :meth:`SqliteCallStore.list_calls` and its parameters; None when it can select nothing.

    Several statuses are one arm each of a UNION ALL, merged in due order: each arm is an
    index search already in that order, where one ``status IN (...)`` would sort every call
    of those statuses to return the first page of them.
    """
    conditions: list[str] = []
    params: list[object] = []
    if owner_id is not None:
        conditions.append("owner_id = ?")
        params.append(owner_id)
    if due_from is not None:
        conditions.append("due_at >= ?")
        params.append(due_from)
    if due_until is not None:
        conditions.append("due_at < ?")
        params.append(due_until)
    if after is not None:
        conditions.append(f"(due_at, id) {'>' if upcoming else '<'} (?, ?)")
        params.extend(after)
    wanted: list[str | None] = [None] if statuses is None else [*sorted({str(status) for status in statuses})]
    if not wanted:
        return None
    arms: list[str] = []
    arm_params: list[object] = []
    for status in wanted:
        where = conditions if status is None else ["status = ?", *conditions]
        arms.append(f"SELECT {_CALL_COLUMNS} FROM calls" + (f" WHERE {' AND '.join(where)}" if where else ""))
        arm_params.extend(params if status is None else [status, *params])
    order = "due_at ASC, id ASC" if upcoming else "due_at DESC, id DESC"
    return f"{' UNION ALL '.join(arms)} ORDER BY {order} LIMIT ?", [*arm_params, limit]


def call_changes_query(*, after: int, owner_id: int | None, limit: int) -> tuple[str, list[object]]:
    """The query of :meth:`SqliteCallStore.call_changes`: a range of call_events' primary key, each
    entry's call found by its own; CROSS JOIN keeps SQLite from starting at the owner's calls instead."""
    sql = "SELECT e.id, e.call_id FROM call_events AS e CROSS JOIN calls AS c ON c.id = e.call_id WHERE e.id > ?"
    params: list[object] = [after]
    if owner_id is not None:
        sql += " AND c.owner_id = ?"
        params.append(owner_id)
    return f"{sql} ORDER BY e.id LIMIT ?", [*params, limit]


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
        owner_id=row["owner_id"],
        created_at=epoch_to_datetime(row["created_at"]),
        updated_at=epoch_to_datetime(row["updated_at"]),
        events=events,
    )


def _do_not_call_by(db: sqlite3.Connection, number: str) -> DoNotCallEntry | None:
    row = db.execute(f"SELECT {_DO_NOT_CALL_COLUMNS} FROM do_not_call WHERE number = ?", (number,)).fetchone()
    return _do_not_call_from_row(row) if row is not None else None


def _do_not_call_from_row(row: sqlite3.Row) -> DoNotCallEntry:
    return DoNotCallEntry(
        number=row["number"],
        added_by=row["added_by"],
        added_at=epoch_to_datetime(row["added_at"]),
        call_id=row["call_id"],
    )


def _calls_by_ids(db: sqlite3.Connection, call_ids: list[int]) -> list[Call]:
    if not call_ids:
        return []
    sql = f"SELECT {_CALL_COLUMNS} FROM calls WHERE id IN ({', '.join('?' * len(call_ids))}) ORDER BY due_at, id"
    return _calls(db, sql, call_ids)


def _dial_outcome(
    db: sqlite3.Connection, call: Call, now: float, calls_per_day: int, refuse: DialRefusal
) -> tuple[CallStatus, str]:
    """What becomes of a scheduled call at its time: dialed, or why it may not ring after all."""
    entry = _do_not_call_by(db, call.to)
    if entry is not None:
        return CallStatus.CANCELLED, f"cancelled: {call.to} is on the do-not-call list (added by {entry.added_by})"
    if calls_per_day > 0 and _scalar(db, QUOTA_QUERIES["dialed_count"], (now - DAY_S, now)) >= calls_per_day:
        return CallStatus.MISSED, (
            f"missed: the service's limit of {calls_per_day} calls in 24 hours was reached"
            f" (protection.{Limit.CALLS_PER_DAY})"
        )
    reason = refuse(call)
    if reason is not None:
        return CallStatus.MISSED, f"missed: {reason}"
    return CallStatus.DIALING, "dialing"


_NotBooked = OnDoNotCallList | LimitReached | AlreadyBooked | IdempotencyKeyReused
"""Why :meth:`SqliteCallStore.add_call` stored nothing."""


def _earlier_booking(
    db: sqlite3.Connection, owner_id: int, idempotency: Idempotency, now: float, *, forget: bool = True
) -> AlreadyBooked | IdempotencyKeyReused | None:
    """What the owner's key booked already, if anything, ignoring every key past its day.

    :param forget: delete those keys too; only a write may (a read ignores them).
    """
    kept_since = now - IDEMPOTENCY_KEYS_KEPT_S
    if forget:
        db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (kept_since,))
    row = db.execute(
        "SELECT fingerprint, call_id FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at >= ?",
        (owner_id, idempotency.key, kept_since),
    ).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != idempotency.fingerprint:
        return IdempotencyKeyReused(idempotency.key)
    call = _call_by(db, "id", row["call_id"])
    assert call is not None, "a key names a call, and calls are never deleted"
    return AlreadyBooked(call)


@dataclass(frozen=True)
class _Booking:
    """A call about to be booked, as the limits see it."""

    to: str
    owner_id: int | None
    due_at: float
    booked_at: float


def _refusal(db: sqlite3.Connection, quota: BookingQuota, booking: _Booking) -> OnDoNotCallList | LimitReached | None:
    """Why the booking may not be stored: the do-not-call list first, then each limit in :class:`Limit`'s order."""
    entry = _do_not_call_by(db, booking.to)
    if entry is not None:
        return OnDoNotCallList(entry)
    allowed = {
        Limit.CALLS_PER_NUMBER_PER_DAY: quota.calls_per_number_per_day,
        Limit.PENDING_PER_NUMBER_PER_USER: quota.pending_per_number_per_owner,
        Limit.PENDING_PER_USER: quota.pending_per_owner,
        Limit.BOOKINGS_PER_USER_PER_HOUR: quota.bookings_per_owner_per_hour,
        Limit.CALLS_PER_DAY: quota.calls_per_day,
    }
    for limit in Limit:
        if allowed[limit] > 0:
            reached = _LIMIT_CHECKS[limit](db, allowed[limit], booking)
            if reached is not None:
                return reached
    return None


def _calls_per_number_per_day(db: sqlite3.Connection, allowed: int, booking: _Booking) -> LimitReached | None:
    params = (booking.to, booking.due_at - DAY_S, booking.due_at + DAY_S)
    due_times = [row[0] for row in db.execute(QUOTA_QUERIES["calls_to_number"], params)]
    if busiest_window(due_times, booking.due_at, DAY_S) < allowed:
        return None
    return LimitReached(Limit.CALLS_PER_NUMBER_PER_DAY, allowed, max(due_times) + DAY_S)


def _pending_per_number_per_owner(db: sqlite3.Connection, allowed: int, booking: _Booking) -> LimitReached | None:
    if _scalar(db, QUOTA_QUERIES["pending_to_number"], (booking.owner_id, booking.to)) < allowed:
        return None
    return LimitReached(Limit.PENDING_PER_NUMBER_PER_USER, allowed, None)


def _pending_per_owner(db: sqlite3.Connection, allowed: int, booking: _Booking) -> LimitReached | None:
    if _scalar(db, QUOTA_QUERIES["pending"], (booking.owner_id,)) < allowed:
        return None
    return LimitReached(Limit.PENDING_PER_USER, allowed, None)


def _bookings_per_owner_per_hour(db: sqlite3.Connection, allowed: int, booking: _Booking) -> LimitReached | None:
    params = (booking.owner_id, booking.booked_at - HOUR_S)
    booked = _scalar(db, QUOTA_QUERIES["booked_count"], params)
    if booked < allowed:
        return None
    # With more than ``allowed`` (a limit lowered since), several must leave the hour: the place
    # comes free when the last of those does, the (booked - allowed + 1)th oldest.
    leaving_last = _scalar(db, QUOTA_QUERIES["booked_nth"], (*params, booked - allowed))
    return LimitReached(Limit.BOOKINGS_PER_USER_PER_HOUR, allowed, leaving_last + HOUR_S)


def _calls_per_day(db: sqlite3.Connection, allowed: int, booking: _Booking) -> LimitReached | None:
    params = (booking.due_at - DAY_S, booking.due_at)
    due = _scalar(db, QUOTA_QUERIES["due_count"], (*params, allowed + 1))
    if due < allowed:
        return None
    leaving_last = _scalar(db, QUOTA_QUERIES["due_nth"], (*params, due - allowed))
    return LimitReached(Limit.CALLS_PER_DAY, allowed, leaving_last + DAY_S)


_LIMIT_CHECKS: dict[Limit, Callable[[sqlite3.Connection, int, _Booking], LimitReached | None]] = {
    Limit.CALLS_PER_NUMBER_PER_DAY: _calls_per_number_per_day,
    Limit.PENDING_PER_NUMBER_PER_USER: _pending_per_number_per_owner,
    Limit.PENDING_PER_USER: _pending_per_owner,
    Limit.BOOKINGS_PER_USER_PER_HOUR: _bookings_per_owner_per_hour,
    Limit.CALLS_PER_DAY: _calls_per_day,
}


def _scalar(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Any:
    """The one value a query selects (a count, a time)."""
    return db.execute(sql, params).fetchone()[0]
