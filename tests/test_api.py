"""The JSON API: book, list, inspect, cancel; and its answers to bad requests."""

from __future__ import annotations

from typing import Any

import pytest

from .service import Service
from .test_openapi import assert_answers_as_documented


async def test_booking_answers_201_with_the_call_and_where_it_lives(service: Service) -> None:
    response = await service.client.post(
        "/api/calls", json={"to": "+1 (202) 555-0142", "at": "2026-11-24T11:00:00+01:00", "timezone": "Europe/Paris"}
    )

    assert response.status == 201
    call = await response.json()
    assert response.headers["Location"] == f"/api/calls/{call['id']}"
    assert {key: call[key] for key in ("to", "at", "timezone", "status", "joke")} == {
        "to": "+12025550142",
        "at": "2026-11-24T10:00:00+00:00",
        "timezone": "Europe/Paris",
        "status": "scheduled",
        "joke": None,
    }
    assert [event["status"] for event in call["events"]] == ["scheduled"]
    assert await service.call(call["id"]) == call


async def test_invalid_fields_are_each_named_in_one_problem(service: Service) -> None:
    response = await service.client.post("/api/calls", json={"to": "12", "at": "2026-11-24T08:00:00"})

    assert response.status == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = await response.json()
    assert problem["type"] == "/problems/invalid-request"
    assert problem["status"] == 400
    fields = {error["field"]: error["detail"] for error in problem["errors"]}
    assert set(fields) == {"to", "at"}
    assert "offset" in fields["at"]
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


async def test_an_unknown_field_is_refused_by_name_and_books_nothing(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600), "callback/url~": "https://example.com"}

    response = await service.client.post("/api/calls", json=body)

    assert response.status == 400
    [error] = (await response.json())["errors"]
    assert (error["field"], error["pointer"]) == ("callback/url~", "#/callback~1url~0")
    assert "unknown field" in error["detail"]
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


SMALL_ANSWER_BYTES = 4096
"""The most an error answer may weigh, however large the request that earned it."""


async def refusal_of(service: Service, body: dict[str, Any]) -> dict[str, str]:
    """The 400 answer's errors, field to detail, once the answer is found small and as documented."""
    response = await service.client.post("/api/calls", json=body)

    assert response.status == 400
    assert len(await response.read()) < SMALL_ANSWER_BYTES
    await assert_answers_as_documented(response, "/api/calls", "post")
    return {error["field"]: error["detail"] for error in (await response.json())["errors"]}


async def test_thousands_of_unknown_fields_get_a_small_answer_naming_the_first_and_counting_the_rest(
    service: Service,
) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600), **{f"k{number:04}": 1 for number in range(5000)}}

    errors = await refusal_of(service, body)

    assert list(errors)[:10] == [f"k{number:04}" for number in range(10)]
    assert "4,990 more unknown fields" in errors[""]


async def test_a_huge_unknown_field_name_gets_a_small_answer_naming_its_start(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600), "callback" * 7500: 1}

    [(field, detail)] = (await refusal_of(service, body)).items()

    assert field.startswith("callbackcallback")
    assert "unknown field" in detail


async def test_a_huge_timezone_gets_a_small_answer_on_timezone(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600), "timezone": "Europe/" + "x" * 60_000}

    errors = await refusal_of(service, body)

    assert list(errors) == ["timezone"]
    assert "not a time zone" in errors["timezone"]


