"""A thousand calls due in the same second: dialed in due order, at the configured rate, none lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from dialajoke import keys
from dialajoke.config import ProtectionConfig

from .service import Service, quick_telnyx
from .waiting import wait_until

CALLS = 1000
RATE_PER_S = 250
CAP = 50
STEP_S = 0.25
"""How far the clock moves between looks: a power of two, so the tokens it earns add up exactly."""


async def test_a_burst_is_dialed_in_order_at_the_rate_under_the_cap(
    start_service: Callable[..., Awaitable[Service]],
) -> None:
    # One user booking a thousand calls at once is the load under test, not an abuse to refuse.
    service = await start_service(
        telnyx=quick_telnyx(max_dials_per_second=RATE_PER_S, max_concurrent_calls=CAP),
        protection=ProtectionConfig(max_pending_per_user=0, max_bookings_per_user_per_hour=0, max_calls_per_day=0),
    )
    due = service.clock.time() + 60
    numbers = [f"+1312555{index:04d}" for index in range(CALLS)]

    async def book(index: int) -> int:
        at = datetime.fromtimestamp(due + index / (2 * CALLS), UTC).isoformat()
        response = await service.client.post("/api/calls", json={"to": numbers[index], "at": at})
        assert response.status == 201
        return int((await response.json())["id"])

    for start in range(0, CALLS, 50):
        await asyncio.gather(*(book(index) for index in range(start, start + 50)))

    queue = service.app[keys.QUEUE]
    service.clock.advance(61)
    await wait_until(lambda: len(queue) == 0, 10, "every due call to be handed to the dial gate")
    # Calls waiting for their turn wait as tickets in the gate's line: were each a task,
    # the thousand due at once would be a thousand tasks on top of the calls in progress.
    assert len(asyncio.all_tasks()) < CALLS // 2

    dialed_by: dict[float, int] = {}
    """Seconds since the burst fell due -> calls dialed by then."""
    since_due_s = 0.0
    while since_due_s <= 2 * CALLS / RATE_PER_S:
        await service.settle()
        dialed_by[since_due_s] = len(service.simulator.dialed())
        if dialed_by[since_due_s] == CALLS:
            break
        service.clock.advance(STEP_S)
        since_due_s += STEP_S

    # The first second's worth goes at once, the rest at the rate: never faster, never slower.
    assert dialed_by == {t: min(CALLS, int(RATE_PER_S * (1 + t))) for t in dialed_by}
    assert max(dialed_by) == (CALLS - RATE_PER_S) / RATE_PER_S
    dialed = service.simulator.dialed()
    assert sorted(call.to for call in dialed) == numbers
    positions = {number: index for index, number in enumerate(numbers)}
    assert max(abs(positions[call.to] - placed) for placed, call in enumerate(dialed)) <= CAP
    assert service.simulator.most_live <= CAP
    metrics = await (await service.admin_client.get("/metrics")).text()
    assert f'dialajoke_calls{{status="completed"}} {CALLS:.1f}' in metrics
