"""The rules checked again at the moment of dialing: a call booked within them may have left them since."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dialajoke.config import ProtectionConfig

from .service import Service, quick_telnyx, service_config

NEW_YORK = ZoneInfo("America/New_York")
NEVER_ANSWERS = "+12025550102"
MANHATTAN = "+12125550100"


def at_new_york(clock_time: str) -> float:
    """That wall time in New York on the day of the tests' clock (2026-11-24, EST)."""
    hours, minutes = (int(part) for part in clock_time.split(":"))
    return datetime(2026, 11, 24, hours, minutes, tzinfo=NEW_YORK).timestamp()


async def test_a_call_pushed_past_the_calling_hours_by_a_backlog_is_not_dialed_and_ends_missed(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    config = service_config(
        database,
        telnyx=quick_telnyx(max_concurrent_calls=1),
        protection=ProtectionConfig(calling_hours_on_simulator=True),
    )
    service = await start_service(config)
    service.clock.advance(at_new_york("19:55") - service.clock.time())
    service.simulator.faults.held_events.add("call.hangup")
    holding_the_line = await service.book(NEVER_ANSWERS, in_s=60)
    pushed_back = await service.book(MANHATTAN, in_s=120)
    service.clock.advance(120)
    await service.settle()
    assert (await service.call(pushed_back["id"]))["status"] == "scheduled", "it waits for the one line"

    service.clock.advance(at_new_york("20:01") - service.clock.time())
    await service.simulator.release("call.hangup")
    missed = await service.run_until_final(pushed_back["id"])

    assert (await service.call(holding_the_line["id"]))["status"] == "no_answer"
    assert missed["status"] == "missed"
    assert "not dialed" in missed["events"][-1]["detail"]
    assert "20:01" in missed["events"][-1]["detail"]
    assert "America/New_York" in missed["events"][-1]["detail"]
    assert service.simulator.dialed(MANHATTAN) == []


async def test_on_the_simulator_the_calling_hours_hold_back_no_dial_unless_asked_to(service: Service) -> None:
    service.clock.advance(at_new_york("23:00") - service.clock.time())
    late = await service.book(MANHATTAN, in_s=60)

    ended = await service.run_until_final(late["id"], advance_s=60)

    assert ended["status"] == "completed"


async def test_once_the_days_calls_are_dialed_a_due_call_ends_missed(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    unlimited = await start_service(service_config(database, protection=ProtectionConfig(max_calls_per_day=0)))
    first = await unlimited.book("+12125550101", in_s=60)
    second = await unlimited.book("+12125550102", in_s=60)
    await asyncio.wait_for(unlimited.stop(), 5)

    capped = await start_service(service_config(database, protection=ProtectionConfig(max_calls_per_day=1)))
    capped.clock.advance(60)
    ended = [await capped.run_until_final(call["id"]) for call in (first, second)]

    assert sorted(call["status"] for call in ended) == ["completed", "missed"]
    missed = next(call for call in ended if call["status"] == "missed")
    assert "limit of 1 calls in 24 hours" in missed["events"][-1]["detail"]
    assert len(capped.simulator.dialed()) == 1


async def test_a_call_to_a_country_no_longer_allowed_is_not_dialed(
    start_service: Callable[..., Awaitable[Service]], database: Path
) -> None:
    uk_mobile = "+447400123456"
    wider = await start_service(
        service_config(database, protection=ProtectionConfig(allowed_countries=("US", "GB"), calling_hours=""))
    )
    booked = await wider.book(uk_mobile, in_s=60)
    await asyncio.wait_for(wider.stop(), 5)

    narrower = await start_service(service_config(database, protection=ProtectionConfig(calling_hours="")))
    missed = await narrower.run_until_final(booked["id"], advance_s=60)

    assert missed["status"] == "missed"
    assert "not dialed: calls to +44 numbers" in missed["events"][-1]["detail"]
    assert narrower.simulator.dialed() == []
