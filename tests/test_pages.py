"""The booking page, as a browser without JavaScript sees it."""

from __future__ import annotations

import html

import pytest

from .service import Service

FORM = {"to": "+12025550142", "date": "2026-11-24", "time": "10:00", "timezone": "UTC"}


async def test_the_page_offers_the_form_and_the_server_zone(service: Service) -> None:
    response = await service.pages.get("/")

    assert response.status == 200
    page = await response.text()
    for name in ("to", "date", "time", "timezone"):
        assert f'name="{name}"' in page
    assert "Nothing waiting to ring" in page
    assert "simulator" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"to": "12"}, "to", "wrong length"),
        ({"to": "call me"}, "to", "not a phone number"),
        ({"date": "24/11/2026"}, "date", "YYYY-MM-DD"),
        ({"time": "half ten"}, "time", "HH:MM"),
        ({"time": "08:00"}, "time", "passed"),
        ({"date": "2027-01-24"}, "time", "30 days"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
    ],
)
async def test_bad_input_comes_back_400_with_the_message_and_what_was_typed(
    service: Service, changes: dict[str, str], field: str, message: str
) -> None:
    form = {**FORM, **changes}

    response = await service.post_form("/", form)

    assert response.status == 400
    page = html.unescape(await response.text())
    assert f'id="{field}-error"' in page
    assert message in page
    for value in form.values():
        assert f'value="{value}"' in page
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


async def test_a_booked_call_is_listed_with_its_local_time(service: Service) -> None:
    form = {**FORM, "time": "11:15", "timezone": "Asia/Kolkata", "date": "2026-11-25"}
    response = await service.post_form("/", form)
    assert response.status == 303

    page = await (await service.pages.get(response.headers["Location"])).text()

    assert "Call 1 is booked" in page
    assert "+1 202-555-0142" in page
    assert "Wed 25 Nov 2026, 11:15:00 IST" in page
    assert "scheduled" in page


async def test_the_calls_table_refreshes_alone(service: Service) -> None:
    booked = await service.book("+12025550101")
    await service.run_until_final(booked["id"], advance_s=60)

    response = await service.pages.get("/calls/table")

    assert response.status == 200
    fragment = await response.text()
    assert "<html" not in fragment
    assert "busy" in fragment


async def test_the_booked_call_stays_highlighted_when_the_table_refreshes(service: Service) -> None:
    first = await service.book("+12025550142")
    second = await service.book("+12025550143")

    fragment = await (await service.pages.get(f"/calls/table?booked={second['id']}")).text()

    assert f'<tr id="call-{second["id"]}" class="call booked"' in fragment
    assert f'<tr id="call-{first["id"]}" class="call"' in fragment
