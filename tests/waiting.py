"""Waiting in tests without guessing: for a condition, with a deadline, failing loudly."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.002
"""How often a condition is looked at again: short, as nothing moves but the code under test."""


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout_s: float,
    what: str | Callable[[], str],
    *,
    poll_s: float = POLL_S,
) -> None:
    """Return as soon as ``condition`` holds; fail naming ``what`` was awaited if it does not within ``timeout_s``.

    ``condition`` may be a coroutine function. ``what`` may be a function, to describe
    the state of things at the moment of giving up. Another process is polled less often
    (``poll_s``) than this one's own tasks.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() >= deadline:
            description = what() if callable(what) else what
            raise AssertionError(f"gave up after {timeout_s:g} s waiting for {description}")
        await asyncio.sleep(poll_s)


async def let_loop_run(turns: int = 20) -> None:
    """Give every ready task a few turns of the event loop, so that anything wrongly due would have happened.

    For code whose every step is a callback or a task on this loop (alarms of a
    ManualClock, futures, queues): no wall-clock time passes.
    """
    for _ in range(turns):
        await asyncio.sleep(0)
