"""The booking page in a real headless Chromium (see tests/browser.py), against the whole service on its port."""

from __future__ import annotations

import re

import pyjokes
import pytest
from playwright.async_api import Page, ViewportSize, expect

from .browser import DESKTOP, PHONE, OpenPage, book, fill_in, fits_the_screen, screenshot
from .service import PASSWORD, Service

LONG_JOKE = (
    "A programmer's partner asks them to go to the shop: buy a loaf of bread, and if they have eggs, buy a dozen. "
    "They come home with twelve loaves of bread and explain, quite reasonably, that the shop had eggs: "
    "an_identifier_that_goes_on_and_on_without_a_single_place_to_break_it_across_lines."
)


async def test_a_booking_shows_up_then_the_page_updates_itself_with_the_joke(
    service: Service, open_page: OpenPage
) -> None:
    page = await open_page(timezone_id="UTC", viewport=DESKTOP)
    await expect(page.get_by_label("Date", exact=True)).to_have_value("2026-11-24")
    await expect(page.get_by_label("Time", exact=True)).to_have_value(re.compile(r"^09:01:\d\d$"))
    await expect(page.locator("#timezone")).to_have_value("UTC")

    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="09:01")
    assert await book(page) == 303

    await expect(page).to_have_url(f"{service.config.public_url}/?booked=1")
    await expect(page.get_by_role("status")).to_have_text(re.compile(r"^Call 1 is booked\."))
    row = page.get_by_role("region", name="Upcoming and in progress").locator("#call-1")
    await expect(row).to_contain_text("+1 202-555-0142")
    await expect(row).to_contain_text("Tue 24 Nov 2026, 09:01:00 UTC")
    await expect(row.locator(".status")).to_have_text("scheduled")

    await page.evaluate("window.notReloaded = true")
    call = await service.run_until_final(1, advance_s=60)
    assert call["status"] == "completed"
    assert call["joke"]

    row = page.get_by_role("region", name="Recent calls").locator("#call-1")
    await expect(row.locator(".status")).to_have_text("completed")
    await expect(row.locator(".joke")).to_have_text(call["joke"])
    assert await page.evaluate("window.notReloaded") is True
    await page.clock.run_for(60_000)
    await expect(row.locator("time")).to_have_text(re.compile(r"ago$"))
    await screenshot(page, "page.png", full_page=True)


async def test_a_wrong_form_comes_back_with_what_was_typed_and_why(service: Service, open_page: OpenPage) -> None:
    page = await open_page()

    await fill_in(page, to="12", date="2026-11-23", at="08:00")
    assert await book(page) == 400

    await expect(page).to_have_url(f"{service.config.public_url}/")
    await expect(page.get_by_role("alert")).to_contain_text("The call was not booked")
    phone = page.get_by_label("Phone number", exact=True)
    await expect(phone).to_be_focused()
    await expect(phone).to_have_value("12")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(phone).to_have_accessible_description(re.compile("wrong length"))
    date = page.get_by_label("Date", exact=True)
    await expect(date).to_have_value("2026-11-23")
    await expect(date).not_to_have_attribute("aria-invalid", "true")
    when = page.get_by_label("Time", exact=True)
    await expect(when).to_have_value("08:00")
    await expect(when).to_have_attribute("aria-invalid", "true")
    await expect(when).to_have_accessible_description(re.compile("this time has passed"))
    await expect(page.locator("#timezone")).to_have_value("UTC")
    listing = await (await service.client.get("/api/calls")).json()
    assert listing["calls"] == []


async def test_a_form_sent_back_without_its_date_and_time_keeps_them_empty_beside_the_errors(
    service: Service, open_page: OpenPage
) -> None:
    page = await open_page()
    await page.get_by_label("Phone number", exact=True).fill("+1 202 555 0142")
    for label in ("Date", "Time"):
        field = page.get_by_label(label, exact=True)
        await field.evaluate("element => { element.required = false; element.value = ''; }")

    assert await book(page) == 400

    await expect(page.get_by_label("Date", exact=True)).to_be_focused()
    for label, message in (("Date", "enter the date"), ("Time", "enter the time")):
        field = page.get_by_label(label, exact=True)
        await expect(field).to_have_value("")
        await expect(field).to_have_accessible_description(re.compile(message))


async def test_the_time_is_read_in_the_browsers_own_time_zone(service: Service, open_page: OpenPage) -> None:
    page = await open_page(timezone_id="America/Chicago")
    await expect(page.locator("#timezone")).to_have_value("America/Chicago")
    await expect(page.locator("#zone-hint")).to_have_text("in America/Chicago time")
    await expect(page.get_by_label("Time", exact=True)).to_have_accessible_description(
        re.compile(r"HH:MM or HH:MM:SS.*in America/Chicago time")
    )

    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="10:00")
    assert await book(page) == 303

    await expect(page.locator("#call-1")).to_contain_text("Tue 24 Nov 2026, 10:00:00 CST")
    call = await service.call(1)
    assert (call["at"], call["timezone"]) == ("2026-11-24T16:00:00+00:00", "America/Chicago")


