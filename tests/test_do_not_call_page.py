"""The admins' do-not-call page: adding a number, seeing it, removing it, and who may."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dialajoke import keys
from dialajoke.logs import MaskPhoneNumbers
from dialajoke.web.do_not_call import PAGE_SIZE

from .service import ADMIN, PASSWORD, Service, csrf_token, service_config

Client = TestClient[web.Request, web.Application]
NUMBER = "+12025550142"
SHOWN = "+1 202-555-0142"


async def signed_in_admin(service: Service) -> tuple[Client, str]:
    """A browser signed in as the service's admin, and its session's CSRF token."""
    admin = await service.new_client()
    await service.accounts.set_password(ADMIN, PASSWORD)
    return admin, await service.sign_in(admin, ADMIN, PASSWORD)


def masked_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The do-not-call lines as the service's log writes them, numbers masked."""
    records = [record for record in caplog.records if record.getMessage().startswith("do-not-call:")]
    return [record.getMessage() for record in records if MaskPhoneNumbers().filter(record)]


async def test_an_admin_adds_a_number_sees_it_and_removes_it(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialajoke")
    admin, token = await signed_in_admin(service)

    added = await admin.post("/do-not-call", data={"number": "(202) 555-0142", "csrf_token": token})

    assert added.status == 201
    page = await added.text()
    assert f"{SHOWN} is on the list" in page
    assert f"<td>{SHOWN}</td>" in page
    assert f"<td>{ADMIN}</td>" in page
    assert f'action="/do-not-call/{NUMBER}/remove"' in await (await admin.get("/do-not-call")).text()

    removed = await admin.post(f"/do-not-call/{NUMBER}/remove", data={"csrf_token": token}, allow_redirects=False)

    assert removed.status == 303
    assert removed.headers["Location"] == "/do-not-call?done=removed"
    page = await (await admin.get(removed.headers["Location"])).text()
    assert "The number is off the list" in page
    assert SHOWN not in page
    assert "No number is on the list." in page
    assert masked_lines(caplog) == [
        "do-not-call: +1202555****42 added by admin; 0 scheduled calls cancelled",
        "do-not-call: +1202555****42 removed by admin",
    ]


async def test_adding_a_number_cancels_the_calls_booked_to_it(service: Service) -> None:
    admin, token = await signed_in_admin(service)
    booked = await service.book(NUMBER, in_s=3600)
    other = await service.book("+12025550143", in_s=3600)

    added = await admin.post("/do-not-call", data={"number": NUMBER, "csrf_token": token})

    assert added.status == 201
    assert "1 scheduled call to it was cancelled." in await added.text()
    assert (await service.call(booked["id"]))["status"] == "cancelled"
    assert (await service.call(other["id"]))["status"] == "scheduled"


async def test_a_number_on_the_list_already_keeps_who_added_it(service: Service) -> None:
    await service.app[keys.STORE].add_to_do_not_call(NUMBER, added_by="the command line")
    admin, token = await signed_in_admin(service)

    again = await admin.post("/do-not-call", data={"number": NUMBER, "csrf_token": token})

    assert again.status == 200
    assert f"{SHOWN} is on the list already (added by the command line)." in await again.text()
    entry = await service.app[keys.STORE].do_not_call_entry(NUMBER)
    assert entry is not None
    assert entry.added_by == "the command line"


async def test_a_bad_number_is_refused_beside_the_field_with_what_was_typed(service: Service) -> None:
    admin, token = await signed_in_admin(service)

    refused = await admin.post("/do-not-call", data={"number": "+1 202 555", "csrf_token": token})

    assert refused.status == 400
    page = await refused.text()
    assert 'value="+1 202 555"' in page
    assert '<p class="field-error" id="number-error">this number has the wrong length for its country' in page
    assert await service.app[keys.STORE].list_do_not_call() == []


async def test_removing_a_number_not_on_the_list_is_a_404(service: Service) -> None:
    admin, token = await signed_in_admin(service)

    refused = await admin.post(f"/do-not-call/{NUMBER}/remove", data={"csrf_token": token})

    assert refused.status == 404
    assert "is not on the do-not-call list" in await refused.text()


async def test_a_form_without_the_sessions_token_changes_nothing(service: Service) -> None:
    admin, _ = await signed_in_admin(service)
    await service.app[keys.STORE].add_to_do_not_call("+12025550143", added_by="alice")

    added = await admin.post("/do-not-call", data={"number": NUMBER, "csrf_token": "another session's"})
    removed = await admin.post("/do-not-call/+12025550143/remove", data={})

    assert (added.status, removed.status) == (403, 403)
    assert [entry.number for entry in await service.app[keys.STORE].list_do_not_call()] == ["+12025550143"]


async def test_only_admins_see_the_page_and_its_link(service: Service) -> None:
    admin, _ = await signed_in_admin(service)

    assert (await service.pages.get("/do-not-call")).status == 403
    refused = await service.pages.post("/do-not-call", data={"number": NUMBER, "csrf_token": service.csrf})
    assert refused.status == 403
    stranger = await service.anonymous.get("/do-not-call", allow_redirects=False)
    assert (stranger.status, stranger.headers["Location"]) == (303, "/login?next=/do-not-call")
    assert 'href="/do-not-call"' in await (await admin.get("/")).text()
    assert 'href="/do-not-call"' not in await (await service.pages.get("/")).text()
    assert await service.app[keys.STORE].list_do_not_call() == []


async def test_the_list_is_paged_latest_first(service: Service) -> None:
    store = service.app[keys.STORE]
    numbers = [f"+1202555{1000 + index}" for index in range(PAGE_SIZE + 1)]
    for number in numbers:
        await store.add_to_do_not_call(number, added_by="alice")
        service.clock.advance(1)
    admin, _ = await signed_in_admin(service)

    first = await (await admin.get("/do-not-call")).text()
    second = await (await admin.get("/do-not-call?page=2")).text()

    assert first.count("<tr>") - 1 == PAGE_SIZE
    assert first.index("+1 202-555-1100") < first.index("+1 202-555-1099")
    assert "+1 202-555-1000" not in first
    assert 'href="/do-not-call?page=2">Older' in first
    assert second.count("<tr>") - 1 == 1
    assert "+1 202-555-1000" in second
    assert 'href="/do-not-call?page=1">Newer' in second
    assert (await admin.get("/do-not-call?page=0")).status == 400


async def test_the_list_survives_a_restart(start_service: Callable[..., Awaitable[Service]], database: Path) -> None:
    first = await start_service(service_config(database))
    admin, token = await signed_in_admin(first)
    assert (await admin.post("/do-not-call", data={"number": NUMBER, "csrf_token": token})).status == 201
    await first.stop()

    second = await start_service(service_config(database))
    admin, _ = await signed_in_admin(second)

    page = await (await admin.get("/do-not-call")).text()
    assert f"<td>{SHOWN}</td>" in page
    assert csrf_token(page)


async def test_a_number_of_no_country_is_shown_as_stored_and_can_be_removed(service: Service) -> None:
    """As an inbound caller's number may be, when they press 9."""
    store = service.app[keys.STORE]
    await store.add_to_do_not_call("+9991234567", added_by="the callee, pressing 9 on call 7", call_id=7)
    admin, token = await signed_in_admin(service)

    page = await (await admin.get("/do-not-call")).text()
    removed = await admin.post("/do-not-call/+9991234567/remove", data={"csrf_token": token}, allow_redirects=False)

    assert "<td>+9991234567</td>" in page
    assert "<td>7</td>" in page
    assert removed.status == 303
    assert await store.list_do_not_call() == []
