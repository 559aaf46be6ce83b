"""SqliteThread: one SQLite connection on its own thread, fed in batches from the event loop.

SQLite calls block, so they cannot run on the event loop. Handing each statement to a
thread and back (what aiosqlite does) costs a wake-up of the loop per statement, and
with ``synchronous=FULL`` every write transaction costs an fsync: under a burst of
webhooks or bookings those, not SQLite's own work, set the pace.

So callers hand over whole units of work (a function of the connection), and the thread
takes every unit waiting at that moment and runs them in one go:

- with ``group_commit`` (the writer), in one transaction: one COMMIT, so one fsync, for
  the batch (when a unit raises, the transaction is undone and the others run again
  without it, so that only the failing one fails);
- without (a reader), in one read transaction, so every unit sees a committed state at
  least as new as any write that had been answered before it was handed over.

The results go back to the loop in a single call. A unit's future resolves only once
its batch has committed, so a caller that has its answer has its data on disk; a caller
cancelled while waiting does not undo its write.

Whatever goes wrong, no caller waits forever: an error that escapes a batch fails the
callers of that batch not yet answered, and the next batch is served; should the
thread itself ever stop, every unit still waiting fails with :class:`SqliteThreadClosed`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
Unit = tuple[Work, "asyncio.Future[Any]"]
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

MAX_BATCH = 500
"""A batch takes no more hand-overs once it holds this many units (one hand-over is never split):
bounds how long the first of a large batch waits for its commit."""
BUSY_TIMEOUT_S = 5.0
"""How long to wait for another process's write lock before a write fails."""

CHECKPOINT_OVERDUE = 4
"""A writer that is never idle checkpoints anyway after this many times ``checkpoint_every`` commits."""

_STOP = object()


class SqliteThreadClosed(RuntimeError):
    """Work handed over after close(), or after the thread could no longer run it."""


class BatchFailed(RuntimeError):
    """A unit of work's batch failed with something the event loop must not be handed (a BaseException).

    The original is the ``__cause__``.
    """


