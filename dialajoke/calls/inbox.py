"""WebhookInbox: webhook events written down first, processed by a few workers after.

Telnyx wants a fast 2xx, and an event acknowledged must never be lost. So /webhook
records each event (id and raw body) in the store and answers; a small pool of workers
processes them. When the workers fall behind, the in-memory queue stays bounded: events
that do not fit wait in the store and are paged in as the queue drains. Events left
unprocessed by a stop are processed at the next start. An event whose processing
fails is retried a few times, then logged and set aside, never silently dropped.

Marking events processed is the one write nobody waits for: workers hand their marks
to one marker task, which writes all that have gathered in one go, and go straight on
to the next event. A mark lost to a crash only means the event is processed again at
the next start, which processing allows.

A store that cannot be written (a full disk) is a "not yet", not a failure: an event
whose processing met it stays held and is processed again ``storage_retry_s`` later,
and marks that could not be written are kept and written then, until the store takes
them. The store logs the outage once; nothing is given up on because of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from tenacity import RetryCallState, retry_if_exception_type, retry_if_not_exception_type

from ..clock import Clock, sleep
from ..retries import RetryPolicy
from ..scheduler import UnifiedTimedQueue
from ..store import CallStore, StorageUnavailable
from ..telnyx.events import EventError, TelnyxEvent, parse_event

logger = logging.getLogger(__name__)

EVENT_RETENTION_S = 7 * 24 * 3600.0
"""Processed events are kept this long: long enough to recognise any redelivery by Telnyx."""
FORGET_EVERY = 10_000
DEFAULT_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.5)
"""A failing event is processed three times, about half a second and then a second apart."""


class WebhookInbox:
    """
    :param process: acts on one event; must be idempotent, as an event may be processed
        again after a crash.
    :param workers: events processed at once.
    :param queue_size: events held in memory; the rest wait in the store.
    :param retry: how often, and how far apart, a failing event is processed again.
    """

    def __init__(
        self,
        store: CallStore,
        process: Callable[[TelnyxEvent], Awaitable[None]],
        clock: Clock,
        *,
        workers: int = 4,
        queue_size: int = 1000,
        retry: RetryPolicy = DEFAULT_RETRY,
        storage_retry_s: float = 5.0,
    ) -> None:
        self._store = store
        self._process = process
        self._clock = clock
        self._processed = 0
        self._workers = workers
        self._queue: asyncio.Queue[TelnyxEvent] = asyncio.Queue(queue_size)
        self._retry = retry
        self._storage_retry_s = storage_retry_s
        self._held: set[str] = set()
        """Events accepted and not yet marked processed in the store."""
        self._unmarked: dict[str, str | None] = {}
        self._waiting_for_store: dict[str, TelnyxEvent] = {}
        """Held events whose processing met a store that could not be written, by id."""
        self._store_retries: UnifiedTimedQueue[str] = UnifiedTimedQueue(self._process_again, clock=clock)
        self._marks_waiting = asyncio.Event()
        self._marked_during_page_in: set[str] | None = None
        self._spilled = False
        self._spills = 0
        self._paging = asyncio.Lock()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pending(self) -> int:
        """Events accepted and not yet processed that this process holds in memory."""
        return len(self._held)

    async def start(self) -> None:
        """Start the workers and take up events a previous run left unprocessed."""
        await self._forget_old_events()
        await self._store_retries.__aenter__()
        self._tasks = [asyncio.create_task(self._work(), name=f"webhook worker {n}") for n in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._mark_processed_events(), name="webhook marker"))
        self._spilled = True
        await self._page_in()

    async def accept(self, event: TelnyxEvent, body: bytes) -> bool:
        """Record the event durably and queue it; False when its id was seen before."""
        if not await self._store.record_event(event.id, event.event_type, body):
            return False
        self._hold(event)
        return True

    async def drain(self) -> None:
        """Wait until every accepted event has been processed."""
        while True:
            if self._spilled and self._queue.empty():
                await self._page_in()
            if not self._held and not self._spilled:
                return
            await self._idle.wait()

    async def close(self, grace_s: float) -> None:
        """Give the workers ``grace_s`` to finish; what is left is processed at the next start."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), grace_s)
        await self._store_retries.close()
        workers, marker = self._tasks[:-1], self._tasks[-1]
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._write_marks()
        marker.cancel()
        await asyncio.gather(marker, return_exceptions=True)
        if self._held:
            logger.warning("%d webhook events left for the next start", len(self._held))

    def _hold(self, event: TelnyxEvent) -> None:
        if event.id in self._held:
            return
        if self._enqueue(event):
            self._held.add(event.id)
            self._idle.clear()

    def _enqueue(self, event: TelnyxEvent) -> bool:
        """Queue the event; when the queue is full, it waits in the store to be paged in."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._spilled = True
            self._spills += 1
            return False
        return True

    def _wait_for_store(self, event: TelnyxEvent) -> None:
        """Processing met a store that could not be written: the event stays held, to be processed later."""
        logger.debug("%s %s waits for the store to be writable again", event.event_type, event.id)
        self._waiting_for_store[event.id] = event
        self._store_retries.put(event.id, self._clock.time() + self._storage_retry_s)

    def _process_again(self, event_id: str) -> None:
        event = self._waiting_for_store.pop(event_id, None)
        if event is None or self._enqueue(event):
            return
        self._held.discard(event_id)  # no room: it is paged in from the store like any spilled event
        self._set_idle_if_done()

    async def _page_in(self) -> None:
        async with self._paging:
            while await self._page_in_once():
                pass
            self._set_idle_if_done()

    async def _page_in_once(self) -> bool:
        """Queue spilled events from the store; True when it should read again at once.

        That is when every event read had been processed and marked while the store was
        being read (the read's snapshot can predate those marks): nothing was queued, so
        no worker would come back for the rest.
        """
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            return False
        spills_before = self._spills
        self._marked_during_page_in = set()
        try:
            records = await self._store.unprocessed_events(limit=room, exclude=self._held)
        finally:
            marked, self._marked_during_page_in = self._marked_during_page_in, None
        # Everything spilled is read only if nothing spilled while the query ran.
        if len(records) < room and self._spills == spills_before:
            self._spilled = False
        fresh = [(event_id, body) for event_id, body in records if event_id not in marked]
        for event_id, body in fresh:
            try:
                self._hold(parse_event(body))
            except EventError as exc:
                await self._store.mark_events_processed({event_id: f"unreadable: {exc.detail}"})
        return self._spilled and bool(records) and not fresh

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                error = await self._process_with_retries(event)
            except StorageUnavailable:
                self._wait_for_store(event)
                continue
            except BaseException:
                self._held.discard(event.id)
                raise
            finally:
                self._queue.task_done()
            self._unmarked[event.id] = error
            self._marks_waiting.set()
            try:
                await self._after_each_event()
            except StorageUnavailable:
                logger.debug("webhook inbox bookkeeping waits for the store to be writable again")
            except Exception:
                # The events are safe in the store; a worker must outlive a bad moment.
                logger.exception("webhook inbox bookkeeping failed; the worker goes on")
            self._set_idle_if_done()

    async def _mark_processed_events(self) -> None:
        while True:
            await self._marks_waiting.wait()
            if not await self._write_marks():
                await sleep(self._clock, self._storage_retry_s)

    async def _write_marks(self) -> bool:
        """Write the marks gathered so far; False when the store could not take them (they are kept)."""
        self._marks_waiting.clear()
        marks, self._unmarked = self._unmarked, {}
        if not marks:
            return True
        try:
            await self._store.mark_events_processed(marks)
            if self._marked_during_page_in is not None:
                self._marked_during_page_in.update(marks)
        except StorageUnavailable:
            logger.debug("%d webhook events wait for the store to be writable to be marked processed", len(marks))
            self._unmarked = {**marks, **self._unmarked}
            self._marks_waiting.set()
            return False
        except Exception:
            # Not marked, so they are processed again (now if paged in, or at the next
            # start): processing is idempotent.
            logger.exception("could not mark %d webhook events processed", len(marks))
        self._held.difference_update(marks)
        self._set_idle_if_done()
        return True

    def _set_idle_if_done(self) -> None:
        if not self._held and not self._spilled:
            self._idle.set()

    async def _after_each_event(self) -> None:
        self._processed += 1
        if self._processed % FORGET_EVERY == 0:
            await self._forget_old_events()
        if self._spilled and self._queue.qsize() <= self._queue.maxsize // 2:
            await self._page_in()

    async def _forget_old_events(self) -> None:
        forgotten = await self._store.forget_events(processed_before=self._clock.time() - EVENT_RETENTION_S)
        if forgotten:
            logger.info("forgot %d webhook events processed more than a week ago", forgotten)

    async def _process_with_retries(self, event: TelnyxEvent) -> str | None:
        """Process the event, retrying failures; the last error when it was given up on."""
        attempts = 0

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            await self._process(event)

        retrying = self._retry.retrying(
            retry_if_exception_type(Exception) & retry_if_not_exception_type(StorageUnavailable),
            before_sleep=functools.partial(_log_retry, event),
        )
        try:
            await retrying(attempt)
        except StorageUnavailable:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            return None
        logger.error(
            "gave up on %s %s (call_control_id %s, client_state %s) after %d attempts: %s",
            event.event_type,
            event.id,
            event.call_control_id,
            event.client_state,
            attempts,
            error,
        )
        return error


def _log_retry(event: TelnyxEvent, retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    logger.warning(
        "processing %s %s failed (attempt %d): %s: %s; retrying in %.2f s",
        event.event_type,
        event.id,
        retry_state.attempt_number,
        type(error).__name__,
        error,
        retry_state.upcoming_sleep,
    )
