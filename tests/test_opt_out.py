"""Whoever hears a joke may press 9 never to be called again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dialajoke import keys
from dialajoke.calls.jokes import MAX_SPEAK_CHARS
from dialajoke.calls.opt_out import CONFIRMATION, INBOUND_OFFER, OUTBOUND_OFFER, fit_joke, with_offer
from dialajoke.models import CallStatus, Direction
from dialajoke.simulator import core as simulator_core
from dialajoke.store import BookingQuota, OnDoNotCallList
from dialajoke.telnyx.events import TelnyxEvent

from .service import Service, service_config, spoken

CALLER = "+353861234567"
OPTS_OUT = "+12025550106"
"""The simulator's callee who presses 9 in the middle of the joke."""


def test_the_longest_joke_is_cut_so_that_the_offer_still_fits_one_speak() -> None:
    for direction in Direction:
        joke = fit_joke("word " * MAX_SPEAK_CHARS, direction)

        spoken = with_offer(joke, direction)

        assert len(spoken) <= MAX_SPEAK_CHARS
        assert joke.endswith("…")


def test_a_short_joke_is_kept_whole() -> None:
    joke = fit_joke("Why did the\n chicken cross the road?", Direction.OUTBOUND)

    assert joke == "Why did the chicken cross the road?"


async def test_the_callee_hears_the_offer_at_the_end_of_the_joke(service: Service) -> None:
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)

    [simulated] = service.simulator.dialed()
    assert simulated.heard == [f"{call['joke']} {OUTBOUND_OFFER}"]


async def test_a_caller_hears_an_offer_about_their_own_number(service: Service) -> None:
    response = await service.client.post("/simulator/inbound-calls", json={"from": CALLER})
    assert response.status == 201
    await service.settle()
    [call] = (await (await service.admin_client.get("/api/calls")).json())["calls"]

    call = await service.run_until_final(call["id"])

    [simulated] = service.simulator.calls.values()
    assert simulated.heard == [f"{call['joke']} {INBOUND_OFFER}"]


# Pressing 9


async def test_a_callee_who_presses_9_is_never_called_again(service: Service) -> None:
    bob = await service.add_user("bob")
    bobs_client = await service.new_client(await service.add_key(bob.name))
    booked = await service.book(OPTS_OUT, in_s=60)
    response = await bobs_client.post("/api/calls", json={"to": OPTS_OUT, "at": service.iso_in(3600)})
    assert response.status == 201, await response.text()
    bobs = await response.json()

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    assert any(event["detail"].startswith("opted out: the callee pressed 9") for event in call["events"])
    [simulated] = service.simulator.dialed(OPTS_OUT)
    assert simulated.pressed == ["9"]
    assert simulated.heard == [spoken(call)[: len(spoken(call)) // 2], CONFIRMATION]
    assert simulated.commands == ["speak", "speak", "hangup"]
    entry = await service.app[keys.STORE].do_not_call_entry(OPTS_OUT)
    assert entry is not None
    assert (entry.added_by, entry.call_id) == (f"the callee, pressing 9 on call {booked['id']}", booked["id"])
    bobs_call = await service.call(bobs["id"])
    assert bobs_call["status"] == "cancelled"
    assert "do-not-call" in bobs_call["events"][-1]["detail"]


async def test_a_number_that_pressed_9_cannot_be_booked_again(service: Service) -> None:
    booked = await service.book(OPTS_OUT, in_s=60)
    await service.run_until_final(booked["id"], advance_s=60)

    with pytest.raises(OnDoNotCallList):
        await service.app[keys.STORE].add_call(
            direction=Direction.OUTBOUND,
            to=OPTS_OUT,
            from_=service.simulator.number,
            at=datetime.fromtimestamp(service.clock.time() + 60, UTC),
            timezone="UTC",
            status=CallStatus.SCHEDULED,
            detail="scheduled",
            owner_id=service.user.id,
            quota=BookingQuota(),
        )


async def test_a_caller_who_presses_9_puts_their_number_on_the_list(service: Service) -> None:
    call = await ring_in(service, press="9")

    assert call["status"] == "completed"
    assert any(event["detail"].startswith("opted out: the caller pressed 9") for event in call["events"])
    entry = await service.app[keys.STORE].do_not_call_entry(CALLER)
    assert entry is not None
    assert entry.added_by == f"the caller, pressing 9 on call {call['id']}"
    [simulated] = service.simulator.calls.values()
    assert simulated.heard[-1] == CONFIRMATION


async def test_a_second_9_changes_nothing_more(service: Service) -> None:
    call = await ring_in(service, press="99")

    opt_outs = [event for event in call["events"] if event["detail"].startswith("opted out")]
    assert len(opt_outs) == 1
    [simulated] = service.simulator.calls.values()
    assert simulated.pressed == ["9", "9"]
    assert simulated.commands == ["answer", "speak", "speak", "hangup"]
    assert len(await service.app[keys.STORE].list_do_not_call()) == 1


async def test_any_other_key_does_nothing(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator_core, "KEY_REACTION_S", 0.0)

    call = await ring_in(service, press="5")

    assert call["status"] == "completed"
    assert not any(event["detail"].startswith("opted out") for event in call["events"])
    [simulated] = service.simulator.calls.values()
    assert simulated.heard == [spoken(call)]
    assert await service.app[keys.STORE].do_not_call_entry(CALLER) is None


async def test_the_list_outlives_a_restart(start_service: Callable[..., Awaitable[Service]], database: Path) -> None:
    first = await start_service(service_config(database))
    booked = await first.book(OPTS_OUT, in_s=60)
    await first.run_until_final(booked["id"], advance_s=60)
    await first.stop()

    second = await start_service(service_config(database))

    entry = await second.app[keys.STORE].do_not_call_entry(OPTS_OUT)
    assert entry is not None
    assert entry.call_id == booked["id"]


async def ring_in(service: Service, press: str) -> dict[str, Any]:
    """Someone rings the joke line and presses ``press`` during the joke; the call, once it has ended."""
    response = await service.client.post("/simulator/inbound-calls", json={"from": CALLER, "press": press})
    assert response.status == 201, await response.text()
    await service.settle()
    [call] = (await (await service.admin_client.get("/api/calls")).json())["calls"]
    return await service.run_until_final(call["id"])


async def test_a_9_that_reaches_the_service_after_the_hangup_still_lists_the_number(service: Service) -> None:
    """Webhooks come in any order: "press 9, hang up" may be processed hangup first."""
    booked = await service.book("+12025550142")
    assert (await service.run_until_final(booked["id"], advance_s=60))["status"] == "completed"
    store = service.app[keys.STORE]
    call = await store.get_call(booked["id"])
    assert call is not None
    late_key = TelnyxEvent(
        id="late-9", event_type="call.dtmf.received", call_control_id=call.call_control_id, digit="9"
    )

    await service.app[keys.CALL_CONTROL].handle(late_key)

    assert await store.do_not_call_entry("+12025550142") is not None
    spoken_after = [command for command in service.simulator.dialed("+12025550142")[0].commands if command == "speak"]
    assert len(spoken_after) == 1, "no confirmation is spoken to a call that has ended"
