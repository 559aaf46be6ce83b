"""Each call's own page, and the calls table's numbers and reasons, as a signed-in browser sees them."""

from __future__ import annotations

import html
import re

import pytest

from .service import PASSWORD, Service, csrf_token

NUMBER = "+12025550142"
FOR_PEOPLE = "+1 202-555-0142"
CODE = re.compile(r"<code>[^<]*</code>")
"""What differs between two problem pages alike but for their request's id."""


async def page_text(service: Service, path: str) -> str:
    response = await service.pages.get(path)
    assert response.status == 200, await response.text()
    return html.unescape(await response.text())


async def test_a_call_page_shows_the_call_and_its_whole_timeline(service: Service) -> None:
    booked = await service.book(NUMBER)
    await service.run_until_final(booked["id"], advance_s=60)
    call = await service.call(booked["id"])

    page = await page_text(service, f"/calls/{booked['id']}")

    assert FOR_PEOPLE in page
    assert "Tue 24 Nov 2026, 09:01:00 UTC" in page
    assert call["joke"] in page
    assert 'class="status status-completed"' in page
    for entry in call["events"]:
        assert entry["detail"] in page
    assert page.count("<tr>") == len(call["events"]) + 1
    assert "Cancel this call" not in page


async def test_a_scheduled_call_page_has_a_cancel_button_that_cancels_it(service: Service) -> None:
    booked = await service.book(NUMBER)

    page = await (await service.pages.get(f"/calls/{booked['id']}")).text()
    assert "Cancel this call" in page
    cancelled = await service.pages.post(
        f"/calls/{booked['id']}/cancel", data={"csrf_token": csrf_token(page)}, allow_redirects=False
    )

    assert cancelled.status == 303
    assert "cancelled by alice" in await page_text(service, f"/calls/{booked['id']}")


async def test_a_call_an_admin_cancelled_says_which_admin_to_its_booker(service: Service) -> None:
    booked = await service.book(NUMBER)

    assert (await service.admin_client.delete(f"/api/calls/{booked['id']}")).status == 200

    assert "cancelled by admin" in await page_text(service, f"/calls/{booked['id']}")


async def test_another_users_call_page_is_not_found_exactly_as_an_unknown_one(service: Service) -> None:
    booked = await service.book(NUMBER)
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client()
    await service.sign_in(bob, "bob", PASSWORD)

    theirs, unknown = await bob.get(f"/calls/{booked['id']}"), await bob.get("/calls/999")

    assert (theirs.status, unknown.status) == (404, 404)
    their_page, unknown_page = await theirs.text(), await unknown.text()
    assert f"You have no call {booked['id']}." in their_page
    alike = [
        CODE.sub("<code></code>", page)
        for page in (their_page.replace(f"call {booked['id']}", "call N"), unknown_page.replace("call 999", "call N"))
    ]
    assert alike[0] == alike[1]
    assert "555" not in their_page


async def test_an_admin_sees_any_users_call_page(service: Service) -> None:
    booked = await service.book(NUMBER)
    admin = await service.new_client()
    await service.add_user("root", PASSWORD, admin=True)
    await service.sign_in(admin, "root", PASSWORD)

    response = await admin.get(f"/calls/{booked['id']}")

    assert response.status == 200
    assert FOR_PEOPLE in html.unescape(await response.text())


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+12025550102", "no answer after 30 s"),
        ("+12025550103", "number not reachable"),
        ("+12025550105", "refused by Telnyx: Invalid phone number"),
    ],
)
async def test_a_call_that_did_not_complete_says_why_on_its_page_and_in_the_table(
    service: Service, number: str, reason: str
) -> None:
    booked = await service.book(number)
    await service.run_until_final(booked["id"], advance_s=60)

    page = await page_text(service, f"/calls/{booked['id']}")
    table = await page_text(service, "/calls/table")

    assert f'<span class="reason">{reason}</span>' in page
    assert f'<span class="reason">{reason}</span>' in table


async def test_a_busy_call_says_busy_once_in_the_table(service: Service) -> None:
    booked = await service.book("+12025550101")
    await service.run_until_final(booked["id"], advance_s=60)

    table = await page_text(service, "/calls/table")

    assert '<span class="status status-busy">busy</span>' in table
    assert 'class="reason"' not in table


async def test_a_completed_call_shows_no_reason(service: Service) -> None:
    booked = await service.book(NUMBER)
    await service.run_until_final(booked["id"], advance_s=60)

    assert 'class="reason"' not in await page_text(service, "/calls/table")


async def test_the_table_shows_numbers_for_people_each_linking_to_its_call(service: Service) -> None:
    upcoming = await service.book(NUMBER, in_s=3600)
    finished = await service.book("+12025550101")
    await service.run_until_final(finished["id"], advance_s=60)

    table = await page_text(service, "/calls/table")

    assert f'<a href="/calls/{upcoming["id"]}">{FOR_PEOPLE}</a>' in table
    assert f'<a href="/calls/{finished["id"]}">+1 202-555-0101</a>' in table
    assert NUMBER not in table
