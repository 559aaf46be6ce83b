"""DialGate: due calls go out in order, at the configured rate, never more at once than the cap."""

from __future__ import annotations

import asyncio

import pytest

from dialajoke.calls.dialer import DialGate, GateClosed


async def admitted_in_order(gate: DialGate, call_ids: list[int]) -> list[int]:
    order: list[int] = []

    async def dial(call_id: int) -> None:
        await gate.ticket(call_id)
        order.append(call_id)
        gate.release(call_id)

    await asyncio.wait_for(asyncio.gather(*(dial(call_id) for call_id in call_ids)), 5)
    return order


async def test_calls_are_admitted_in_the_order_they_asked() -> None:
    gate = DialGate(rate_per_s=1000, max_active=3)

    assert await admitted_in_order(gate, list(range(50))) == list(range(50))


async def test_the_rate_is_kept_after_the_first_seconds_worth() -> None:
    gate = DialGate(rate_per_s=100, max_active=1000)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await admitted_in_order(gate, list(range(150)))

    # 100 go at once (one second's worth), the other 50 at 100 a second.
    assert loop.time() - started >= 0.45


async def test_no_more_than_the_cap_are_active_and_a_release_lets_the_next_in() -> None:
    gate = DialGate(rate_per_s=1000, max_active=2)
    tasks = [gate.ticket(call_id) for call_id in (1, 2, 3)]
    await asyncio.sleep(0.01)

    assert [task.done() for task in tasks] == [True, True, False]
    assert (gate.active, gate.waiting) == (2, 1)

    gate.release(1)
    await asyncio.wait_for(tasks[2], 1)
    assert gate.active == 2


async def test_a_call_found_in_progress_at_start_up_holds_a_place() -> None:
    gate = DialGate(rate_per_s=1000, max_active=1)
    gate.occupy(7)
    waiting = gate.ticket(8)
    await asyncio.sleep(0.01)
    assert not waiting.done()

    gate.release(7)

    await asyncio.wait_for(waiting, 1)


async def test_a_call_that_leaves_the_line_leaves_no_trace() -> None:
    gate = DialGate(rate_per_s=1000, max_active=1)
    await gate.ticket(1)
    impatient = gate.ticket(2)
    await asyncio.sleep(0.01)

    impatient.cancel()
    gate.release(1)

    assert (gate.active, gate.waiting) == (0, 0)
    await asyncio.wait_for(gate.ticket(3), 1)


async def test_slow_down_pauses_everyone_for_as_long_as_asked() -> None:
    gate = DialGate(rate_per_s=1000, max_active=10)
    loop = asyncio.get_running_loop()
    gate.slow_down(0.2)
    started = loop.time()

    await asyncio.wait_for(gate.ticket(1), 2)

    assert loop.time() - started >= 0.19


async def test_tickets_wait_in_line_without_a_task_and_a_cancelled_one_is_skipped() -> None:
    gate = DialGate(rate_per_s=1000, max_active=1)
    first, second, third = (gate.ticket(call_id) for call_id in (1, 2, 3))
    assert (first.done(), second.done(), third.done()) == (True, False, False)

    second.cancel()
    gate.release(1)

    assert third.done()
    assert (gate.active, gate.waiting) == (1, 0)


async def test_closing_turns_away_the_calls_in_line_and_refuses_new_ones() -> None:
    gate = DialGate(rate_per_s=1000, max_active=1)
    admitted, waiting = gate.ticket(1), gate.ticket(2)

    assert gate.close() == 1

    assert admitted.result() is None
    with pytest.raises(GateClosed):
        waiting.result()
    with pytest.raises(GateClosed):
        gate.ticket(3)
