"""Retry policies on tenacity: how many tries, how far apart, and for how long in all.

A :class:`RetryPolicy` is built once from settings and reused by every operation it
governs, as APScheduler 4 reuses its ``RetrySettings``; each run of an operation gets
a fresh ``AsyncRetrying`` from it, because a tenacity controller holds the state of
the run under way. Sleeping and the clock that measures the time spent are
injectable, so tests see the delays instead of waiting them out.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential
from tenacity.retry import RetryBaseT
from tenacity.stop import stop_base
from tenacity.wait import WaitBaseT

Sleep = Callable[[float], Awaitable[None]]
BeforeSleep = Callable[[RetryCallState], None]
GiveUp = Callable[[RetryCallState], Any]


class JitteredBackoff(wait_exponential):
    """Exponential backoff, each delay scaled by a random factor in [1 - jitter, 1].

    Telnyx's own SDK waits this way (reference section 1.4): never longer than the
    backoff, and never all clients at the same moment.
    """

    def __init__(self, multiplier: float, max_s: float, jitter: float) -> None:
        super().__init__(multiplier=multiplier, max=max_s)
        self.jitter = jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        return super().__call__(retry_state) * random.uniform(1.0 - self.jitter, 1.0)


class StopBeforeDeadline(stop_base):
    """Stop when the next try would begin more than ``max_elapsed_s`` after this strategy was made.

    tenacity's ``stop_before_delay`` on an injected clock: one instance per run.
    """

    def __init__(self, max_elapsed_s: float, now: Callable[[], float]) -> None:
        self._now = now
        self._deadline = now() + max_elapsed_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._now() + retry_state.upcoming_sleep > self._deadline


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries, ``base_delay_s`` apart and doubling up to ``max_delay_s``,
    each delay shortened by up to ``jitter`` of itself at random; no try begins more than
    ``max_elapsed_s`` after the first.

    :ivar sleep: waits between tries; tests pass one that records the delay and returns.
    :ivar now: the monotonic clock ``max_elapsed_s`` is measured on.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_elapsed_s: float = math.inf
    jitter: float = 0.25
    sleep: Sleep = field(default=asyncio.sleep, repr=False, compare=False)
    now: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def backoff(self) -> JitteredBackoff:
        return JitteredBackoff(self.base_delay_s, self.max_delay_s, self.jitter)

    def stop(self, attempts: stop_base | None = None) -> stop_base:
        """Out of attempts (``attempts``, or every try counted), or out of time; one per run."""
        return StopBeforeDeadline(self.max_elapsed_s, self.now) | (attempts or stop_after_attempt(self.max_attempts))

    def retrying(
        self,
        retry: RetryBaseT,
        *,
        stop: stop_base | None = None,
        wait: WaitBaseT | None = None,
        before_sleep: BeforeSleep | None = None,
        retry_error_callback: GiveUp | None = None,
    ) -> AsyncRetrying:
        """A controller for one run: it retries what ``retry`` accepts, and in the end
        re-raises the last error (or raises ``tenacity.RetryError`` when the last try
        returned a result that ``retry`` refused).

        :param retry_error_callback: called instead, when the run stops with tries it
            would have retried; what it returns (or raises) is the run's outcome.
        """
        return AsyncRetrying(
            sleep=self.sleep,
            stop=stop or self.stop(),
            wait=wait or self.backoff(),
            retry=retry,
            before_sleep=before_sleep,
            retry_error_callback=retry_error_callback,
            reraise=True,
        )
