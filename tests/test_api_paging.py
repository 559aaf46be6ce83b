"""Paging through GET /api/calls: a cursor in the next link, filters kept from page to page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dialajoke import keys
from dialajoke.models import CallStatus, Direction

from .service import PASSWORD, START, Service

STARTED = datetime.fromtimestamp(START, UTC)
Client = TestClient[web.Request, web.Application]


async def stored_calls(
    service: Service, count: int, owner_id: int, status: CallStatus = CallStatus.COMPLETED, from_minute: int = 0
) -> None:
    """``count`` calls of ``owner_id``, three to each due minute from ``from_minute``, so that the id breaks ties."""
    for index in range(count):
        await service.app[keys.STORE].add_call(
            direction=Direction.OUTBOUND,
            to="+12025550142",
            from_="+13125550100",
            at=STARTED + timedelta(minutes=from_minute + index // 3),
            timezone="UTC",
            status=status,
            detail="booked",
            owner_id=owner_id,
        )


async def every_page(client: Client, path: str) -> list[dict[str, Any]]:
    """Each page's body, following ``next`` from ``path`` to the last page."""
    pages = []
    url: str | None = path
    while url is not None:
        response = await client.get(url)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert response.headers.get("Link") == (f'<{body["next"]}>; rel="next"' if body["next"] else None)
        pages.append(body)
        url = body["next"]
        assert len(pages) <= 20, "the next links go round in a circle"
    return pages


def ids(pages: list[dict[str, Any]]) -> list[int]:
    return [call["id"] for page in pages for call in page["calls"]]


def newest_first(calls: list[dict[str, Any]]) -> list[int]:
    return [call["id"] for call in sorted(calls, key=lambda call: (call["at"], call["id"]), reverse=True)]


async def test_paging_through_120_calls_visits_each_once_newest_first(service: Service) -> None:
    await stored_calls(service, 120, service.user.id)

    pages = await every_page(service.client, "/api/calls?limit=50")

    assert [len(page["calls"]) for page in pages] == [50, 50, 20]
    assert pages[-1]["next"] is None
    every_call = [call for page in pages for call in page["calls"]]
    assert len(set(ids(pages))) == 120
    assert ids(pages) == newest_first(every_call)


async def test_calls_booked_between_pages_move_no_call_from_one_page_to_the_next(service: Service) -> None:
    await stored_calls(service, 6, service.user.id)
    first = await (await service.client.get("/api/calls?limit=3")).json()

    await stored_calls(service, 3, service.user.id, from_minute=5)
    rest = await every_page(service.client, first["next"])

    assert [call["at"] for call in first["calls"]] == [(STARTED + timedelta(minutes=1)).isoformat()] * 3
    assert [call["at"] for call in rest[0]["calls"]] == [STARTED.isoformat()] * 3
    assert len(set(ids([first, *rest]))) == 6


async def test_filters_combine_with_paging_and_stay_in_the_next_link(service: Service) -> None:
    await stored_calls(service, 30, service.user.id, CallStatus.COMPLETED)
    await stored_calls(service, 30, service.user.id, CallStatus.CANCELLED)
    await stored_calls(service, 30, service.user.id, CallStatus.MISSED)
    since, until = STARTED + timedelta(minutes=2), STARTED + timedelta(minutes=7)
    query = urlencode({"limit": 4, "status": "completed,missed", "from": since.isoformat(), "until": until.isoformat()})

    pages = await every_page(service.client, f"/api/calls?{query}")

    every_call = [call for page in pages for call in page["calls"]]
    assert {call["status"] for call in every_call} == {"completed", "missed"}
    assert {call["at"] for call in every_call} == {(since + timedelta(minutes=n)).isoformat() for n in range(5)}
    assert len(every_call) == 2 * 5 * 3
    assert ids(pages) == newest_first(every_call)
    next_query = parse_qs(urlsplit(pages[0]["next"]).query)
    assert (next_query["status"], next_query["limit"]) == (["completed,missed"], ["4"])
    assert next_query["from"] == [since.isoformat()]


async def test_a_user_never_pages_into_another_users_calls(service: Service) -> None:
    bob = await service.add_user("bob", PASSWORD)
    await stored_calls(service, 12, service.user.id)
    await stored_calls(service, 12, bob.id)
    bobs_pages = await every_page(service.admin_client, "/api/calls?owner=bob&limit=5")

    alices_pages = await every_page(service.client, "/api/calls?limit=5")
    from_bobs_cursor = await every_page(service.client, bobs_pages[0]["next"].replace("owner=bob&", ""))

    assert {call["owner_id"] for page in bobs_pages for call in page["calls"]} == {bob.id}
    assert len(ids(bobs_pages)) == 12
    assert {call["owner_id"] for page in alices_pages + from_bobs_cursor for call in page["calls"]} == {service.user.id}
    assert len(ids(alices_pages)) == 12


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=nonsense", "cursor"),
        ("cursor=AAAAAAAAAAAAAAAAAAAAAA", "cursor"),
        ("cursor=%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F", "cursor"),
        ("cursor=", "cursor"),
        ("from=yesterday", "from"),
        ("from=2026-11-24T09:00:00", "from"),
        ("until=2026-11-24T09:00:00+01:00", "until"),
        ("from=2026-11-24T10:00:00Z&until=2026-11-24T09:00:00Z", "until"),
    ],
)
async def test_a_bad_cursor_or_time_is_a_400_naming_the_field(service: Service, query: str, field: str) -> None:
    response = await service.client.get(f"/api/calls?{query}")

    assert response.status == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in (await response.json())["errors"]] == [field]


async def test_an_unknown_status_is_named_shortened_in_the_refusal(service: Service) -> None:
    response = await service.client.get("/api/calls", params={"status": "x" * 4000})

    assert response.status == 400
    problem = await response.json()
    [error] = problem["errors"]
    assert error["field"] == "status"
    assert len(error["detail"]) < 200
    assert len(await response.read()) < 2000
