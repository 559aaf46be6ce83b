"""A call's whole life, through the real HTTP service and the embedded simulator."""

from __future__ import annotations

import pytest

from .service import Service, spoken


async def test_api_booking_rings_at_its_time_and_tells_the_joke(service: Service) -> None:
    booked = await service.book("+12025550142", in_s=60)
    assert booked["status"] == "scheduled"

    service.clock.advance(59)
    await service.settle()
    assert service.simulator.dialed() == []

    call = await service.run_until_final(booked["id"], advance_s=1)

    assert call["status"] == "completed"
    assert call["joke"]
    [simulated] = service.simulator.dialed("+12025550142")
    assert simulated.heard == [spoken(call)]
    assert simulated.commands == ["speak", "hangup"]
    statuses = [event["status"] for event in call["events"]]
    assert statuses[:5] == ["scheduled", "dialing", "ringing", "answered", "speaking"]
    assert statuses[-1] == "completed"
    assert call["hangup_cause"] == "normal_clearing"


async def test_form_booking_redirects_then_the_page_shows_the_joke(service: Service) -> None:
    response = await service.post_form(
        "/", {"to": "+1 202 555 0142", "date": "2026-11-24", "time": "10:30", "timezone": "Europe/Dublin"}
    )
    assert response.status == 303
    assert response.headers["Location"] == "/?booked=1"

    call = await service.run_until_final(1, advance_s=90 * 60)

    assert call["to"] == "+12025550142"
    assert call["at"] == "2026-11-24T10:30:00+00:00"
    assert call["status"] == "completed"
    page = await (await service.pages.get("/")).text()
    assert call["joke"] in page.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


@pytest.mark.parametrize(
    ("number", "status", "cause"),
    [
        ("+12025550101", "busy", "user_busy"),
        ("+12025550102", "no_answer", "timeout"),
        ("+12025550103", "failed", "not_found"),
    ],
)
async def test_calls_that_are_not_answered_end_with_why(service: Service, number: str, status: str, cause: str) -> None:
    booked = await service.book(number)

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert (call["status"], call["hangup_cause"]) == (status, cause)
    assert call["joke"] is None
    assert len(service.simulator.dialed(number)) == 1


async def test_a_dial_refused_by_telnyx_fails_with_its_reason(service: Service) -> None:
    booked = await service.book("+12025550105")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "failed"
    assert "Invalid phone number" in call["events"][-1]["detail"]


async def test_a_callee_who_hangs_up_mid_joke_is_a_completed_call(service: Service) -> None:
    booked = await service.book("+12025550104")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    [simulated] = service.simulator.dialed()
    assert "hangup" not in simulated.commands
    assert any("cut short" in event["detail"] for event in call["events"])


async def test_someone_ringing_the_joke_line_hears_a_joke(service: Service) -> None:
    response = await service.client.post("/simulator/inbound-calls", json={"from": "+353861234567"})
    assert response.status == 201
    await service.settle()

    listing = await (await service.admin_client.get("/api/calls")).json()
    [call] = listing["calls"]
    call = await service.run_until_final(call["id"])

    assert (call["direction"], call["from"], call["status"]) == ("inbound", "+353861234567", "completed")
    [simulated] = service.simulator.calls.values()
    assert simulated.heard == [spoken(call)]
    assert simulated.commands == ["answer", "speak", "hangup"]
