"""UnifiedTimedQueue: a timer for many items, with one task and one armed alarm.

The queue knows nothing of calls or Telnyx. It holds ``(epoch seconds, item)`` pairs in a
heap, keeps a single alarm armed for the earliest one, and hands each item to an async
handler when its time comes. With nothing pending there is no alarm at all, so an idle
service never wakes up.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

from .clock import Alarm, Clock, SystemClock

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)


class UnifiedTimedQueue(Generic[T]):
    """Hands each item to ``handler`` at its due time.

    ``async with UnifiedTimedQueue(handler) as queue:`` starts and stops the timer task.
    Items already due fire at once; several due together are handed over in due order,
    each in its own task so a slow handler does not hold up the next. Items due at the
    same moment go in the order of the items themselves, so items must be hashable and
    orderable (call ids are). A handler that raises is logged and the queue goes on.

    :param handler: ``async def handler(item)``, called once per due item.
    :param clock: where "now" comes from; tests pass one they can move by hand.
    """

    def __init__(self, handler: Callable[[T], Awaitable[object]], *, clock: Clock | None = None) -> None:
        self._handler = handler
        self._clock: Clock = clock or SystemClock()
        # The heap holds (due, item) tuples and may keep stale ones: an entry is live only
        # while _live maps its item to that very tuple. Putting an item again or cancelling
        # it just changes _live, so neither searches the heap, and a pending item costs one
        # small tuple, one heap slot and one dict entry (about 120 bytes in all).
        self._heap: list[tuple[float, T]] = []
        self._live: dict[T, tuple[float, T]] = {}
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    def put(self, item: T, ts: float) -> None:
        """Schedule ``item`` for epoch time ``ts``; putting a pending item again moves it."""
        entry = (ts, item)
        self._live[item] = entry
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._wake()

    def cancel(self, item: T) -> bool:
        """Forget a pending item; False when it is not pending (unknown, or already handed over)."""
        entry = self._live.pop(item, None)
        if entry is None:
            return False
        if self._heap[0] is entry:
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

    async def close(self, grace_s: float | None = None) -> None:
        """Stop the timer, then wait for handlers already running; pending items stay unfired.

        With ``grace_s``, handlers still running after that long are cancelled.
        """
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not self._running:
            return
        running = list(self._running)
        _, late = await asyncio.wait(running, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

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
        heap, live = self._heap, self._live
        while heap and live.get(heap[0][1]) is not heap[0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    async def _sleep(self, until: float | None) -> None:
        self._wakeup = asyncio.get_running_loop().create_future()
        alarm: Alarm | None = None if until is None else self._clock.wake_at(until, self._wake)
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            if alarm is not None:
                alarm.cancel()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _hand_over_due(self) -> None:
        now = self._clock.time()
        heap, live = self._heap, self._live
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            item = entry[1]
            if live.get(item) is entry:
                del live[item]
                self._start_handler(item)

    def _start_handler(self, item: T) -> None:
        task = asyncio.create_task(self._call_handler(item))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _call_handler(self, item: T) -> None:
        try:
            await self._handler(item)
        except Exception:
            logger.exception("handler failed for queued item %r", item)
