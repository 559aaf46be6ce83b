"""Incoming calls count against telnyx.max_concurrent_calls as dialed ones do.

The whole service over real HTTP to its simulator, on a ManualClock, with one line. The
simulator holds back chosen events, so a call keeps the line until they are let through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .service import Service, quick_telnyx

StartService = Callable[..., Awaitable[Service]]

NEVER_ANSWERS = "+12025550102"
CALLER = "+353861234567"
BUSY_DETAIL = "rejected: every line was busy (telnyx.max_concurrent_calls=1)"


async def ring_the_joke_line(service: Service) -> str:
    """Someone calls the service's number; returns the simulated call's call_control_id."""
    response = await service.client.post("/simulator/inbound-calls", json={"from": CALLER})
    assert response.status == 201, await response.text()
    return str((await response.json())["data"]["call_control_id"])


async def inbound_calls(service: Service) -> list[dict[str, Any]]:
    listing = await (await service.admin_client.get("/api/calls")).json()
    return [call for call in listing["calls"] if call["direction"] == "inbound"]


async def one_line(start_service: StartService) -> Service:
    return await start_service(telnyx=quick_telnyx(max_concurrent_calls=1))


async def test_an_incoming_call_with_every_line_taken_is_rejected_busy(start_service: StartService) -> None:
    service = await one_line(start_service)
    service.simulator.faults.held_events.add("call.hangup")
    outbound = await service.book(NEVER_ANSWERS, in_s=60)
    service.clock.advance(60)
    await service.settle()

    call_control_id = await ring_the_joke_line(service)
    await service.settle()

    [rejected] = await inbound_calls(service)
    assert rejected["status"] == "busy"
    assert [entry["detail"] for entry in rejected["events"]][-1] == BUSY_DETAIL
    simulated = service.simulator.calls[call_control_id]
    assert (simulated.commands, simulated.state) == (["reject"], "ended")
    assert (await service.call(outbound["id"]))["status"] == "ringing"

    await service.simulator.release("call.hangup")
    assert (await service.run_until_final(outbound["id"]))["status"] == "no_answer"
    answered_id = await ring_the_joke_line(service)
    await service.settle()
    answered = next(call for call in await inbound_calls(service) if call["id"] != rejected["id"])
    assert (await service.run_until_final(answered["id"]))["status"] == "completed"
    assert service.simulator.calls[answered_id].commands == ["answer", "speak", "hangup"]


async def test_an_incoming_call_holds_its_line_until_it_ends(start_service: StartService) -> None:
    service = await one_line(start_service)
    service.simulator.faults.held_events.add("call.speak.ended")
    await ring_the_joke_line(service)
    await service.settle()
    [inbound] = await inbound_calls(service)
    assert (await service.call(inbound["id"]))["status"] == "speaking"

    outbound = await service.book(NEVER_ANSWERS, in_s=60)
    service.clock.advance(60)
    await service.settle()
    assert service.simulator.dialed() == []
    assert (await service.call(outbound["id"]))["status"] == "scheduled"

    await service.simulator.release("call.speak.ended")
    assert (await service.run_until_final(inbound["id"]))["status"] == "completed"
    assert (await service.run_until_final(outbound["id"]))["status"] == "no_answer"
    assert [call.to for call in service.simulator.dialed()] == [NEVER_ANSWERS]
