"""POST /api/calls with an Idempotency-Key: a client that times out and sends the booking again books once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from dialajoke.store import IDEMPOTENCY_KEYS_KEPT_S

from .service import Service, service_config

Client = TestClient[web.Request, web.Application]
KEY = "5f0c7a2e-3b1d-4e8a-9c6f-0d2b4a6e8c1f"


async def post(client: Client, body: dict[str, Any], key: str | None = KEY) -> ClientResponse:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await client.post("/api/calls", json=body, headers=headers)


async def calls_of(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/api/calls")
    assert response.status == 200, await response.text()
    return list((await response.json())["calls"])


async def test_a_retry_answers_with_the_call_already_booked_and_books_nothing(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600)}
    first = await post(service.client, body)
    assert first.status == 201, await first.text()
    booked = await first.json()
    await service.client.delete(f"/api/calls/{booked['id']}")

    again = await post(service.client, {"at": body["at"], "to": body["to"]})

    assert again.status == 200, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    replayed = await again.json()
    assert (replayed["id"], replayed["status"]) == (booked["id"], "cancelled")
    assert "Idempotent-Replayed" not in first.headers
    assert len(await calls_of(service.client)) == 1


async def test_a_retry_after_the_calls_time_has_passed_still_answers_with_its_call(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(60)}
    first = await post(service.client, body)
    assert first.status == 201, await first.text()
    service.clock.advance(120)

    again = await post(service.client, body)

    assert again.status == 200, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == (await first.json())["id"]


async def test_the_same_key_with_another_body_is_refused_even_when_that_body_is_invalid(service: Service) -> None:
    await post(service.client, {"to": "+12025550142", "at": service.iso_in(3600)})

    reused = await post(service.client, {"to": "+12025550142", "at": service.iso_in(-60)})

    assert reused.status == 422
    assert (await reused.json())["type"] == "/problems/idempotency-key-reused"


async def test_retries_sent_at_once_book_one_call(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600)}

    responses = await asyncio.gather(*(post(service.client, body) for _ in range(5)))

    assert sorted(response.status for response in responses) == [200, 200, 200, 200, 201]
    assert len({(await response.json())["id"] for response in responses}) == 1
    assert len(await calls_of(service.client)) == 1
    assert len([call for call in await calls_of(service.admin_client) if call["to"] == "+12025550142"]) == 1


async def test_the_same_key_with_another_body_is_refused(service: Service) -> None:
    await post(service.client, {"to": "+12025550142", "at": service.iso_in(3600)})

    reused = await post(service.client, {"to": "+12025550143", "at": service.iso_in(3600)})

    assert reused.status == 422
    problem = await reused.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert KEY in problem["detail"]
    assert [call["to"] for call in await calls_of(service.client)] == ["+12025550142"]


async def test_another_users_same_key_books_their_own_call(service: Service) -> None:
    await service.add_user("bob")
    bob = await service.new_client(await service.add_key("bob"))
    body = {"to": "+12025550142", "at": service.iso_in(3600)}
    alices = await post(service.client, body)

    bobs = await post(bob, body)

    assert (alices.status, bobs.status) == (201, 201)
    assert (await alices.json())["id"] != (await bobs.json())["id"]
    assert len(await calls_of(bob)) == 1


async def test_a_key_books_anew_once_its_day_is_over(service: Service) -> None:
    first = await post(service.client, {"to": "+12025550142", "at": service.iso_in(2 * 86400)})
    service.clock.advance(IDEMPOTENCY_KEYS_KEPT_S + 1)

    again = await post(service.client, {"to": "+12025550143", "at": service.iso_in(86400)})

    assert again.status == 201, await again.text()
    assert (await again.json())["id"] != (await first.json())["id"]


async def test_a_refused_booking_leaves_its_key_free(service: Service) -> None:
    refused = await post(service.client, {"to": "+442079460958", "at": service.iso_in(3600)})
    assert refused.status == 422
    assert (await refused.json())["type"] == "/problems/destination-not-allowed"

    booked = await post(service.client, {"to": "+12025550142", "at": service.iso_in(3600)})

    assert booked.status == 201, await booked.text()


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\tinside"], ids=["empty", "too-long", "control-character"])
async def test_a_key_no_client_should_send_is_refused_and_books_nothing(service: Service, key: str) -> None:
    response = await post(service.client, {"to": "+12025550142", "at": service.iso_in(3600)}, key=key)

    assert response.status == 400
    assert "Idempotency-Key" in (await response.json())["detail"]
    assert await calls_of(service.client) == []


async def test_the_longest_key_allowed_books(service: Service) -> None:
    response = await post(service.client, {"to": "+12025550142", "at": service.iso_in(3600)}, key="~" * 255)

    assert response.status == 201, await response.text()


async def test_a_key_outlives_a_restart(start_service: Callable[..., Awaitable[Service]], database: Path) -> None:
    first = await start_service(service_config(database))
    body = {"to": "+12025550142", "at": first.iso_in(3600)}
    booked = await (await post(first.client, body)).json()
    await first.stop()

    second = await start_service(service_config(database))
    again = await post(second.client, body)

    assert again.status == 200, await again.text()
    assert (await again.json())["id"] == booked["id"]
