"""UnifiedTimedQueue: a timer for many items, with one task and one armed alarm.

The queue knows nothing of calls or Telnyx. It holds ``(epoch seconds, item)`` pairs in a
heap, keeps a single alarm armed for the earliest one, and hands each item to an async
handler when its time comes. With nothing pending there is no alarm at all, so an idle
service never wakes up.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

from .clock import Alarm, Clock, SystemClock

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)

_CANCELLED = object()


class UnifiedTimedQueue(Generic[T]):
    """Hands each item to ``handler`` at its due time.

    ``async with UnifiedTimedQueue(handler) as queue:`` starts and stops the timer task.
    Items already due fire at once; several due together are handed over in due order
    (ties in the order they were put), each in its own task so a slow handler does not
    hold up the next. A handler that raises is logged and the queue goes on.

    :param handler: ``async def handler(item)``, called once per due item.
    :param clock: where "now" comes from; tests pass one they can move by hand.
    """

    def __init__(self, handler: Callable[[T], Awaitable[object]], *, clock: Clock | None = None) -> None:
        self._handler = handler
        self._clock: Clock = clock or SystemClock()
        self._heap: list[list[object]] = []
        self._entries: dict[T, list[object]] = {}
        self._sequence = itertools.count()
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    def put(self, item: T, ts: float) -> None:
        """Schedule ``item`` for epoch time ``ts``; putting a pending item again moves it."""
        self.cancel(item)
        entry: list[object] = [ts, next(self._sequence), item]
        self._entries[item] = entry
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._wake()

    def cancel(self, item: T) -> bool:
        """Forget a pending item; False when it is not pending (unknown, or already handed over)."""
        entry = self._entries.pop(item, None)
        if entry is None:
            return False
        entry[2] = _CANCELLED
        if self._heap[0] is entry:
            self._wake()
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: object) -> bool:
        return item in self._entries

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
        heap = self._heap
        while heap and heap[0][2] is _CANCELLED:
            heapq.heappop(heap)
        return heap[0][0] if heap else None  # type: ignore[return-value]

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
        heap = self._heap
        while heap and heap[0][0] <= now:  # type: ignore[operator]
            _, _, item = heapq.heappop(heap)
            if item is _CANCELLED:
                continue
            del self._entries[item]  # type: ignore[arg-type]
            self._start_handler(item)  # type: ignore[arg-type]

    def _start_handler(self, item: T) -> None:
        task = asyncio.create_task(self._call_handler(item))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _call_handler(self, item: T) -> None:
        try:
            await self._handler(item)
        except Exception:
            logger.exception("handler failed for queued item %r", item)
