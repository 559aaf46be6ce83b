"""DialGate: due calls go out in order, at the configured rate, never more at once than the cap.

Time is a ManualClock: the rate and the pauses are checked by moving it, not by waiting.
"""

from __future__ import annotations

import asyncio

import pytest

from dialajoke.calls.dialer import DialGate, GateClosed

from .clock import ManualClock
from .waiting import let_loop_run

ALICE, BOB = 1, 2


async def admitted_in_order(gate: DialGate, call_ids: list[int]) -> list[int]:
    order: list[int] = []

    async def dial(call_id: int) -> None:
        await gate.ticket(call_id, ALICE)
        order.append(call_id)
        gate.release(call_id)

    await asyncio.wait_for(asyncio.gather(*(dial(call_id) for call_id in call_ids)), 5)
    return order


def count_done(turns: list[asyncio.Future[None]]) -> int:
    return sum(turn.done() for turn in turns)


async def test_calls_are_admitted_in_the_order_they_asked(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=3, clock=clock)

    assert await admitted_in_order(gate, list(range(50))) == list(range(50))


async def test_the_first_seconds_worth_goes_at_once_then_the_rate_is_kept(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=100, max_active=1000, clock=clock)

    turns = [gate.ticket(call_id, ALICE) for call_id in range(150)]
    await let_loop_run()
    assert count_done(turns) == 100

    clock.advance(0.25)
    await let_loop_run()
    assert count_done(turns) == 125

    clock.advance(0.25)
    await let_loop_run()
    assert count_done(turns) == 150


async def test_no_more_than_the_cap_are_active_and_a_release_lets_the_next_in(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=2, clock=clock)
    turns = [gate.ticket(call_id, ALICE) for call_id in (1, 2, 3)]
    await let_loop_run()

    assert [turn.done() for turn in turns] == [True, True, False]

    gate.release(1)
    assert turns[2].done()
    fourth = gate.ticket(4, ALICE)
    assert not fourth.done()