async def test_each_user_sees_only_their_own_calls_and_signs_out(service: Service, open_page: OpenPage) -> None:
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))
    await bob.post("/api/calls", json={"to": "+12025550177", "at": service.iso_in(300)})
    page = await open_page()

    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="09:02")
    assert await book(page) == 303

    upcoming = page.get_by_role("region", name="Upcoming and in progress")
    await expect(upcoming.locator("tbody tr")).to_have_count(1)
    await expect(upcoming).to_contain_text("+1 202-555-0142")
    await expect(upcoming).not_to_contain_text("+1 202-555-0177")

    async with page.expect_event("load"):
        await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))


async def test_a_call_is_cancelled_with_its_button(service: Service, open_page: OpenPage) -> None:
    call = await service.book("+12025550142", in_s=600)
    page = await open_page()

    async with page.expect_event("load"):
        await page.get_by_role("button", name=f"Cancel call {call['id']}").click()

    row = page.get_by_role("region", name="Recent calls").locator(f"#call-{call['id']}")
    await expect(row.locator(".status")).to_have_text("cancelled")
    assert (await service.call(call["id"]))["status"] == "cancelled"


async def test_a_refusal_that_is_no_fields_fault_puts_the_cursor_on_the_message(
    service: Service, open_page: OpenPage
) -> None:
    page = await open_page()
    await fill_in(page, to="+1 202 555 0142", date="2026-11-24", at="09:05")
    await page.locator("#timezone").evaluate("element => { element.value = 'Mars/Olympus_Mons'; }")

    assert await book(page) == 400

    await expect(page.get_by_role("alert")).to_be_focused()


async def test_a_time_is_shown_on_the_viewers_clock_with_how_far_off_it_is(
    service: Service, open_page: OpenPage
) -> None:
    call = await service.book("+12025550142", in_s=180)
    page = await open_page(timezone_id="America/Chicago")

    when = page.locator(f"#call-{call['id']} time")
    await expect(when).to_have_text("Tue 24 Nov 2026, 03:03:00 CST · in 3 min.")
    await expect(when).to_have_attribute("title", re.compile(r"Tue 24 Nov 2026, 09:03:00 UTC"))

    await page.clock.run_for(4 * 60 * 1000)
    await expect(when).to_have_text(re.compile(r"03:03:00 CST · 1\smin\.\sago$"))

    async with page.expect_event("load"):
        await page.get_by_role("link", name="+1 202-555-0142").click()
    await expect(page.locator(".call-facts time")).to_have_text(re.compile(r"03:03:00 CST · 1\smin\.\sago$"))


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_every_page_fits_the_screen_and_calls_become_cards_on_a_phone(
    service: Service, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch, viewport: ViewportSize
) -> None:
    monkeypatch.setattr(pyjokes, "get_joke", lambda **_: LONG_JOKE)
    told = await service.book("+12025550142", in_s=60)
    unreachable = await service.book("+12025550103", in_s=60)
    await service.run_until_final(told["id"], advance_s=60)
    await service.run_until_final(unreachable["id"], advance_s=0)
    await service.book("+13125550100", in_s=3600)
    await service.add_user("carol", PASSWORD, admin=True)

    page = await open_page(user="carol", viewport=viewport)
    await expect(page.locator("#calls tr.call")).to_have_count(3)
    assert await fits_the_screen(page)
    displays = await page.locator("#calls tr.call").evaluate_all("rows => rows.map(r => getComputedStyle(r).display)")
    if viewport == PHONE:
        assert "table-row" not in displays
        for part in (".status", ".reason", ".joke"):
            call = told if part == ".joke" else unreachable
            await _within_the_width(page, f"#call-{call['id']} {part}", viewport)
        await page.locator("#calls").evaluate("calls => calls.scrollIntoView()")
        await screenshot(page, "phone.png")
    else:
        assert set(displays) == {"table-row"}

    for path in (f"/calls/{told['id']}", "/account", "/users", "/do-not-call", "/api/docs"):
        await page.goto(path)
        assert await fits_the_screen(page), path
    await page.goto("/")
    async with page.expect_event("load"):
        await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    assert await fits_the_screen(page)


async def _within_the_width(page: Page, selector: str, viewport: ViewportSize) -> None:
    part = page.locator(selector)
    await expect(part).to_be_visible()
    box = await part.bounding_box()
    assert box is not None
    assert box["x"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= viewport["width"], (selector, box)
