"""UnifiedTimedQueue: a timer for many items, with one task and one armed alarm.

The queue knows nothing of calls or Telnyx. It holds ``(epoch seconds, item)`` pairs in a
heap, keeps a single alarm armed for the earliest one, and hands each item to a handler
when its time comes. With nothing pending there is no alarm at all, so an idle service
never wakes up.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

from .clock import Alarm, Clock, SystemClock

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)


class UnifiedTimedQueue(Generic[T]):
    """Hands each item to ``handler`` at its due time.

    ``async with UnifiedTimedQueue(handler) as queue:`` starts and stops the timer task.
    Items already due fire at once; several due together are handed over in due order.
    Items due at the same moment go in the order of the items themselves, so items must
    be hashable and orderable (call ids are). A handler that raises is logged and the
    queue goes on.

    :param handler: called once per due item. A plain function runs right there in the
        timer task, like a ``loop.call_at`` callback, so it must not block: needing no task,
        it is the cheapest way to hand a burst of due items on. A coroutine function gets a
        task per item, so a slow handler does not hold up the next, and each item costs a
        task's time and memory (BENCHMARKS.md compares the two on a burst).
    :param clock: where "now" comes from; tests pass one they can move by hand.
    """

    def __init__(self, handler: Callable[[T], Awaitable[object] | None], *, clock: Clock | None = None) -> None:
        self._handler = handler
        self._clock: Clock = clock or SystemClock()
        # The heap holds (due, item) tuples and may keep stale ones: an entry is live only
        # while _live maps its item to that very tuple. Putting an item again or cancelling
        # it just changes _live, so neither searches the heap, and a pending item costs no
        # more than one small tuple, one heap slot and one dict entry (see BENCHMARKS.md).
        self._heap: list[tuple[float, T]] = []
        self._live: dict[T, tuple[float, T]] = {}
        # New entries wait here until the timer task next looks: a burst of puts is merged
        # with one heapify instead of a sift per put (descending due times are the worst case).
        self._incoming: list[tuple[float, T]] = []
        # The due time the timer task sleeps until: +inf when it sleeps with nothing due,
        # -inf while it is awake or already woken, so put() wakes it only when it must.
        self._sleeping_until = -math.inf
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    def put(self, item: T, ts: float) -> None:
        """Schedule ``item`` for epoch time ``ts``; putting a pending item again moves it."""
        entry = (ts, item)
        self._live[item] = entry
        self._incoming.append(entry)
        if ts < self._sleeping_until:
            self._wake()

    def cancel(self, item: T) -> bool:
        """Forget a pending item; False when it is not pending (unknown, or already handed over)."""
        entry = self._live.pop(item, None)
        if entry is None:
            return False
        if entry[0] <= self._sleeping_until:
            self._wake()
        return True

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        return item in self._live

    async def __aenter__(self) -> UnifiedTimedQueue[T]:
        self._task = asyncio.create_task(self._run(), name="unified-timed-queue")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the timer, then wait for handlers already running; pending items stay unfired."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            due_at = self._earliest_due()
            if due_at is None:
                await self._sleep(None)
            elif due_at > self._clock.time():
                await self._sleep(due_at)
            else:
                self._hand_over_due()

    def _earliest_due(self) -> float | None:
        self._merge_incoming()
        heap, live = self._heap, self._live
        while heap and live.get(heap[0][1]) is not heap[0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _merge_incoming(self) -> None:
        incoming, heap = self._incoming, self._heap
        if not incoming:
            return
        if len(incoming) * max(1, len(heap).bit_length()) > len(heap):
            heap.extend(incoming)
            heapq.heapify(heap)
        else:
            for entry in incoming:
                heapq.heappush(heap, entry)
        incoming.clear()

    async def _sleep(self, until: float | None) -> None:
        self._wakeup = asyncio.get_running_loop().create_future()
        self._sleeping_until = math.inf if until is None else until
        alarm: Alarm | None = None if until is None else self._clock.wake_at(until, self._wake)
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            self._sleeping_until = -math.inf
            if alarm is not None:
                alarm.cancel()

    def _wake(self) -> None:
        self._sleeping_until = -math.inf
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _hand_over_due(self) -> None:
        now = self._clock.time()
        heap, live, handler, pop = self._heap, self._live, self._handler, heapq.heappop
        while heap and heap[0][0] <= now:
            entry = pop(heap)
            item = entry[1]
            if live.get(item) is not entry:
                continue
            del live[item]
            try:
                started = handler(item)
            except Exception:
                logger.exception("handler failed for queued item %r", item)
                continue
            if started is not None:
                self._start_task(item, started)

    def _start_task(self, item: T, started: object) -> None:
        """A coroutine handler's work gets its own task, so a slow one does not hold up the next."""
        if not inspect.isawaitable(started):
            return
        task: asyncio.Task[object] = asyncio.ensure_future(started)
        self._running.add(task)
        task.add_done_callback(functools.partial(self._handler_done, item))

    def _handler_done(self, item: T, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("handler failed for queued item %r", item, exc_info=task.exception())
