"""GET /events: the booking page follows its calls over Server-Sent Events, read here line by line as a browser does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from dialajoke import keys
from dialajoke.store import CallChange
from dialajoke.web import live

from .service import NO_LIMITS, PASSWORD, Service, csrf_token, quick_telnyx, service_config

StartService = Callable[..., Awaitable[Service]]
EVENT_TIMEOUT_S = 10.0
NEVER_ANSWERS = "+12025550102"


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]
    id: str | None


class EventReader:
    """The events of one open stream, parsed as EventSource does (comment lines skipped)."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response

    async def next(self, wanted: Callable[[Event], bool] = lambda _: True) -> Event:
        """The next event ``wanted``; fails if none comes within EVENT_TIMEOUT_S."""
        try:
            async with asyncio.timeout(EVENT_TIMEOUT_S):
                while True:
                    event = await self._read_one()
                    if event is None:
                        raise AssertionError("the stream ended")
                    if wanted(event):
                        return event
        except TimeoutError:
            raise AssertionError(f"no wanted event within {EVENT_TIMEOUT_S} s") from None

    async def ended(self) -> bool:
        """Whether the stream ends (rather than sending another event) within EVENT_TIMEOUT_S."""
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            return await self._read_one() is None

    async def _read_one(self) -> Event | None:
        fields: dict[str, str] = {}
        while True:
            line = await self.response.content.readline()
            if not line:
                return None
            text = line.decode().rstrip("\r\n")
            if not text:
                if "data" in fields:
                    return Event(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id"))
                continue
            if text.startswith(":"):
                continue
            name, _, value = text.partition(": ")
            fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value


async def follow(client: TestClient[Any, Any], query: str = "", **headers: str) -> EventReader:
    response = await client.get(f"/events{query}", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    return EventReader(response)


def about(call: dict[str, Any], status: str | None = None) -> Callable[[Event], bool]:
    return lambda event: event.data["id"] == call["id"] and (status is None or event.data["status"] == status)


async def book_as(service: Service, client: TestClient[Any, Any], to: str) -> dict[str, Any]:
    response = await client.post("/api/calls", json={"to": to, "at": service.iso_in(60)})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def signed_in_page(service: Service, name: str, *, admin: bool = False) -> TestClient[Any, Any]:
    await service.add_user(name, PASSWORD, admin=admin)
    client = await service.new_client()
    await service.sign_in(client, name, PASSWORD)
    return client


async def test_a_users_stream_carries_their_own_calls_changes_and_no_one_elses(service: Service) -> None:
    stream = await follow(service.pages)
    bobs_page = await signed_in_page(service, "bob")
    bobs = await follow(bobs_page)
    await service.add_user("carol", PASSWORD)
    carols_key = await service.add_key("carol")
    carols_client = await service.new_client(carols_key)
    carols = await (
        await carols_client.post("/api/calls", json={"to": "+12025550142", "at": service.iso_in(60)})
    ).json()
    mine = await service.book("+12025550142")

    booked = await stream.next()
    assert booked.data["id"] == mine["id"]
    assert booked.event == "call"
    assert booked.data["status"] == "scheduled"
    assert booked.data["section"] == "upcoming"
    assert f'id="call-{mine["id"]}"' in booked.data["html"]
    assert booked.data["announce"] == f"Call {mine['id']} to +1 202-555-0142: scheduled"
    assert booked.id is not None

    await service.client.delete(f"/api/calls/{mine['id']}")
    cancelled = await stream.next()
    assert (cancelled.data["id"], cancelled.data["status"], cancelled.data["section"]) == (
        mine["id"],
        "cancelled",
        "recent",
    )
    assert cancelled.id is not None
    assert int(cancelled.id) > int(booked.id)
    await carols_client.delete(f"/api/calls/{carols['id']}")
    bobs_client = await service.new_client(await service.add_key("bob"))
    bobs_call = await (
        await bobs_client.post("/api/calls", json={"to": "+12025550143", "at": service.iso_in(60)})
    ).json()
    assert (await bobs.next()).data["id"] == bobs_call["id"]


async def test_an_admin_follows_every_call_or_the_chosen_users(service: Service) -> None:
    await service.add_user("bob", PASSWORD)
    bobs_client = await service.new_client(await service.add_key("bob"))
    admins_page = await signed_in_page(service, "root", admin=True)
    everyone = await follow(admins_page)
    bobs_only = await follow(admins_page, "?owner=bob")

    alices = await service.book("+12025550142")
    bobs = await book_as(service, bobs_client, "+12025550143")

    assert [(await everyone.next()).data["id"] for _ in range(2)] == [alices["id"], bobs["id"]]
    assert (await bobs_only.next()).data["id"] == bobs["id"]


async def test_a_reconnect_with_last_event_id_gets_exactly_the_changes_it_missed(service: Service) -> None:
    stream = await follow(service.pages)
    first = await service.book("+12025550142")
    seen = await stream.next(about(first))
    stream.response.close()
    missed = [await service.book("+12025550143"), await service.book("+12025550144")]
    await service.client.delete(f"/api/calls/{missed[0]['id']}")
    assert seen.id is not None

    again = await follow(service.pages, **{"Last-Event-ID": seen.id})

    # The call booked then cancelled while away comes once, as it is now, and before the other.
    got = [(await again.next()).data for _ in range(2)]
    assert [(call["id"], call["status"]) for call in got] == [
        (missed[1]["id"], "scheduled"),
        (missed[0]["id"], "cancelled"),
    ]
    from_the_page = await follow(service.pages, f"?after={seen.id}")
    assert (await from_the_page.next()).data["id"] == missed[1]["id"]


async def test_the_page_draws_where_its_stream_starts(service: Service) -> None:
    await service.book("+12025550142")
    page = await (await service.pages.get("/")).text()
    after = int(page.split('data-after="', 1)[1].split('"', 1)[0])
    booked_after = await service.book("+12025550143")

    stream = await follow(service.pages, f"?after={after}")

    assert (await stream.next()).data["id"] == booked_after["id"]


async def test_a_change_id_that_is_not_one_is_a_400_problem(service: Service) -> None:
    for query, headers in (
        ("", {"Last-Event-ID": "abc"}),
        ("", {"Last-Event-ID": "-1"}),
        ("", {"Last-Event-ID": "9" * 20}),
        ("?after=1.5", {}),
        ("?after=%00", {}),
    ):
        response = await service.pages.get(f"/events{query}", headers=headers)

        assert response.status == 400, (query, headers)
        assert response.content_type == "application/problem+json"
        assert (await response.json())["type"] == "/problems/invalid-request"


async def test_a_user_may_hold_only_so_many_streams_open(start_service: StartService, database: Path) -> None:
    config = service_config(database)
    service = await start_service(
        config.model_copy(update={"http": config.http.model_copy(update={"max_event_streams_per_user": 2})})
    )
    await follow(service.pages)
    await follow(service.pages)

    refused = await service.pages.get("/events")

    assert refused.status == 429
    problem = await refused.json()
    assert problem["type"] == "/problems/too-many-event-streams"
    assert "http.max_event_streams_per_user" in problem["detail"]
    assert (await follow(await signed_in_page(service, "bob"))).response.status == 200


async def test_streams_end_when_the_service_stops_and_do_not_hold_up_the_stop(service: Service) -> None:
    stream = await follow(service.pages)

    await asyncio.wait_for(service.server.close(), EVENT_TIMEOUT_S)

    assert await stream.ended()


async def test_a_call_waiting_for_a_free_line_shows_how_many_go_before_it(start_service: StartService) -> None:
    one_line = quick_telnyx(max_concurrent_calls=1, max_dials_per_second=100)
    service = await start_service(telnyx=one_line, protection=NO_LIMITS)
    service.simulator.faults.held_events.add("call.hangup")
    calls = [await service.book(NEVER_ANSWERS, in_s=60) for _ in range(4)]
    stream = await follow(service.pages)

    service.clock.advance(60)
    await service.settle()
    service.clock.advance(1)  # the stream sends places in line at most once a second

    last = await stream.next(lambda event: event.data["id"] == calls[3]["id"] and "2 ahead" in event.data["html"])
    assert "waiting for a free line, 2 ahead" in last.data["html"]
    assert last.id is None  # a place in line is not a change: it does not move the resume point
    page = await (await service.pages.get("/")).text()
    assert "waiting for a free line, 2 ahead" in page
    assert "waiting for a free line, 0 ahead" in page

    await service.client.delete(f"/api/calls/{calls[2]['id']}")
    service.clock.advance(1)
    moved_up = await stream.next(about(calls[3]))
    assert "waiting for a free line, 1 ahead" in moved_up.data["html"]


async def test_a_stream_reads_other_users_changes_once_not_again_at_every_wake_up(service: Service) -> None:
    store = service.app[keys.STORE]
    reads: list[tuple[int, list[int]]] = []
    """(after, call ids found) of each read of alice's stream."""
    call_changes = store.call_changes

    async def recording(*, after: int, owner_id: int | None = None, limit: int = 100) -> list[CallChange]:
        changes = await call_changes(after=after, owner_id=owner_id, limit=limit)
        if owner_id == service.user.id:
            reads.append((after, [change.call_id for change in changes]))
        return changes

    setattr(store, "call_changes", recording)  # noqa: B010  (the stream reads through the app's store)
    stream = await follow(service.pages)
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))
    bobs_first = await book_as(service, bob, "+12025550142")
    bobs_first_change = await store.last_change()
    for number in ("+12025550143", "+12025550144"):
        await book_as(service, bob, number)

    mine = await service.book("+12025550145")
    await stream.next(about(mine))

    [after] = [after for after, found in reads if mine["id"] in found]
    assert after >= bobs_first_change, f"bob's call {bobs_first['id']} was read again with alice's"


