"""The schedule lives on disk: a restart loses no call and rings none twice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from .service import Service, service_config


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
    info = await (await second.client.get("/info")).json()
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
