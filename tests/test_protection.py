"""What protects the people the service rings, over HTTP: destinations, calling hours, limits.

The clock starts at 09:00 UTC on Tue 24 Nov 2026: 04:00 in New York, 09:00 in London.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dialajoke.config import ProtectionConfig

from .service import Service

StartService = Callable[..., Awaitable[Service]]
MANHATTAN = "+12125550100"
UK_MOBILE = "+447400123456"
TWO_PAST_TWO_IN_LONDON_S = 17 * 3600 + 5 * 60
"""From the start (09:00 in London), 02:05 the next night there."""
NOON_IN_NEW_YORK_S = 8 * 3600


async def problem_of(service: Service, to: str, in_s: float) -> tuple[int, dict[str, Any]]:
    response = await service.client.post("/api/calls", json={"to": to, "at": service.iso_in(in_s)})
    return response.status, await response.json()


async def test_a_uk_number_is_refused_by_country_with_the_defaults(service: Service) -> None:
    status, problem = await problem_of(service, UK_MOBILE, NOON_IN_NEW_YORK_S)
    assert status == 422
    assert problem["type"] == "/problems/destination-not-allowed"
    assert "calls to +44 numbers in United Kingdom (GB) are not allowed here" in problem["detail"]
    assert "this service calls numbers in US" in problem["detail"]
    assert [error["field"] for error in problem["errors"]] == ["to"]
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("+870301234567", "satellite or international networks"),
        ("+881612345678", "satellite or international networks"),
        ("+8823421234", "satellite or international networks"),
        ("+883510012345", "satellite or international networks"),
    ],
)
async def test_satellite_and_international_networks_are_refused_whatever_the_countries(
    start_service: StartService, number: str, why: str
) -> None:
    service = await start_service(protection=ProtectionConfig(allowed_countries=("*",)))
    status, problem = await problem_of(service, number, NOON_IN_NEW_YORK_S)
    assert (status, problem["type"]) == (422, "/problems/destination-not-allowed")
    assert why in problem["detail"]


async def test_a_premium_rate_number_is_refused(service: Service) -> None:
    status, problem = await problem_of(service, "+19002345678", NOON_IN_NEW_YORK_S)
    assert (status, problem["type"]) == (400, "/problems/invalid-request")
    assert "premium-rate" in problem["errors"][0]["detail"]


async def test_a_uk_mobile_at_two_in_the_morning_london_time_is_refused_with_the_next_allowed_time(
    start_service: StartService,
) -> None:
    service = await start_service(
        protection=ProtectionConfig(allowed_countries=("GB", "US"), calling_hours_on_simulator=True)
    )
    response = await service.client.post(
        "/api/calls",
        json={"to": UK_MOBILE, "at": service.iso_in(TWO_PAST_TWO_IN_LONDON_S), "timezone": "America/Chicago"},
    )
    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "/problems/calling-hours"
    assert "it is 02:05 on Wed 25 Nov in Europe/London" in problem["detail"]
    assert (
        "the next allowed time is 09:00 on Wed 25 Nov there (03:00 Wed 25 Nov, America/Chicago, your time)"
        in (problem["detail"])
    )
    assert "protection.calling_hours" in problem["detail"]
    assert [error["field"] for error in problem["errors"]] == ["at"]
    accepted = await service.book(UK_MOBILE, in_s=TWO_PAST_TWO_IN_LONDON_S + 7 * 3600)
    assert accepted["status"] == "scheduled"


async def test_on_the_simulator_a_booking_outside_calling_hours_is_taken_with_a_note(service: Service) -> None:
    call = await service.book(MANHATTAN, in_s=60)
    [booked] = call["events"]
    assert "outside calling hours" in booked["detail"]
    assert "04:01 on Tue 24 Nov in America/New_York" in booked["detail"]
    assert "live mode would refuse it" in booked["detail"]


async def test_inside_calling_hours_a_booking_has_no_note(service: Service) -> None:
    call = await service.book(MANHATTAN, in_s=NOON_IN_NEW_YORK_S)
    assert "outside calling hours" not in call["events"][0]["detail"]


async def test_the_form_shows_the_refusal_beside_the_time(start_service: StartService) -> None:
    service = await start_service(protection=ProtectionConfig(calling_hours_on_simulator=True))
    form = {"to": MANHATTAN, "date": "2026-11-24", "time": "21:30", "timezone": "America/New_York"}
    response = await service.post_form("/", form)
    assert response.status == 422
    page = await response.text()
    assert 'id="time-error"' in page
    assert "calls may ring only 09:00-20:00 on the callee&#39;s clock" in page
    assert "the next allowed time is 09:00 on Wed 25 Nov there" in page


async def test_the_form_shows_a_refused_number_beside_the_number(service: Service) -> None:
    form = {"to": UK_MOBILE, "date": "2026-11-24", "time": "12:00", "timezone": "America/New_York"}
    response = await service.post_form("/", form)
    assert response.status == 422
    page = await response.text()
    assert 'id="to-error"' in page
    assert "calls to +44 numbers in United Kingdom (GB) are not allowed here" in page


@pytest.mark.parametrize(
    ("slug", "title"),
    [
        ("calling-hours", "Outside calling hours"),
        ("destination-not-allowed", "Number not allowed"),
        ("do-not-call", "Number on the do-not-call list"),
        ("limit-reached", "Limit reached"),
        ("too-many-bookings", "Too many bookings"),
    ],
)
async def test_each_refusal_has_a_page_that_explains_it(service: Service, slug: str, title: str) -> None:
    response = await service.anonymous.get(f"/problems/{slug}")
    assert response.status == 200
    assert title in await response.text()
