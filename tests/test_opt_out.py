"""Whoever hears a joke may press 9 never to be called again."""

from __future__ import annotations

from dialajoke.calls.jokes import MAX_SPEAK_CHARS
from dialajoke.calls.opt_out import INBOUND_OFFER, OUTBOUND_OFFER, fit_joke, with_offer
from dialajoke.models import Direction

from .service import Service

CALLER = "+353861234567"


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
