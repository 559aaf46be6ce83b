"""The schedule lives on disk: a restart loses no call and rings none twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from dialajoke.models import Call, CallStatus
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .service import Service, quick_telnyx, service_config


async def interrupt_dial(database: Path, clock: ManualClock, call_id: int) -> Call:
    """As if the process died after committing 'dialing' and before Telnyx answered."""
    store = await SqliteCallStore.open(database, clock)
    try:
        interrupted = await store.move(call_id, CallStatus.DIALING, "dialing")
    finally:
        await store.close()
    assert interrupted is not None
    return interrupted


async def a_call_interrupted_while_dialing(
    start_service: Callable[..., Awaitable[Service]], database: Path, clock: ManualClock
) -> Call:
    """A call to +12025550142 booked, then the service stopped, as if it died while dialing it."""
    first = await start_service(service_config(database))
    booked = await first.book("+12025550142", in_s=60)
    await first.stop()
    return await interrupt_dial(database, clock, booked["id"])


async def test_calls_pending_at_a_restart_still_ring_once(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    first = await start_service(service_config(database))
    soon = await first.book("+12025550142", in_s=60)
    later = await first.book("+12025550143", in_s=3600)
    cancelled = await first.book("+12025550144", in_s=60)
    await first.client.delete(f"/api/calls/{cancelled['id']}")
    await first.stop()

    second = await start_service(service_config(database))
    info = await (await second.admin_client.get("/info")).json()
    assert info["pending_calls"] == 2

    assert (await second.run_until_final(soon["id"], advance_s=60))["status"] == "completed"
    assert (await second.call(later["id"]))["status"] == "scheduled"
    assert (await second.run_until_final(later["id"], advance_s=3600))["status"] == "completed"
    assert (await second.call(cancelled["id"]))["status"] == "cancelled"
    assert sorted(call.to for call in second.simulator.dialed()) == ["+12025550142", "+12025550143"]


async def test_a_call_due_while_the_service_was_down_rings_at_start(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    first = await start_service(service_config(database))
    booked = await first.book("+12025550142", in_s=60)
    await first.stop()
    first.clock.advance(120)

    second = await start_service(service_config(database))

    assert (await second.run_until_final(booked["id"]))["status"] == "completed"


async def test_a_call_due_longer_ago_than_the_grace_is_marked_missed(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    first = await start_service(service_config(database))
    late = await first.book("+12025550142", in_s=60)
    on_time = await first.book("+12025550143", in_s=400)
    await first.stop()
    first.clock.advance(60 + 301)

    second = await start_service(service_config(database))

    missed = await second.call(late["id"])
    assert missed["status"] == "missed"
    assert "misfire_grace_s=300" in missed["events"][-1]["detail"]
    assert (await second.run_until_final(on_time["id"], advance_s=40))["status"] == "completed"
    assert [call.to for call in second.simulator.dialed()] == ["+12025550143"]


async def test_a_call_interrupted_while_dialing_is_dialed_again_with_the_same_command_id(
    start_service: Callable[..., Awaitable[Service]], database: Path, clock: ManualClock
) -> None:
    interrupted = await a_call_interrupted_while_dialing(start_service, database, clock)

    second = await start_service(service_config(database))
    call = await second.run_until_final(interrupted.id)

    assert call["status"] == "completed"
    [placed] = second.simulator.dialed()
    assert placed.command_id == f"{interrupted.ref}:dial"
    assert "dialing again after a restart, with the same command_id" in [event["detail"] for event in call["events"]]


async def test_a_call_interrupted_while_dialing_is_not_dialed_again_once_its_number_opted_out(
    start_service: Callable[..., Awaitable[Service]], database: Path, clock: ManualClock
) -> None:
    interrupted = await a_call_interrupted_while_dialing(start_service, database, clock)
    store = await SqliteCallStore.open(database, clock)
    try:
        await store.add_to_do_not_call("+12025550142", added_by="the command line")
    finally:
        await store.close()

    second = await start_service(service_config(database))
    call = await second.run_until_final(interrupted.id)

    assert call["status"] == "cancelled"
    assert "do-not-call list" in call["events"][-1]["detail"]
    assert second.simulator.dialed() == []


async def test_a_call_in_progress_at_a_restart_is_still_ended_by_its_webhooks_or_by_silence(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    first = await start_service(service_config(database, telnyx=quick_telnyx(max_concurrent_calls=1)))
    first.simulator.faults.dropped_events.add("call.hangup")
    stuck = await first.book("+12025550142", in_s=60)
    first.clock.advance(60)
    await first.settle()
    assert (await first.call(stuck["id"]))["status"] == "speaking"
    await first.stop()

    second = await start_service(service_config(database, telnyx=quick_telnyx(max_concurrent_calls=1)))
    waiting = await second.book("+12025550143", in_s=60)
    second.clock.advance(60)
    await second.settle()
    assert (await second.call(waiting["id"]))["status"] == "scheduled"

    ended = await second.run_until_final(stuck["id"], advance_s=300)

    assert (ended["status"], ended["events"][-1]["detail"]) == ("failed", "no events for 300 s")
    assert (await second.run_until_final(waiting["id"]))["status"] == "completed"


async def test_a_call_interrupted_while_dialing_long_ago_is_missed_not_rung(
    start_service: Callable[..., Awaitable[Service]], database: Path, clock: ManualClock
) -> None:
    interrupted = await a_call_interrupted_while_dialing(start_service, database, clock)
    clock.advance(60 + 301)

    second = await start_service(service_config(database))
    call = await second.call(interrupted.id)

    assert call["status"] == "missed"
    assert "interrupted" in call["events"][-1]["detail"]
    assert second.simulator.dialed() == []


async def test_stopping_turns_away_calls_waiting_for_a_place_and_keeps_them_scheduled(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    config = service_config(database, telnyx=quick_telnyx(max_concurrent_calls=1))
    first = await start_service(config)
    first.simulator.faults.dropped_events.add("call.hangup")
    busy = await first.book("+12025550142", in_s=60)
    waiting = await first.book("+12025550143", in_s=61)
    first.clock.advance(61)
    await first.settle()
    assert (await first.call(waiting["id"]))["status"] == "scheduled"

    await asyncio.wait_for(first.stop(), 5)

    second = await start_service(service_config(database, telnyx=quick_telnyx(max_concurrent_calls=1)))
    assert (await second.call(waiting["id"]))["status"] == "scheduled"
    assert (await second.run_until_final(busy["id"], advance_s=300))["status"] == "failed"
    assert (await second.run_until_final(waiting["id"]))["status"] == "completed"


async def test_an_interrupted_dial_kept_waiting_for_a_place_past_the_window_is_missed(
    start_service: Callable[..., Awaitable[Service]], database: Path, clock: ManualClock
) -> None:
    one_at_a_time = quick_telnyx(max_concurrent_calls=1)
    first = await start_service(service_config(database, telnyx=one_at_a_time))
    first.simulator.faults.dropped_events.add("call.hangup")
    stuck = await first.book("+12025550142", in_s=60)
    interrupted = await first.book("+12025550143", in_s=3600)
    first.clock.advance(60)
    await first.settle()
    await first.stop()
    await interrupt_dial(database, clock, interrupted["id"])

    second = await start_service(service_config(database, telnyx=one_at_a_time))
    await second.run_until_final(stuck["id"], advance_s=300)
    call = await second.run_until_final(interrupted["id"])

    assert call["status"] == "missed"
    assert "too long for Telnyx to recognise a repeat" in call["events"][-1]["detail"]
    assert second.simulator.dialed() == []
