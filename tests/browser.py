"""Chromium for the browser tests: the fixtures that open the booking page in it, and the steps they share.

One Chromium serves all the tests of a module. Each test attaches Playwright to it over the
DevTools protocol rather than sharing one Playwright ``Browser``: Playwright's async API
is bound to the event loop that started it, and the ``service`` fixture runs in each
test's own loop, so a module-wide ``Browser`` could not be used beside it.

Needs Debian's ``chromium`` (``apt-get install chromium``), or another Chromium named by
the ``CHROMIUM`` environment variable. ``DIALAJOKE_SCREENSHOTS=docs/images`` saves there
what the page looks like after a completed call (``page.png``) and on a phone (``phone.png``),
the pictures README shows (``invoke screenshots``).
"""

from __future__ import annotations

import functools
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize, async_playwright, expect

from .service import PASSWORD, Service

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
)
DEVTOOLS_LISTENING = re.compile(rb"DevTools listening on ws://[^\s/]+:(\d+)/")
DEVTOOLS_TIMEOUT_S = 20.0

OpenPage = Callable[..., Awaitable[Page]]

DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=360, height=740)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless Chromium on a fresh profile for this module's tests; yields its DevTools URL."""
    executable = shutil.which(CHROMIUM)
    if executable is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM to one")
    profile = tmp_path_factory.mktemp("chromium-profile")
    log_path = profile.with_name(f"{profile.name}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        announced: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        copier = threading.Thread(target=_copy_stderr, args=(process.stderr, log, announced), daemon=True)
        copier.start()
        try:
            yield f"http://127.0.0.1:{_devtools_port(announced, log_path)}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            copier.join(timeout=10)
            process.stderr.close()


def _copy_stderr(stderr: IO[bytes], log: IO[bytes], announced: queue.SimpleQueue[int | None]) -> None:
    """Keep Chromium's stderr flowing into its log, and pass on the port it announces it listens on."""
    for line in stderr:
        log.write(line)
        log.flush()
        match = DEVTOOLS_LISTENING.search(line)
        if match:
            announced.put(int(match.group(1)))
    announced.put(None)


def _devtools_port(announced: queue.SimpleQueue[int | None], log_path: Path) -> int:
    """The port Chromium chose, as soon as it says it listens."""
    try:
        port = announced.get(timeout=DEVTOOLS_TIMEOUT_S)
    except queue.Empty:
        pytest.fail(f"Chromium did not open its DevTools port in {DEVTOOLS_TIMEOUT_S:g} s:\n{_log(log_path)}")
    if port is None:
        pytest.fail(f"Chromium exited before opening its DevTools port:\n{_log(log_path)}")
    return port


def _log(log_path: Path) -> str:
    return log_path.read_text(errors="replace")


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """The module's Chromium, driven by a Playwright that lives in this test's event loop."""
    async with async_playwright() as playwright:
        yield await playwright.chromium.connect_over_cdp(chromium)


@pytest.fixture
async def open_page(browser: Browser, service: Service) -> AsyncIterator[OpenPage]:
    """Open the booking page in a fresh browser profile living in ``timezone_id`` with a screen of ``viewport``;
    fail if its console shows an error.

    The page's clock starts at the service's "now" and then runs on, so the form offers a
    time the service accepts; ``page.clock.run_for`` fires the page's timers at once.
    """
    contexts: list[BrowserContext] = []
    console_errors: list[str] = []

    async def open_page(timezone_id: str = "UTC", user: str = "alice", viewport: ViewportSize = DESKTOP) -> Page:
        context = await browser.new_context(
            base_url=service.config.public_url, timezone_id=timezone_id, locale="en-US", viewport=viewport
        )
        contexts.append(context)
        await context.clock.install(time=service.clock.time())
        page = await context.new_page()
        page.on("console", functools.partial(_keep_errors, console_errors))
        page.on("pageerror", lambda error: console_errors.append(str(error)))
        await page.goto("/")
        await sign_in(page, user)
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert [error for error in console_errors if not _is_a_refused_form(error)] == []


def _keep_errors(errors: list[str], message: ConsoleMessage) -> None:
    """The console's errors, where a Content-Security-Policy violation would show."""
    if message.type == "error":
        errors.append(f"{message.text} ({message.location['url']})")


def _is_a_refused_form(console_error: str) -> bool:
    """A form answered 400 is logged by the browser as a failed load: the service's answer, not a page error."""
    return console_error.startswith("Failed to load resource: the server responded with a status of 400")


async def sign_in(page: Page, user: str) -> None:
    """The booking page sends a stranger to sign in; signing in leads back to it."""
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_label("Name", exact=True).fill(user)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    async with page.expect_event("load"):
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Account")).to_contain_text(f"Signed in as {user}")


async def fill_in(page: Page, to: str, date: str, at: str) -> None:
    await page.get_by_label("Phone number", exact=True).fill(to)
    await page.get_by_label("Date", exact=True).fill(date)
    await page.get_by_label("Time", exact=True).fill(at)


async def book(page: Page) -> int:
    """Press the button and wait for the page it leads to; the status the form's POST had."""
    async with (
        page.expect_event("load"),
        page.expect_response(lambda response: response.request.method == "POST") as posted,
    ):
        await page.get_by_role("button", name="Book the call").click()
    return (await posted.value).status


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save the page as ``name`` in the folder ``DIALAJOKE_SCREENSHOTS`` names, if it names one.

    Without ``full_page``, what the window shows. Playwright makes the folder if need be.
    """
    if folder := os.environ.get("DIALAJOKE_SCREENSHOTS"):
        await page.screenshot(path=Path(folder) / name, full_page=full_page)


async def fits_the_screen(page: Page) -> bool:
    """Nothing on the page is wider than the window: no sideways scrolling."""
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