@pytest.mark.parametrize(
    ("at_offset_s", "why"),
    [(-1, "passed"), (31 * 24 * 3600, "30 days")],
)
async def test_times_outside_the_booking_window_are_refused(service: Service, at_offset_s: int, why: str) -> None:
    response = await service.client.post("/api/calls", json={"to": "+12025550142", "at": service.iso_in(at_offset_s)})

    assert response.status == 400
    [error] = (await response.json())["errors"]
    assert error["field"] == "at"
    assert why in error["detail"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "slug"),
    [
        (b'{"to": ', "application/json", 400, "malformed-json"),
        (b"\xff\xfe", "application/json", 400, "malformed-json"),
        (b"to=+12025550142", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        (b"[]", "application/json", 400, "invalid-request"),
        (b'"just a string"', "application/json", 400, "invalid-request"),
        (b'{"to": 12025550142, "at": 5}', "application/json", 400, "invalid-request"),
    ],
)
async def test_bodies_that_are_not_a_call_request_get_a_problem(
    service: Service, body: bytes, content_type: str, status: int, slug: str
) -> None:
    response = await service.client.post("/api/calls", data=body, headers={"Content-Type": content_type})

    assert response.status == status
    assert (await response.json())["type"] == f"/problems/{slug}"


async def test_list_shows_calls_newest_first_and_filters_by_status(service: Service) -> None:
    first = await service.book("+12025550142", in_s=60)
    second = await service.book("+12025550143", in_s=120)
    await service.client.delete(f"/api/calls/{first['id']}")

    everything = await (await service.client.get("/api/calls")).json()
    cancelled = await (await service.client.get("/api/calls?status=cancelled")).json()
    one = await (await service.client.get("/api/calls?limit=1")).json()

    assert [call["id"] for call in everything["calls"]] == [second["id"], first["id"]]
    assert [call["id"] for call in cancelled["calls"]] == [first["id"]]
    assert len(one["calls"]) == 1


@pytest.mark.parametrize("query", ["status=sleeping", "limit=0", "limit=201", "limit=ten"])
async def test_bad_list_filters_are_a_400(service: Service, query: str) -> None:
    response = await service.client.get(f"/api/calls?{query}")

    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == query.split("=")[0]


async def test_cancelling_a_scheduled_call_stops_it_ringing(service: Service) -> None:
    booked = await service.book("+12025550142")

    response = await service.client.delete(f"/api/calls/{booked['id']}")
    service.clock.advance(120)
    await service.settle()

    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    assert (await service.call(booked["id"]))["status"] == "cancelled"
    assert service.simulator.dialed() == []
    info = await (await service.admin_client.get("/info")).json()
    assert info["pending_calls"] == 0


async def test_a_call_already_dialed_cannot_be_cancelled(service: Service) -> None:
    booked = await service.book("+12025550142")
    await service.run_until_final(booked["id"], advance_s=60)

    response = await service.client.delete(f"/api/calls/{booked['id']}")

    assert response.status == 409
    problem = await response.json()
    assert problem["type"] == "/problems/call-not-cancellable"
    assert "completed" in problem["detail"]


@pytest.mark.parametrize("path", ["/api/calls/999", "/api/calls/99999999999999999999"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_unknown_calls_are_a_404(service: Service, method: str, path: str) -> None:
    response = await service.client.request(method, path)

    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")


async def test_health_and_info(service: Service) -> None:
    await service.book("+12025550142")

    health = await service.client.get("/health")
    info: dict[str, Any] = await (await service.admin_client.get("/info")).json()

    assert (health.status, await health.json()) == (200, {"status": "ok"})
    assert info["pending_calls"] == 1
    assert info["webhook_events_in_hand"] == 0
    assert info["telnyx"] == "simulator"
    assert info["uptime_s"] >= 0
    assert info["version"]


async def test_cors_lets_configured_origins_call_the_api(start_service: Any) -> None:
    from dialajoke.config import CorsConfig

    service = await start_service(cors=CorsConfig(origins=("https://jokes.example",)))

    allowed = await service.client.options(
        "/api/calls",
        headers={"Origin": "https://jokes.example", "Access-Control-Request-Method": "POST"},
    )
    other = await service.client.get("/api/calls", headers={"Origin": "https://evil.example"})

    assert allowed.status == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://jokes.example"
    assert "Access-Control-Allow-Origin" not in other.headers
