"""Telnyx misbehaves; every accepted call is still placed exactly once and ends right."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from dialajoke.config import CallsConfig

from .service import Service, quick_telnyx, spoken
from .waiting import wait_until

StartService = Callable[..., Awaitable[Service]]


@pytest.mark.parametrize("how", ["500", "503", "429", "disconnect"])
async def test_a_dial_that_fails_in_passing_is_retried_and_placed_once(service: Service, how: str) -> None:
    service.simulator.faults.fail_next(2, how)
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    [placed] = service.simulator.dialed()
    assert placed.heard == [spoken(call)]


async def test_a_dial_answered_too_late_is_retried_with_the_same_command_id(start_service: StartService) -> None:
    service = await start_service(telnyx=quick_telnyx(request_timeout_s=0.2))
    service.simulator.faults.fail_next(1, "timeout")
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    [placed] = service.simulator.dialed()
    assert placed.command_id is not None
    assert placed.command_id.endswith(":dial")


async def test_a_dial_that_keeps_failing_ends_failed_with_the_reason(start_service: StartService) -> None:
    service = await start_service(telnyx=quick_telnyx(max_attempts=3))
    service.simulator.faults.fail_next(3, "503")
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "failed"
    assert "503" in call["events"][-1]["detail"]
    assert "Service unavailable" in call["events"][-1]["detail"]
    assert service.simulator.dialed() == []


async def test_a_speak_that_fails_in_passing_is_retried(service: Service) -> None:
    service.simulator.faults.held_events.add("call.answered")
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    service.simulator.faults.fail_next(1, "500")

    await service.simulator.release("call.answered")
    call = await service.run_until_final(booked["id"])

    assert call["status"] == "completed"
    [placed] = service.simulator.dialed()
    assert placed.heard == [spoken(call)]
    assert not service.simulator.faults.api_failures


async def test_a_speak_whose_answer_was_lost_is_retried_and_the_joke_told_once(service: Service) -> None:
    service.simulator.faults.held_events.add("call.answered")
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    service.simulator.faults.fail_next(1, "disconnect")

    await service.simulator.release("call.answered")
    call = await service.run_until_final(booked["id"])

    assert call["status"] == "completed"
    [placed] = service.simulator.dialed()
    assert placed.heard == [spoken(call)]
    assert placed.commands == ["speak", "hangup"]


async def test_a_speak_whose_answers_were_all_lost_is_not_failed_while_telnyx_speaks(service: Service) -> None:
    service.simulator.faults.held_events.update({"call.answered", "call.speak.ended"})
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    service.simulator.faults.fail_next(service.config.telnyx.max_attempts, "disconnect")

    await service.simulator.release("call.answered")

    async def speak_given_up() -> bool:
        await service.settle()
        return "speak outcome unknown" in (await service.call(booked["id"]))["events"][-1]["detail"]

    await wait_until(speak_given_up, timeout_s=10, what="the speak's retries to run out")
    while_unknown = await service.call(booked["id"])
    await service.simulator.release("call.speak.ended")
    call = await service.run_until_final(booked["id"])

    assert while_unknown["status"] == "speaking"
    assert call["status"] == "completed"
    [placed] = service.simulator.dialed()
    assert placed.heard == [spoken(call)]


async def test_a_call_that_goes_silent_ends_failed(start_service: StartService) -> None:
    service = await start_service(calls=CallsConfig(stale_after_s=300))
    service.simulator.faults.dropped_events.add("call.hangup")
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    assert (await service.call(booked["id"]))["status"] == "speaking"

    call = await service.run_until_final(booked["id"], advance_s=301)

    assert call["status"] == "failed"
    assert call["events"][-1]["detail"] == "no events for 300 s"
    [placed] = service.simulator.dialed()
    await wait_until(lambda: placed.state == "ended", 5, "the silent call to be hung up")
    assert placed.commands[-1] == "hangup"


async def test_no_more_calls_are_in_progress_than_the_cap(start_service: StartService) -> None:
    service = await start_service(telnyx=quick_telnyx(max_concurrent_calls=2))
    numbers = [f"+1202555{n:04d}" for n in range(140, 146)]
    booked = [await service.book(number, in_s=60 + index * 0.001) for index, number in enumerate(numbers)]

    service.clock.advance(61)
    calls = [await service.run_until_final(call["id"]) for call in booked]

    assert {call["status"] for call in calls} == {"completed"}
    assert [placed.to for placed in service.simulator.dialed()] == numbers
    assert service.simulator.most_live == 2


async def test_a_dial_whose_answer_was_lost_is_not_failed_while_telnyx_rings(start_service: StartService) -> None:
    service = await start_service(telnyx=quick_telnyx(max_attempts=3))
    service.simulator.faults.fail_next(1, "disconnect")
    service.simulator.faults.fail_next(2, "503")
    # The callee answers only once the dial has given up: otherwise the speak command the
    # answer triggers could take one of the failures meant for the dial's retries.
    service.simulator.faults.held_events.add("call.answered")
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    await service.simulator.release("call.answered")

    call = await service.run_until_final(booked["id"])

    assert call["status"] == "completed"
    assert any(event["detail"].startswith("dial outcome unknown") for event in call["events"])
    [placed] = service.simulator.dialed()
    assert placed.heard == [spoken(call)]
