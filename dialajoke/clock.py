"""Wall-clock time as a collaborator, so tests can move it instead of waiting for it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Protocol


class Alarm(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Epoch time and alarms on it.

    ``wake_at`` may call back *before* ``when`` (never after, but for scheduling jitter):
    callers re-read :meth:`time` and re-arm, which also keeps them right when the wall
    clock is stepped.
    """

    def time(self) -> float: ...

    def wake_at(self, when: float, callback: Callable[[], None]) -> Alarm: ...


class SystemClock:
    """The real clock: ``time.time()`` for the date, the loop's monotonic timer for waiting.

    Long waits are cut into steps of at most ``max_sleep_s``: the kernel's timer slack
    grows with the length of a sleep, so a short final step lands closer to the due time
    than one long sleep would. It also notices a wall-clock step within ``max_sleep_s``.
    """

    def __init__(self, max_sleep_s: float = 1.0) -> None:
        self.max_sleep_s = max_sleep_s

    def time(self) -> float:
        return time.time()

    def wake_at(self, when: float, callback: Callable[[], None]) -> Alarm:
        delay = min(max(when - time.time(), 0.0), self.max_sleep_s)
        return asyncio.get_running_loop().call_later(delay, callback)


async def sleep(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` on ``clock``, so that a test's hand-moved clock decides when it is over."""
    until = clock.time() + seconds
    while clock.time() < until:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        alarm = clock.wake_at(until, functools.partial(_set_done, woken))
        try:
            await woken
        finally:
            alarm.cancel()


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