async def test_signing_out_ends_the_users_streams_and_a_new_one_is_refused(service: Service) -> None:
    stream = await follow(service.pages)
    token = csrf_token(await (await service.pages.get("/")).text())

    signed_out = await service.pages.post("/logout", data={"csrf_token": token}, allow_redirects=False)

    assert signed_out.status == 303
    assert await stream.ended()
    refused = await service.pages.get("/events", allow_redirects=False)
    assert refused.status == 303
    assert refused.headers["Location"].startswith("/login")


async def test_a_user_disabled_by_an_admin_is_sent_nothing_more(service: Service) -> None:
    bobs_page = await signed_in_page(service, "bob")
    bobs = await follow(bobs_page)
    admins_page = await signed_in_page(service, "carol", admin=True)
    token = csrf_token(await (await admins_page.get("/users")).text())

    disabled = await admins_page.post("/users/bob/disable", data={"csrf_token": token}, allow_redirects=False)

    assert disabled.status == 303
    assert await bobs.ended()


async def test_a_stream_whose_user_was_disabled_elsewhere_ends_at_its_next_session_check(service: Service) -> None:
    bob = await service.add_user("bob", PASSWORD)
    bobs_page = await service.new_client()
    await service.sign_in(bobs_page, "bob", PASSWORD)
    bobs = await follow(bobs_page)
    bobs_call = await book_as(service, await service.new_client(await service.add_key("bob")), "+12025550142")
    await bobs.next(about(bobs_call))

    await service.app[keys.STORE].disable_user(bob.id)  # as the command line does, from another process
    service.clock.advance(max(live.SESSION_CHECK_S, service.config.auth.key_cache_s) + 1)

    assert await bobs.ended()


async def test_a_stream_opened_from_another_sites_page_is_refused(service: Service) -> None:
    for site in ("cross-site", "same-site"):
        refused = await service.pages.get("/events", headers={"Sec-Fetch-Site": site})

        assert refused.status == 403, site
        assert (await refused.json())["type"] == "/problems/cross-site-request"
    assert (await follow(service.pages, **{"Sec-Fetch-Site": "same-origin"})).response.status == 200


async def test_a_page_that_missed_too_much_is_told_to_draw_its_lists_again(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "MAX_REPLAYED_CHANGES", 2)
    first = await service.book("+12025550142")
    for number in ("+12025550143", "+12025550144", "+12025550145"):
        await service.book(number)
    newest = await service.app[keys.STORE].last_change()

    for start in ({"Last-Event-ID": "0"}, {"Last-Event-ID": str(newest + 1000)}):
        stream = await follow(service.pages, **start)
        reset = await stream.next()
        assert (reset.event, reset.id) == ("reset", str(newest))

    await service.client.delete(f"/api/calls/{first['id']}")
    assert (await stream.next()).data["status"] == "cancelled"
