"""Only calls due within the horizon wait in memory; the rest are paged in from the store in time."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from dialajoke import keys
from dialajoke.calls.bookings import PAGE_IN_RETRY_S, Bookings, QueuedCall
from dialajoke.calls.validation import CallRequest
from dialajoke.config import SchedulerConfig
from dialajoke.models import Principal
from dialajoke.scheduler import UnifiedTimedQueue
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .service import Service, service_config
from .waiting import wait_until

HORIZON = SchedulerConfig(horizon_s=3600)
StartService = Callable[..., Awaitable[Service]]


async def test_a_call_beyond_the_horizon_waits_in_the_store_and_still_rings_on_time(
    start_service: StartService,
) -> None:
    service = await start_service(scheduler=HORIZON)
    soon = await service.book("+12025550142", in_s=600)
    later = await service.book("+12025550143", in_s=3 * 3600)

    assert len(service.app[keys.QUEUE]) == 1
    assert (await (await service.admin_client.get("/info")).json())["pending_calls"] == 2

    service.clock.advance(7000)
    await service.settle()
    queued_later = (later["id"], service.user.id)
    assert queued_later not in service.app[keys.QUEUE]
    service.clock.advance(2000)  # the next page-in, every half horizon, brings it in well before it is due
    await wait_until(lambda: queued_later in service.app[keys.QUEUE], 5, "the page-in to queue the later call")
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
    assert (len(queue), (near["id"], second.user.id) in queue) == (1, True)
    assert (await second.run_until_final(far["id"], advance_s=5 * 3600))["status"] == "completed"
    assert (await second.call(near["id"]))["status"] == "completed"


class OnceLocked(SqliteCallStore):
    """A store whose first read of a later page of the schedule fails, as a locked database would."""

    failures = 1
    page_ins = 0

    def scheduled(
        self, *, after: float = -math.inf, until: float = math.inf
    ) -> AsyncIterator[tuple[int, float, int | None]]:
        if after > -math.inf:
            self.page_ins += 1
        if after > -math.inf and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().scheduled(after=after, until=until)


async def test_a_failed_page_in_is_tried_again(database: Path, clock: ManualClock) -> None:
    store = await OnceLocked.open(database, clock)
    fired: list[int] = []

    async def fire(queued: QueuedCall) -> None:
        fired.append(queued[0])

    async with UnifiedTimedQueue(fire, clock=clock) as queue:
        bookings = Bookings(store, queue, clock, "+13125550100", HORIZON)
        async with bookings:
            await bookings.restore()
            request = CallRequest("+12025550142", datetime.fromtimestamp(clock.time() + 2 * 3600, UTC), "UTC")
            ada = await store.add_user(name="ada", password_hash=None, is_admin=False)
            call = await bookings.book(request, Principal(ada.id, ada.name, is_admin=False))
            clock.advance(1800)
            await wait_until(lambda: store.page_ins == 1, 5, "the first page-in, which fails")
            clock.advance(PAGE_IN_RETRY_S)
            await wait_until(lambda: store.page_ins == 2, 5, "the page-in to be tried again")
            clock.advance(1900)  # the retry loaded only calls due within 1.5 h: the pager must go on
            await wait_until(lambda: (call.id, ada.id) in queue, 5, "the next page-in to queue the call")
            clock.advance(2 * 3600)
            await wait_until(lambda: fired == [call.id], 5, "the call to fall due")
    await store.close()
