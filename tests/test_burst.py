"""A thousand calls due in the same second: dialed in due order, at the configured rate, none lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .service import Service, quick_telnyx

CALLS = 1000
RATE_PER_S = 250
CAP = 50


async def test_a_burst_is_dialed_in_order_at_the_rate_under_the_cap(
    start_service: Callable[..., Awaitable[Service]],
) -> None:
    service = await start_service(telnyx=quick_telnyx(max_dials_per_second=RATE_PER_S, max_concurrent_calls=CAP))
    due = service.clock.time() + 60
    numbers = [f"+1312555{index:04d}" for index in range(CALLS)]

    async def book(index: int) -> int:
        at = datetime.fromtimestamp(due + index / (2 * CALLS), UTC).isoformat()
        response = await service.client.post("/api/calls", json={"to": numbers[index], "at": at})
        assert response.status == 201
        return int((await response.json())["id"])

    for start in range(0, CALLS, 50):
        await asyncio.gather(*(book(index) for index in range(start, start + 50)))
    most_tasks = 0

    async def count_tasks() -> None:
        nonlocal most_tasks
        while True:
            running = len(asyncio.all_tasks())
            most_tasks = max(most_tasks, running)
            await asyncio.sleep(0.005)

    counting = asyncio.create_task(count_tasks())
    service.clock.advance(61)
    await asyncio.wait_for(_all_ended(service), 120)
    counting.cancel()

    dialed = service.simulator.dialed()
    assert len(dialed) == CALLS
    assert sorted(call.to for call in dialed) == numbers
    positions = {number: index for index, number in enumerate(numbers)}
    assert max(abs(positions[call.to] - placed) for placed, call in enumerate(dialed)) <= CAP
    assert service.simulator.most_live <= CAP
    # Calls waiting for their turn wait as tickets in the gate's line: were each a task,
    # the thousand due at once would be a thousand tasks on top of the calls in progress.
    assert most_tasks < CALLS // 2
    placed_at = sorted(call.placed_at for call in dialed)
    # The first second's worth goes at once, the rest at the rate: never faster.
    assert placed_at[-1] - placed_at[0] >= (CALLS - RATE_PER_S) / RATE_PER_S * 0.95
    for first, later in zip(placed_at, placed_at[2 * RATE_PER_S :], strict=False):
        assert later - first >= 1.0


async def _all_ended(service: Service) -> None:
    while True:
        await service.settle()
        info = await (await service.client.get("/metrics")).text()
        if f'dialajoke_calls{{status="completed"}} {CALLS:.1f}' in info:
            return
        await asyncio.sleep(0.1)
