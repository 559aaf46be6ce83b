"""Users take turns for the lines: one user's backlog holds up another user's call by one turn at most.

The whole service over real HTTP to its simulator, on a ManualClock. The account has one
line; the callee never answers, and the simulator holds back its hangups, so every call
keeps the line until they are let through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dialajoke import keys
from dialajoke.config import ProtectionConfig

from .service import PASSWORD, Service, quick_telnyx

StartService = Callable[..., Awaitable[Service]]

NEVER_ANSWERS = "+12025550102"
BACKLOG = 50
NO_BOOKING_LIMITS = ProtectionConfig(
    max_calls_per_number_per_day=0,
    max_pending_per_number_per_user=0,
    max_pending_per_user=0,
    max_bookings_per_user_per_hour=0,
    admin_max_pending_per_user=0,
    admin_max_bookings_per_user_per_hour=0,
    max_calls_per_day=0,
)
"""These tests book one number fifty times on purpose: the limits that would refuse it are tested elsewhere."""


async def dial_order(service: Service) -> list[int]:
    """The ids of the calls the simulator was asked to dial, in the order the dials arrived."""
    ids_by_dial = {}
    for call_id in range(1, BACKLOG + 10):
        call = await service.app[keys.STORE].get_call(call_id)
        if call is not None:
            ids_by_dial[f"{call.ref}:dial"] = call.id
    return [ids_by_dial[str(dialed.command_id)] for dialed in service.simulator.dialed()]


async def test_another_users_call_is_dialed_at_the_next_free_line_despite_a_backlog_of_fifty(
    start_service: StartService,
) -> None:
    one_line = quick_telnyx(max_concurrent_calls=1, max_dials_per_second=100)  # the rate is not what is tested
    service = await start_service(telnyx=one_line, protection=NO_BOOKING_LIMITS)
    service.simulator.faults.held_events.add("call.hangup")
    bob = await service.add_user("bob", PASSWORD)
    bobs_client = await service.new_client(await service.add_key(bob.name))

    alices = [await service.book(NEVER_ANSWERS, in_s=60) for _ in range(BACKLOG)]
    service.clock.advance(60)
    await service.settle()
    response = await bobs_client.post("/api/calls", json={"to": NEVER_ANSWERS, "at": service.iso_in(30)})
    assert response.status == 201, await response.text()
    bobs = await response.json()
    service.clock.advance(30)
    await service.settle()
    assert await dial_order(service) == [alices[0]["id"]]  # the one line is taken; 49 of alice's calls and bob's wait

    await service.simulator.release("call.hangup")
    await service.run_until_final(alices[-1]["id"])

    order = await dial_order(service)
    assert order[:3] == [alices[0]["id"], bobs["id"], alices[1]["id"]]
    assert order[2:] == [call["id"] for call in alices[1:]]
    statuses = await asyncio.gather(*(service.call(call_id) for call_id in order))
    assert {call["status"] for call in statuses} == {"no_answer"}
