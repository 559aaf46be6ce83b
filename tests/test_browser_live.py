"""The booking page follows its calls live over Server-Sent Events, in a real headless Chromium (tests/browser.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import expect

from .browser import PHONE, OpenPage, book, fill_in, fits_the_screen
from .service import Service

StartService = Callable[..., Awaitable[Service]]
RECONNECT_TIMEOUT_MS = 20_000
"""EventSource waits a few seconds of real time between attempts (the page's fake clock does not move it)."""


async def test_a_call_goes_from_scheduled_to_completed_on_the_page_without_polling(
    service: Service, open_page: OpenPage
) -> None:
    earlier = await service.book("+12025550143")
    await service.client.delete(f"/api/calls/{earlier['id']}")  # so that both lists are drawn already
    page = await open_page()
    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="09:01")
    assert await book(page) == 303
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    call_id = earlier["id"] + 1
    upcoming = page.get_by_role("region", name="Upcoming and in progress").locator(f"#call-{call_id}")
    await expect(upcoming.locator(".status")).to_have_text("scheduled")

    call = await service.run_until_final(call_id, advance_s=60)

    assert call["status"] == "completed"
    recent = page.get_by_role("region", name="Recent calls").locator(f"#call-{call_id}")
    await expect(recent.locator(".status")).to_have_text("completed")
    await expect(recent.locator(".joke")).to_have_text(call["joke"])
    announcements = page.locator("[aria-live=polite]")
    await expect(announcements).to_have_text(re.compile(rf"^Call {call_id} to \+1 202-555-0142: completed"))
    assert [url for url in requested if "/calls/table" in url] == []
    upcoming_list = page.get_by_role("region", name="Upcoming and in progress")
    await expect(upcoming_list).to_contain_text("Nothing waiting to ring.")
    await expect(page.locator("#upcoming-calls")).to_have_count(0)


async def test_the_page_says_it_is_reconnecting_while_the_service_is_away(
    service: Service, open_page: OpenPage, start_service: StartService
) -> None:
    page = await open_page()
    note = page.get_by_text("Reconnecting...")
    await expect(note).to_be_hidden()
    await expect(page.get_by_role("status")).to_have_count(0)

    await service.server.close()

    await expect(note).to_be_visible(timeout=RECONNECT_TIMEOUT_MS)
    await expect(page.get_by_role("status")).to_have_text(re.compile("^Reconnecting"))
    again = await start_service(service.config)
    await expect(note).to_be_hidden(timeout=RECONNECT_TIMEOUT_MS)
    booked = await again.book("+12025550142")
    await expect(page.locator(f"#call-{booked['id']} .status")).to_have_text("scheduled")


async def test_on_a_phone_a_call_is_cancelled_from_its_card_and_another_is_followed_live(
    service: Service, open_page: OpenPage
) -> None:
    page = await open_page(viewport=PHONE)
    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="09:01")
    assert await book(page) == 303
    followed = 1
    upcoming = page.get_by_role("region", name="Upcoming and in progress")
    await expect(upcoming.locator(f"#call-{followed} .status")).to_have_text("scheduled")

    other = await service.book("+12025550143", in_s=600)
    await expect(upcoming.locator(f"#call-{other['id']} .status")).to_have_text("scheduled")
    async with page.expect_event("load"):
        await page.get_by_role("button", name=f"Cancel call {other['id']}").click()
    recent = page.get_by_role("region", name="Recent calls")
    await expect(recent.locator(f"#call-{other['id']} .status")).to_have_text("cancelled")
    assert (await service.call(other["id"]))["status"] == "cancelled"

    await page.evaluate("window.notReloaded = true")
    call = await service.run_until_final(followed, advance_s=60)
    await expect(recent.locator(f"#call-{followed} .status")).to_have_text("completed")
    await expect(recent.locator(f"#call-{followed} .joke")).to_have_text(call["joke"])
    assert await page.evaluate("window.notReloaded") is True
    assert await fits_the_screen(page)
    displays = await page.locator("#calls tr.call").evaluate_all("rows => rows.map(r => getComputedStyle(r).display)")
    assert "table-row" not in displays
