"""Only calls due within the horizon wait in memory; the rest are paged in from the store in time."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from dialajoke import keys
from dialajoke.calls.bookings import Bookings
from dialajoke.calls.validation import CallRequest
from dialajoke.config import SchedulerConfig
from dialajoke.scheduler import UnifiedTimedQueue
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .service import Service, service_config

HORIZON = SchedulerConfig(horizon_s=3600)
StartService = Callable[..., Awaitable[Service]]


async def test_a_call_beyond_the_horizon_waits_in_the_store_and_still_rings_on_time(
    start_service: StartService,
) -> None:
    service = await start_service(scheduler=HORIZON)
    soon = await service.book("+12025550142", in_s=600)
    later = await service.book("+12025550143", in_s=3 * 3600)

    assert len(service.app[keys.QUEUE]) == 1
    assert (await (await service.client.get("/info")).json())["pending_calls"] == 2

    service.clock.advance(7000)
    await service.settle()
    assert later["id"] not in service.app[keys.QUEUE]
    service.clock.advance(2000)  # the next page-in, every half horizon, brings it in well before it is due
    await service.settle()
    assert later["id"] in service.app[keys.QUEUE]
    assert (await service.call(later["id"]))["status"] == "scheduled"

    assert (await service.call(soon["id"]))["status"] == "completed"
    assert (await service.run_until_final(later["id"], advance_s=1800))["status"] == "completed"
    assert [call.to for call in service.simulator.dialed()] == ["+12025550142", "+12025550143"]


async def test_a_restart_reads_only_the_next_horizon(start_service: StartService, database: Path) -> None:
    first = await start_service(service_config(database, scheduler=HORIZON))
    near = await first.book("+12025550142", in_s=60)
    far = await first.book("+12025550143", in_s=5 * 3600)
    await first.stop()

    second = await start_service(service_config(database, scheduler=HORIZON))

    queue = second.app[keys.QUEUE]
    assert (len(queue), near["id"] in queue) == (1, True)
    assert (await second.run_until_final(far["id"], advance_s=5 * 3600))["status"] == "completed"
    assert (await second.call(near["id"]))["status"] == "completed"


class OnceLocked(SqliteCallStore):
    """A store whose first read of a later page of the schedule fails, as a locked database would."""

    failures = 1

    def scheduled(self, *, after: float = -math.inf, until: float = math.inf) -> AsyncIterator[tuple[int, float]]:
        if after > -math.inf and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().scheduled(after=after, until=until)


async def test_a_failed_page_in_is_tried_again(database: Path, clock: ManualClock) -> None:
    store = await OnceLocked.open(database, clock)
    fired: list[int] = []

    async def fire(call_id: int) -> None:
        fired.append(call_id)

    async with UnifiedTimedQueue(fire, clock=clock) as queue:
        bookings = Bookings(store, queue, clock, "+13125550100", HORIZON)
        async with bookings:
            await bookings.restore()
            request = CallRequest("+12025550142", datetime.fromtimestamp(clock.time() + 2 * 3600, UTC), "UTC")
            call = await bookings.book(request)
            clock.advance(1800)  # the first page-in fails here
            await asyncio.sleep(0.01)
            clock.advance(60)  # it is tried again, and the pager goes on paging
            await asyncio.sleep(0.01)
            assert store.failures == 0
            clock.advance(1900)
            await asyncio.sleep(0.01)
            assert call.id in queue
            clock.advance(2 * 3600)
            await asyncio.sleep(0.01)
    await store.close()

    assert fired == [call.id]
    assert store.failures == 0
