"""A sleep to inject into retry policies: delays are noted, never waited out."""

from __future__ import annotations

import asyncio

from .clock import ManualClock


class RecordedSleep:
    """Notes each delay and moves ``clock`` by it, then returns at once (after one turn of the loop)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)
