"""Where calls live: a small async interface, and SQLite behind it.

The schedule must survive a restart, so every call is a row and every step of its life
a row on its timeline. Other backends (PostgreSQL for several instances) implement the
same :class:`CallStore` contract.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import math
import sqlite3
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from .clock import Clock
from .models import IN_PROGRESS, Call, CallStatus, Direction, TimelineEntry, epoch_to_datetime

logger = logging.getLogger(__name__)


class CallStore(abc.ABC):
    """The contract every store keeps. All times are aware UTC datetimes."""

    @abc.abstractmethod
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
        """Store a new call with its first timeline entry; it is durable when this returns."""

    @abc.abstractmethod
    async def get_call(self, call_id: int) -> Call | None:
        """The call with its timeline, or None."""

    @abc.abstractmethod
    async def find_call(self, *, ref: str | None = None, call_control_id: str | None = None) -> Call | None:
        """The call named by our ref (from client_state) or else by Telnyx's call_control_id."""

    @abc.abstractmethod
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
        """Move a call to ``new`` if its current status allows it (see CallStatus.can_move_to).

        ``only_from`` narrows the statuses the call may be in, e.g. cancelling only a scheduled call.

        ``joke`` and ``hangup_cause``, when given, are saved in the same transaction.
        Returns the updated call, or None when the call is unknown or the move is not allowed.
        """

    @abc.abstractmethod
    async def attach_call_control_id(self, call_id: int, call_control_id: str) -> None:
        """Remember Telnyx's id for a call, unless one is already known."""

    @abc.abstractmethod
    async def add_note(self, call_id: int, detail: str) -> None:
        """Add a timeline entry that does not change the status."""

    @abc.abstractmethod
    async def list_calls(
        self, *, statuses: Iterable[CallStatus] | None = None, limit: int = 50, upcoming: bool = False
    ) -> list[Call]:
        """Calls with those statuses: soonest due first when ``upcoming``, else newest first."""

    @abc.abstractmethod
    def scheduled(self, *, after: float = -math.inf, until: float = math.inf) -> AsyncIterator[tuple[int, float]]:
        """(call id, due epoch seconds) of calls still scheduled and due in (after, until], soonest first."""

    @abc.abstractmethod
    def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        """(id, status, direction, call_control_id) of every call dialed or answered but not ended."""

    @abc.abstractmethod
    async def count_by_status(self) -> dict[CallStatus, int]:
        """How many calls are in each status (statuses with none may be missing)."""

    @abc.abstractmethod
    async def record_event(self, event_id: str, event_type: str, body: bytes) -> bool:
        """Record a webhook event, durably, to be processed; False when its id was seen before."""

    @abc.abstractmethod
    async def mark_event_processed(self, event_id: str, error: str | None) -> None:
        """The event has been acted on (or given up on, with ``error``)."""

    @abc.abstractmethod
    async def forget_events(self, processed_before: float) -> int:
        """Delete events processed before that epoch time; returns how many."""

    @abc.abstractmethod
    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        """(id, body) of recorded events not yet processed, oldest first, leaving out ``exclude``."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot answer."""


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
"""

_CALL_COLUMNS = (
    "id, ref, direction, to_number, from_number, due_at, timezone, status, joke, call_control_id, "
    "hangup_cause, created_at, updated_at"
)


class SqliteCallStore(CallStore):
    """SQLite in WAL mode with full sync: a write has reached the disk when its method returns.

    One connection serves the process; multi-statement writes hold a lock so that two
    coroutines never interleave inside one transaction.
    """

    def __init__(self, db: aiosqlite.Connection, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, clock: Clock) -> SqliteCallStore:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(db, clock)

    async def close(self) -> None:
        await self._db.close()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction at a time: committed when the block ends, rolled back if it raises."""
        async with self._write_lock:
            try:
                yield
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

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
        ref = uuid.uuid4().hex
        async with self._transaction():
            cursor = await self._db.execute(
                "INSERT INTO calls (ref, direction, to_number, from_number, due_at, timezone, status, call_control_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ref, direction, to, from_, at.timestamp(), timezone, status, call_control_id, now, now),
            )
            call_id = cursor.lastrowid
            assert call_id is not None
            await self._insert_event(call_id, now, status, detail)
        # Built from what was written rather than read back: a booking costs one round trip less.
        created = epoch_to_datetime(now)
        return Call(
            id=call_id,
            ref=ref,
            direction=direction,
            to=to,
            from_=from_,
            at=epoch_to_datetime(at.timestamp()),
            timezone=timezone,
            status=status,
            call_control_id=call_control_id,
            created_at=created,
            updated_at=created,
            events=(TimelineEntry(created, status, detail),),
        )

    async def get_call(self, call_id: int) -> Call | None:
        calls = await self._select(f"SELECT {_CALL_COLUMNS} FROM calls WHERE id = ?", (call_id,))
        return calls[0] if calls else None

    async def find_call(self, *, ref: str | None = None, call_control_id: str | None = None) -> Call | None:
        for column, value in (("ref", ref), ("call_control_id", call_control_id)):
            if value:
                calls = await self._select(f"SELECT {_CALL_COLUMNS} FROM calls WHERE {column} = ?", (value,))
                if calls:
                    return calls[0]
        return None

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
        async with self._transaction():
            cursor = await self._db.execute(
                "UPDATE calls SET status = ?, updated_at = ?, joke = COALESCE(?, joke),"
                " hangup_cause = COALESCE(?, hangup_cause)"
                f" WHERE id = ? AND status IN ({', '.join('?' * len(allowed))})",
                (new, now, joke, hangup_cause, call_id, *allowed),
            )
            moved = cursor.rowcount == 1
            if moved:
                await self._insert_event(call_id, now, new, detail)
        if not moved:
            return None
        logger.info("call %s is %s: %s", call_id, new, detail)
        return await self.get_call(call_id)

    async def attach_call_control_id(self, call_id: int, call_control_id: str) -> None:
        async with self._transaction():
            await self._db.execute(
                "UPDATE calls SET call_control_id = ? WHERE id = ? AND call_control_id IS NULL",
                (call_control_id, call_id),
            )

    async def add_note(self, call_id: int, detail: str) -> None:
        now = self._clock.time()
        async with self._transaction():
            await self._db.execute(
                "INSERT INTO call_events (call_id, at, status, detail) SELECT id, ?, status, ? FROM calls WHERE id = ?",
                (now, detail, call_id),
            )
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
        return await self._select(
            f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY {order} LIMIT ?", (*params, limit)
        )

    async def scheduled(self, *, after: float = -math.inf, until: float = math.inf) -> AsyncIterator[tuple[int, float]]:
        async with self._db.execute(
            "SELECT id, due_at FROM calls WHERE status = ? AND due_at > ? AND due_at <= ? ORDER BY due_at",
            (CallStatus.SCHEDULED, after, until),
        ) as cursor:
            async for row in cursor:
                yield row[0], row[1]

    async def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        statuses = [status.value for status in IN_PROGRESS]
        placeholders = ", ".join("?" * len(statuses))
        sql = f"SELECT id, status, direction, call_control_id FROM calls WHERE status IN ({placeholders})"
        async with self._db.execute(sql, statuses) as cursor:
            async for row in cursor:
                yield row[0], CallStatus(row[1]), Direction(row[2]), row[3]

    async def count_by_status(self) -> dict[CallStatus, int]:
        rows = await self._db.execute_fetchall("SELECT status, COUNT(*) FROM calls GROUP BY status")
        return {CallStatus(row[0]): row[1] for row in rows}

    async def record_event(self, event_id: str, event_type: str, body: bytes) -> bool:
        async with self._transaction():
            cursor = await self._db.execute(
                "INSERT OR IGNORE INTO webhook_events (event_id, event_type, received_at, body) VALUES (?, ?, ?, ?)",
                (event_id, event_type, self._clock.time(), body),
            )
        return cursor.rowcount == 1

    async def mark_event_processed(self, event_id: str, error: str | None) -> None:
        async with self._transaction():
            await self._db.execute(
                "UPDATE webhook_events SET processed_at = ?, error = ? WHERE event_id = ?",
                (self._clock.time(), error, event_id),
            )

    async def forget_events(self, processed_before: float) -> int:
        async with self._transaction():
            cursor = await self._db.execute(
                "DELETE FROM webhook_events WHERE processed_at IS NOT NULL AND processed_at < ?", (processed_before,)
            )
        return cursor.rowcount

    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        rows = await self._db.execute_fetchall(
            "SELECT event_id, body FROM webhook_events WHERE processed_at IS NULL ORDER BY received_at LIMIT ?",
            (limit + len(exclude),),
        )
        return [(row[0], bytes(row[1])) for row in rows if row[0] not in exclude][:limit]

    async def ping(self) -> None:
        await self._db.execute("SELECT 1")

    async def _insert_event(self, call_id: int, at: float, status: CallStatus, detail: str) -> None:
        await self._db.execute(
            "INSERT INTO call_events (call_id, at, status, detail) VALUES (?, ?, ?, ?)", (call_id, at, status, detail)
        )

    async def _select(self, sql: str, params: Sequence[Any]) -> list[Call]:
        rows = await self._db.execute_fetchall(sql, params)
        if not rows:
            return []
        timelines = await self._timelines([row["id"] for row in rows])
        return [_call_from_row(row, timelines.get(row["id"], ())) for row in rows]

    async def _timelines(self, call_ids: list[int]) -> dict[int, tuple[TimelineEntry, ...]]:
        rows = await self._db.execute_fetchall(
            f"SELECT call_id, at, status, detail FROM call_events WHERE call_id IN ({', '.join('?' * len(call_ids))})"
            " ORDER BY id",
            call_ids,
        )
        timelines: dict[int, list[TimelineEntry]] = {}
        for row in rows:
            entry = TimelineEntry(epoch_to_datetime(row["at"]), CallStatus(row["status"]), row["detail"])
            timelines.setdefault(row["call_id"], []).append(entry)
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
