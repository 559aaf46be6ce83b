"""Waiting on the injected clock: a hand-moved clock decides when a wait is over."""

from __future__ import annotations

import asyncio

from dialajoke.clock import sleep

from .clock import ManualClock
from .waiting import let_loop_run


async def test_a_sleep_ends_when_the_clock_has_moved_far_enough_and_not_before(clock: ManualClock) -> None:
    napping = asyncio.create_task(sleep(clock, 5.0))
    await let_loop_run()

    clock.advance(4.9)
    await let_loop_run()
    assert not napping.done()

    clock.advance(0.1)
    await asyncio.wait_for(napping, 1)
    assert clock.armed == 0