async def test_a_call_found_in_progress_at_start_up_holds_a_place(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    gate.occupy(7)
    waiting = gate.ticket(8, ALICE)
    await let_loop_run()
    assert not waiting.done()

    gate.release(7)

    assert waiting.done()


async def test_a_call_that_leaves_the_line_leaves_no_trace(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    await gate.ticket(1, ALICE)
    impatient = gate.ticket(2, ALICE)

    impatient.cancel()
    gate.release(1)

    # The one place is free (the impatient call took none), and held by the next in line.
    third, fourth = gate.ticket(3, ALICE), gate.ticket(4, ALICE)
    assert (third.done(), fourth.done()) == (True, False)


async def test_slow_down_pauses_everyone_for_as_long_as_asked(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=10, clock=clock)
    gate.slow_down(0.5)
    turn = gate.ticket(1, ALICE)

    clock.advance(0.25)
    await let_loop_run()
    assert not turn.done()

    clock.advance(0.25 + 0.002)  # the pause, then a token's worth of time: the bucket starts empty
    await asyncio.wait_for(turn, 1)


async def test_a_pause_ends_with_an_empty_bucket(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=4, max_active=100, clock=clock)
    gate.slow_down(1.0)
    turns = [gate.ticket(call_id, ALICE) for call_id in range(10)]

    clock.advance(1.0)
    await let_loop_run()
    assert count_done(turns) == 0

    clock.advance(0.25)
    await let_loop_run()
    assert count_done(turns) == 1


async def test_a_wall_clock_stepped_back_does_not_stretch_a_pause(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=10, clock=clock)
    gate.slow_down(2.0)
    first = gate.ticket(1, ALICE)

    clock.advance(-3600)
    second = gate.ticket(2, ALICE)
    await let_loop_run()
    assert not first.done()

    clock.advance(2.0 + 0.002)
    await asyncio.wait_for(asyncio.gather(first, second), 1)


async def test_tickets_wait_in_line_without_a_task_and_a_cancelled_one_is_skipped(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    tasks_before = len(asyncio.all_tasks())
    first, second, third = (gate.ticket(call_id, ALICE) for call_id in (1, 2, 3))
    assert (first.done(), second.done(), third.done()) == (True, False, False)
    assert len(asyncio.all_tasks()) == tasks_before

    second.cancel()
    gate.release(1)

    assert third.done()
    assert not gate.ticket(4, ALICE).done()


async def test_closing_turns_away_the_calls_in_line_and_refuses_new_ones(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    admitted, waiting = gate.ticket(1, ALICE), gate.ticket(2, ALICE)

    assert gate.close() == 1

    assert admitted.result() is None
    with pytest.raises(GateClosed):
        waiting.result()
    with pytest.raises(GateClosed):
        gate.ticket(3, ALICE)


async def test_closing_disarms_the_gates_alarm(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1, max_active=10, clock=clock)
    gate.ticket(1, ALICE)
    gate.ticket(2, ALICE)
    assert clock.armed == 1

    gate.close()

    assert clock.armed == 0


async def admit_one_at_a_time(gate: DialGate, turns: dict[int, asyncio.Future[None]]) -> list[int]:
    """Release each admitted call in turn, as its hangup would; the order the waiting calls got their place."""
    order: list[int] = []
    while len(order) < len(turns):
        admitted = [call_id for call_id, turn in turns.items() if turn.done() and call_id not in order]
        assert len(admitted) == 1, f"expected one call in progress, found {admitted} (order so far {order})"
        order.append(admitted[0])
        gate.release(admitted[0])
    return order


async def test_another_users_call_gets_the_next_free_place_however_long_the_first_users_backlog(
    clock: ManualClock,
) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    alices = [gate.ticket(call_id, ALICE) for call_id in range(1, 51)]
    bobs = gate.ticket(100, BOB)
    await let_loop_run()
    assert count_done(alices) == 1
    assert not bobs.done()

    gate.release(1)

    assert bobs.done()
    assert count_done(alices) == 1


async def test_owners_take_turns_one_call_each_and_each_owners_calls_keep_their_order(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = {call_id: gate.ticket(call_id, owner) for call_id, owner in ((11, ALICE), (12, ALICE), (13, ALICE))}
    turns |= {call_id: gate.ticket(call_id, BOB) for call_id in (21, 22, 23)}
    turns[31] = gate.ticket(31, None)

    assert await admit_one_at_a_time(gate, turns) == [11, 21, 31, 12, 22, 13, 23]


async def test_booking_one_call_after_another_does_not_jump_the_others_turns(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    alices = [gate.ticket(call_id, ALICE) for call_id in (1, 2, 3)]
    first_of_bob = gate.ticket(10, BOB)
    gate.release(1)
    assert first_of_bob.done()

    second_of_bob = gate.ticket(11, BOB)
    gate.release(10)

    assert alices[1].done()
    assert not second_of_bob.done()
    gate.release(2)
    assert second_of_bob.done()
    assert not alices[2].done()


async def test_an_urgent_call_goes_before_every_owners_turn(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = {call_id: gate.ticket(call_id, ALICE) for call_id in (1, 2)}
    turns[10] = gate.ticket(10, BOB)
    turns[99] = gate.ticket(99, ALICE, urgent=True)

    assert await admit_one_at_a_time(gate, turns) == [1, 99, 10, 2]


async def test_a_cancelled_ticket_does_not_cost_its_owner_a_turn(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = {call_id: gate.ticket(call_id, ALICE) for call_id in (1, 2, 3)}
    turns[10] = gate.ticket(10, BOB)
    turns.pop(10).cancel()
    turns.pop(2).cancel()

    assert await admit_one_at_a_time(gate, turns) == [1, 3]


async def test_a_call_already_ringing_takes_a_free_place_at_once_ahead_of_those_waiting(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1, max_active=2, clock=clock)
    first, waiting = gate.ticket(1, ALICE), gate.ticket(2, ALICE)
    assert (first.done(), waiting.done()) == (True, False)  # the bucket is empty: 2 waits for the rate

    assert gate.try_occupy(50)
    assert not gate.try_occupy(51)

    gate.release(50)
    clock.advance(1.0)
    await asyncio.wait_for(waiting, 1)
    assert not gate.try_occupy(52)


async def test_closing_turns_away_every_owners_calls(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    admitted = gate.ticket(1, ALICE)
    waiting = [gate.ticket(2, ALICE), gate.ticket(3, BOB), gate.ticket(4, None), gate.ticket(5, BOB, urgent=True)]

    assert gate.close() == 4

    assert admitted.result() is None
    for turn in waiting:
        with pytest.raises(GateClosed):
            turn.result()


# How many calls wait before each one, for the page to say so


async def test_ahead_counts_the_calls_before_each_in_the_order_the_gate_admits_them(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = {call_id: gate.ticket(call_id, ALICE) for call_id in (1, 2, 3)}
    turns |= {call_id: gate.ticket(call_id, BOB) for call_id in (10, 11)}
    turns[99] = gate.ticket(99, None, urgent=True)
    gate.release(1)
    waiting = [call_id for call_id, turn in turns.items() if not turn.done()]

    ahead = gate.ahead()
    admitted = await admit_one_at_a_time(gate, {call_id: turns[call_id] for call_id in [99, *waiting]})

    assert sorted(ahead, key=ahead.__getitem__) == [call_id for call_id in admitted if call_id in ahead]
    assert list(ahead.values()) == list(range(len(ahead)))
    assert 99 not in ahead


async def test_ahead_leaves_out_calls_that_left_the_line(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = [gate.ticket(call_id, ALICE) for call_id in (1, 2, 3, 4)]
    turns[2].cancel()

    assert gate.ahead() == {2: 0, 4: 1}


async def test_wait_moved_returns_once_the_line_moves(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    gate.ticket(1, ALICE)
    gate.ticket(2, ALICE)
    seen = gate.version
    waiter = asyncio.create_task(gate.wait_moved(seen))
    await let_loop_run()
    assert not waiter.done()

    gate.release(1)

    await asyncio.wait_for(waiter, 5)
    assert gate.version > seen


async def test_a_cancelled_call_leaves_the_line_at_once_and_those_behind_it_move_up(clock: ManualClock) -> None:
    gate = DialGate(rate_per_s=1000, max_active=1, clock=clock)
    turns = [gate.ticket(call_id, ALICE) for call_id in (1, 2, 3, 4)]
    seen = gate.version

    gate.leave(3)
    gate.leave(1)  # admitted already: it holds its place until released
    gate.leave(77)  # never in the line

    assert turns[2].cancelled()
    assert not turns[0].cancelled()
    assert gate.ahead() == {2: 0, 4: 1}
    assert gate.version == seen + 1
    gate.release(1)
    assert turns[1].done()
