"""What protects the people the service rings, over HTTP: destinations, calling hours, limits.

The clock starts at 09:00 UTC on Tue 24 Nov 2026: 04:00 in New York, 09:00 in London.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dialajoke import keys
from dialajoke.config import ProtectionConfig

from .service import Service

StartService = Callable[..., Awaitable[Service]]
MANHATTAN = "+12125550100"
UK_MOBILE = "+447400123456"
TWO_PAST_TWO_IN_LONDON_S = 17 * 3600 + 5 * 60
"""From the start (09:00 in London), 02:05 the next night there."""
NOON_IN_NEW_YORK_S = 8 * 3600


Client = TestClient[web.Request, web.Application]


def number(index: int) -> str:
    """A distinct Chicago number for each index."""
    return f"+1312555{index:04d}"


async def book_as(client: Client, service: Service, to: str, in_s: float = NOON_IN_NEW_YORK_S) -> tuple[int, Any]:
    response = await client.post("/api/calls", json={"to": to, "at": service.iso_in(in_s), "timezone": "UTC"})
    return response.status, await response.json()


async def client_of(service: Service, name: str) -> Client:
    await service.add_user(name)
    return await service.new_client(await service.add_key(name))


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


async def test_a_manhattan_number_is_refused_at_half_past_eight_in_the_evening_and_taken_at_ten_in_the_morning(
    start_service: StartService,
) -> None:
    service = await start_service(protection=ProtectionConfig(calling_hours_on_simulator=True))
    half_past_eight_in_new_york_s = 16 * 3600 + 30 * 60
    ten_next_morning_in_new_york_s = 30 * 3600

    status, problem = await problem_of(service, MANHATTAN, half_past_eight_in_new_york_s)

    assert status == 422
    assert problem["type"] == "/problems/calling-hours"
    assert "it is 20:30 on Tue 24 Nov in America/New_York" in problem["detail"]
    assert (await service.book(MANHATTAN, in_s=ten_next_morning_in_new_york_s))["status"] == "scheduled"


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


async def test_twenty_bookings_of_one_number_for_the_same_second_take_one_per_user_and_three_a_day(
    service: Service,
) -> None:
    answers = await asyncio.gather(*(book_as(service.client, service, MANHATTAN) for _ in range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [422] * 19
    refused = next(problem for status, problem in answers if status == 422)
    assert refused["type"] == "/problems/limit-reached"
    assert "you already have 1 call waiting to ring this number" in refused["detail"]
    assert "protection.max_pending_per_number_per_user = 1" in refused["detail"]
    assert [error["field"] for error in refused["errors"]] == ["to"]

    others = [await client_of(service, name) for name in ("bob", "carol", "dave")]
    answers = [await book_as(client, service, MANHATTAN) for client in others]
    assert [status for status, _ in answers] == [201, 201, 422]
    problem = answers[-1][1]
    assert "this number already has 3 calls within 24 hours of that time, every user's counted" in problem["detail"]
    assert "protection.max_calls_per_number_per_day = 3" in problem["detail"]
    # The three are all due at noon in New York on the 24th: a fourth may ring 24 hours later. The
    # refusal names a day, not the time: those calls may be other users', whose times are theirs.
    assert "book it for Thu 26 Nov (UTC) or later" in problem["detail"]
    assert "17:00" not in problem["detail"]
    assert (await book_as(others[-1], service, MANHATTAN, NOON_IN_NEW_YORK_S + 24 * 3600))[0] == 201


async def test_a_client_hammering_bookings_gets_429_after_thirty_in_the_hour_until_the_hour_has_passed(
    service: Service,
) -> None:
    for index in range(30):
        status, call = await book_as(service.client, service, number(index))
        assert status == 201, call
        # Cancelled at once, so that no other limit than the rate is reached.
        assert (await service.client.delete(f"/api/calls/{call['id']}")).status == 200
    response = await service.client.post(
        "/api/calls", json={"to": number(30), "at": service.iso_in(3600), "timezone": "UTC"}
    )
    assert response.status == 429
    assert response.headers["Retry-After"] == "3600"
    problem = await response.json()
    assert problem["type"] == "/problems/too-many-bookings"
    assert (
        "you booked 30 calls in the last hour (setting protection.max_bookings_per_user_per_hour = 30)"
        in (problem["detail"])
    )
    assert "book again from 10:00 Tue 24 Nov (UTC, your time)" in problem["detail"]

    service.clock.advance(3599)
    assert (await book_as(service.client, service, number(30)))[0] == 429
    service.clock.advance(1)
    assert (await book_as(service.client, service, number(30)))[0] == 201


async def test_the_form_answers_too_many_bookings_with_429_and_the_message_at_the_top(
    start_service: StartService,
) -> None:
    service = await start_service(protection=ProtectionConfig(max_bookings_per_user_per_hour=1))
    form = {"to": MANHATTAN, "date": "2026-11-24", "time": "12:00", "timezone": "America/New_York"}
    assert (await service.post_form("/", form)).status == 303
    response = await service.post_form("/", {**form, "to": number(1)})
    assert response.status == 429
    assert response.headers["Retry-After"] == "3600"
    page = await response.text()
    assert "The call was not booked: you booked 1 call in the last hour" in page


async def test_a_user_may_have_twenty_calls_waiting_and_another_once_one_is_cancelled(service: Service) -> None:
    booked = [(await service.book(number(index)))["id"] for index in range(20)]
    status, problem = await book_as(service.client, service, number(20))
    assert (status, problem["type"]) == (422, "/problems/limit-reached")
    assert (
        "you already have 20 calls waiting to ring (setting protection.max_pending_per_user = 20)"
        in (problem["detail"])
    )
    assert "errors" not in problem
    await service.client.delete(f"/api/calls/{booked[0]}")
    assert (await book_as(service.client, service, number(20)))[0] == 201


async def test_an_admin_has_limits_of_their_own(start_service: StartService) -> None:
    service = await start_service(protection=ProtectionConfig(max_pending_per_user=1, admin_max_pending_per_user=3))
    assert [(await book_as(service.admin_client, service, number(index)))[0] for index in range(4)] == [
        201,
        201,
        201,
        422,
    ]
    _, problem = await book_as(service.admin_client, service, number(4))
    assert "protection.admin_max_pending_per_user = 3" in problem["detail"]
    assert [(await book_as(service.client, service, number(10 + index)))[0] for index in range(2)] == [201, 422]


async def test_the_service_takes_at_most_max_calls_per_day_in_any_24_hours(start_service: StartService) -> None:
    service = await start_service(protection=ProtectionConfig(max_calls_per_day=2))
    bob = await client_of(service, "bob")
    assert (await book_as(service.client, service, number(1)))[0] == 201
    assert (await book_as(bob, service, number(2)))[0] == 201
    status, problem = await book_as(bob, service, number(3))
    assert (status, problem["type"]) == (422, "/problems/limit-reached")
    assert "the service already has 2 calls due in the 24 hours up to that time" in problem["detail"]
    assert "protection.max_calls_per_day = 2" in problem["detail"]
    assert [error["field"] for error in problem["errors"]] == ["at"]
    assert (await book_as(bob, service, number(3), NOON_IN_NEW_YORK_S + 24 * 3600))[0] == 201


async def test_a_number_on_the_do_not_call_list_is_refused(service: Service) -> None:
    await service.app[keys.STORE].add_to_do_not_call(MANHATTAN, added_by="an admin")
    status, problem = await book_as(service.client, service, MANHATTAN)
    assert (status, problem["type"]) == (422, "/problems/do-not-call")
    assert f"the person at {MANHATTAN} asked never to be called" in problem["detail"]
    assert [error["field"] for error in problem["errors"]] == ["to"]


async def test_limits_survive_a_restart(start_service: StartService) -> None:
    first = await start_service()
    assert (await book_as(first.client, first, MANHATTAN))[0] == 201
    await first.stop()
    second = await start_service(first.config)
    status, problem = await book_as(second.client, second, MANHATTAN)
    assert (status, problem["type"]) == (422, "/problems/limit-reached")
    assert "max_pending_per_number_per_user" in problem["detail"]