class SqliteThread:
    """Run functions of one connection on a dedicated thread, in batches.

    Open it with :meth:`open` from the event loop that will await the results.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        group_commit: bool,
        setup: Callable[[sqlite3.Connection], None],
        name: str,
        loop: asyncio.AbstractEventLoop,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        checkpoint_every: int | None = None,
    ) -> None:
        self._path = path
        self._checkpoint_every = checkpoint_every or 0
        self._commits_since_checkpoint = 0
        self._busy_timeout_s = busy_timeout_s
        self._group_commit = group_commit
        self._setup = setup
        self._loop = loop
        self._gathering: list[Unit] = []
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._stopped = False
        """Set on the loop once the thread has stopped: nothing handed over after that can run."""
        self._transactions = 0
        self._connected: ThreadFuture[None] = ThreadFuture()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        group_commit: bool,
        setup: Callable[[sqlite3.Connection], None],
        name: str = "sqlite",
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        checkpoint_every: int | None = None,
    ) -> SqliteThread:
        """Start the thread and connect; raises what connecting or ``setup`` raised.

        :param checkpoint_every: for a writer: turn SQLite's automatic checkpoint off and
            copy the WAL into the database after about this many commits, at a moment when
            no work is waiting (see :meth:`_checkpoint_when_quiet`).
        """
        loop = asyncio.get_running_loop()
        worker = cls(
            path,
            group_commit=group_commit,
            setup=setup,
            name=name,
            loop=loop,
            busy_timeout_s=busy_timeout_s,
            checkpoint_every=checkpoint_every,
        )
        worker._thread.start()
        await asyncio.wrap_future(worker._connected)
        return worker

    @property
    def transactions(self) -> int:
        """Batches run so far: with group commit, the number of commits."""
        return self._transactions

    def run(self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Hand ``work`` over to run on the thread's connection with whatever else is waiting.

        Returns a future of what ``work`` returns. The work is handed over when this is
        called, not when the future is awaited: everything handed over during one turn of
        the event loop goes to the thread together, in the order of the calls.

        ``work`` runs on another thread, and a write may run twice (see above): it may use
        only the connection and what it was given, and do nothing but SQL.
        """
        if self._closed:
            raise SqliteThreadClosed("the database is closed")
        future: asyncio.Future[T] = self._loop.create_future()
        if not self._gathering:
            self._loop.call_soon(self._hand_over)
        self._gathering.append((work, future))
        return future

    def _hand_over(self) -> None:
        """Pass the thread everything handed in during this turn of the event loop, at once.

        Waking the thread for each unit would let it start a transaction per unit (the
        kernel runs a woken thread promptly): no grouping, and a context switch each.
        """
        units, self._gathering = self._gathering, []
        if not units:
            return
        if self._stopped:
            _fail(units, SqliteThreadClosed("the database thread has stopped"))
            return
        self._inbox.put(units)

    async def close(self) -> None:
        """Finish the work already handed over, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._hand_over()
        self._inbox.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        try:
            connection = sqlite3.connect(self._path, timeout=self._busy_timeout_s, isolation_level=None)
        except BaseException as exc:
            self._closed = True
            self._connected.set_exception(exc)
            return
        try:
            self._setup(connection)
            if self._checkpoint_every:
                connection.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException as exc:
            connection.close()
            self._closed = True
            self._connected.set_exception(exc)
            return
        self._connected.set_result(None)
        in_hand: list[Unit] = []
        try:
            self._serve_batches(connection, in_hand)
        except BaseException:
            logger.critical("the database thread for %s stopped; no more work can run", self._path, exc_info=True)
            self._call_on_loop(self._fail_what_is_left, in_hand)
        finally:
            connection.close()

    def _serve_batches(self, connection: sqlite3.Connection, in_hand: list[Unit]) -> None:
        """Serve batches until close(); ``in_hand`` holds the batch being served, for :meth:`_serve` to fail."""
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            in_hand[:] = batch
            if batch:
                self._answer(self._outcomes(connection, batch))
                self._checkpoint_when_quiet(connection)

    def _outcomes(self, connection: sqlite3.Connection, batch: list[Unit]) -> list[Outcome]:
        """Run the batch; whatever escapes it fails the units not yet answered, and only those.

        Units answered before the escape keep their answers: a write answered here has
        committed, and its caller must not be told otherwise.
        """
        outcomes: list[Outcome] = []
        try:
            self._run_batch(connection, batch, outcomes)
        except BaseException as exc:
            logger.error(
                "a batch of %d units of work on %s failed; its units not yet answered fail with the error,"
                " and the next batch will be served",
                len(batch),
                self._path,
                exc_info=True,
            )
            _roll_back(connection)
            answered = {future for future, _, _ in outcomes}
            error = exc if isinstance(exc, Exception) else _batch_failed(exc)
            outcomes.extend((future, None, error) for _, future in batch if future not in answered)
        return outcomes

    def _next_batch(self) -> tuple[list[Unit], bool]:
        """Wait for work, then take whatever else is already waiting (up to about MAX_BATCH)."""
        batch: list[Unit] = []
        handed_over = self._inbox.get()
        while True:
            if handed_over is _STOP:
                return batch, True
            batch.extend(handed_over)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                handed_over = self._inbox.get_nowait()
            except queue.Empty:
                return batch, False

    def _run_batch(self, connection: sqlite3.Connection, batch: list[Unit], outcomes: list[Outcome]) -> None:
        """Add the outcome of each unit to ``outcomes`` as soon as it is final."""
        if not self._group_commit:
            self._read_batch(connection, batch, outcomes)
            return
        while batch:
            batch = self._write_batch(connection, batch, outcomes)

    def _write_batch(self, connection: sqlite3.Connection, batch: list[Unit], outcomes: list[Outcome]) -> list[Unit]:
        """Run the batch as one transaction; returns what is left to run again (nothing on success).

        Failures are rare (a bug, a full disk), so writes are not wrapped in savepoints,
        which would cost statements on every write. Instead, when a write raises, the
        transaction is undone and the others go again without it; when the COMMIT fails,
        each write goes again on its own, so that only a write that cannot commit fails.
        """
        try:
            connection.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            # Nothing ran: the database is locked by another process or unusable.
            outcomes.extend((future, None, exc) for _, future in batch)
            return []
        results: list[Outcome] = []
        for index, (work, future) in enumerate(batch):
            try:
                results.append((future, work(connection), None))
            except Exception as exc:
                _roll_back(connection)
                outcomes.append((future, None, exc))
                return batch[:index] + batch[index + 1 :]
        try:
            connection.execute("COMMIT")
        except Exception as exc:
            _roll_back(connection)
            if len(batch) == 1:
                outcomes.append((batch[0][1], None, exc))
                return []
            for unit in batch:
                self._write_batch(connection, [unit], outcomes)
            return []
        self._transactions += 1
        self._commits_since_checkpoint += 1
        outcomes.extend(results)
        return []

    def _checkpoint_when_quiet(self, connection: sqlite3.Connection) -> None:
        """Copy the WAL into the database file once enough commits have gathered and no work waits.

        SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so
        the writes of that batch, and every write behind them, would wait for it. A
        checkpoint on a connection of its own beside the writer avoids that wait, but under
        steady writes it never catches up with the end of the WAL, so the WAL is never
        started over and grows without bound, and its fsyncs of the database file compete
        with the writer's. Here, between batches and only when nothing is waiting, the
        checkpoint copies everything, the next commit starts the WAL over, and work that
        arrives meanwhile waits for one short checkpoint (a few milliseconds every
        ``checkpoint_every`` commits). A writer that is never idle checkpoints anyway after
        CHECKPOINT_OVERDUE times as many commits, so that the WAL stays bounded.
        """
        due = self._checkpoint_every
        since = self._commits_since_checkpoint
        if not due or since < due or (since < CHECKPOINT_OVERDUE * due and not self._inbox.empty()):
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:
            logger.warning("checkpoint of %s failed; the next one will try again", self._path, exc_info=True)
        self._commits_since_checkpoint = 0

    def _read_batch(self, connection: sqlite3.Connection, batch: list[Unit], outcomes: list[Outcome]) -> None:
        """One read transaction for the batch; a read that fails changes nothing, so it fails alone."""
        try:
            connection.execute("BEGIN")
            results = [_read(connection, work, future) for work, future in batch]
            connection.execute("COMMIT")
        except Exception as exc:
            _roll_back(connection)
            outcomes.extend((future, None, exc) for _, future in batch)
            return
        self._transactions += 1
        outcomes.extend(results)

    def _answer(self, outcomes: list[Outcome]) -> None:
        self._call_on_loop(_settle, outcomes)

    def _fail_what_is_left(self, in_hand: list[Unit]) -> None:
        """On the loop, once the thread has stopped unexpectedly: fail every unit not answered.

        That is the batch it had in hand (those of its units already answered keep their
        answers) and every unit handed over since. Every hand-over happens on the loop, so
        none can slip past: what was handed over before is failed here, and what is handed
        over after fails in :meth:`_hand_over`.
        """
        self._stopped = True
        self._closed = True
        left = list(in_hand)
        while True:
            try:
                handed_over = self._inbox.get_nowait()
            except queue.Empty:
                break
            if handed_over is not _STOP:
                left.extend(handed_over)
        _fail(left, SqliteThreadClosed("the database thread stopped before this work could run"))

    def _call_on_loop(self, callback: Callable[..., object], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            logger.warning("the event loop closed before the database thread could report back")


def _read(connection: sqlite3.Connection, work: Work, future: asyncio.Future[Any]) -> Outcome:
    try:
        return future, work(connection), None
    except Exception as exc:
        return future, None, exc


def _roll_back(connection: sqlite3.Connection) -> None:
    """Undo what a failed batch left open; never raises, even on a connection that no longer works."""
    try:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    except Exception:
        logger.exception("rolling back a failed batch failed")


def _batch_failed(exc: BaseException) -> BatchFailed:
    failed = BatchFailed(f"the database batch failed: {exc!r}")
    failed.__cause__ = exc
    return failed


def _fail(units: list[Unit], error: BaseException) -> None:
    _settle([(future, None, error) for _, future in units])


def _settle(outcomes: list[Outcome]) -> None:
    """Answer each caller; a future already done (its caller cancelled it, or it was answered) is left alone."""
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
