"""A full disk, for real: bookings and webhooks are refused with 503, /health says so, and it all
comes back once space is freed, with nothing accepted before lost and no restart: a call that
fell due and an event processed during the outage are acted on once the disk has room again.

The database lives on a 2 MB tmpfs that the test mounts and fills, so SQLite meets the
very ENOSPC a full disk gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dialajoke.config import DatabaseConfig, JokesConfig
from dialajoke.store.sqlite import WRITE_PROBE_AFTER_S

from .clock import ManualClock
from .service import Service, service_config
from .waiting import wait_until
from .webhooks import envelope, post_webhook

DISK_SIZE = "2m"
WAIT_S = 10.0
STORAGE_RETRY_S = DatabaseConfig().retry_after_s
"""How often the service tries background work again while the disk is full (database.retry_after_s)."""
"""How long a test waits for something that must happen before it fails."""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_SIZE, mounted for the test and unmounted after it."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a tmpfs of its own, and mounting one needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0 and "permission denied" in mounted.stderr.lower():
        pytest.skip(f"this machine does not let even root mount a tmpfs: {mounted.stderr.strip()}")
    assert mounted.returncode == 0, mounted.stderr
    try:
        yield mount_point
    finally:
        unmounted = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True, check=False)
        assert unmounted.returncode == 0, unmounted.stderr


@pytest.fixture
async def service(small_disk: Path, clock: ManualClock) -> AsyncIterator[Service]:
    """Stopped before the disk is unmounted: its database must be closed by then."""
    running = await Service(service_config(small_disk / "calls.sqlite3"), clock).start()
    yield running
    await running.stop()


@contextlib.contextmanager
def disk_filled(folder: Path) -> Iterator[None]:
    """Fill the disk to its last byte, then give the space back."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        block = b"\0" * 4096
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        yield
    finally:
        os.close(fd)
        filler.unlink()


async def book(service: Service, to: str) -> tuple[int, dict[str, object], dict[str, str]]:
    response = await service.client.post("/api/calls", json={"to": to, "at": service.iso_in(3600)})
    return response.status, await response.json(), dict(response.headers)


async def health(service: Service) -> tuple[int, dict[str, object], dict[str, str]]:
    response = await service.client.get("/health")
    return response.status, await response.json(), dict(response.headers)


async def test_a_full_disk_refuses_bookings_with_503_until_space_is_freed_and_loses_nothing(
    service: Service, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    accepted = [(await service.book(f"+1202555014{n}"))["id"] for n in range(3)]

    with disk_filled(small_disk):
        refused = [await book(service, "+12025550149") for _ in range(3)]
        webhook = await post_webhook(service, envelope("call.hangup", "evt-during-outage", call_control_id="v3:x"))
        webhook_problem = await webhook.json()
        unhealthy = await health(service)

    healthy = await health(service)
    booked_after = await service.book("+12025550150")
    webhook_after = await post_webhook(service, envelope("call.hangup", "evt-during-outage", call_control_id="v3:x"))

    for status, problem, headers in refused:
        assert status == 503
        assert headers["Content-Type"].startswith("application/problem+json")
        assert headers["Retry-After"] == str(STORAGE_RETRY_S)
        assert problem["type"] == "/problems/storage-unavailable"
        assert problem["title"] == "Storage unavailable"
    assert (webhook.status, webhook_problem["type"]) == (503, "/problems/storage-unavailable")  # Telnyx retries
    assert (unhealthy[0], unhealthy[1]["status"], unhealthy[2]["Retry-After"]) == (
        503,
        "unavailable",
        str(STORAGE_RETRY_S),
    )
    assert "database or disk is full" in str(unhealthy[1]["detail"])

    assert healthy[:2] == (200, {"status": "ok"})
    assert webhook_after.status == 200
    listed = (await (await service.client.get("/api/calls")).json())["calls"]
    assert sorted(call["id"] for call in listed) == sorted([*accepted, booked_after["id"]])

    outage = [record for record in caplog.records if "cannot be written" in record.getMessage()]
    recovery = [record for record in caplog.records if "can be written again" in record.getMessage()]
    assert [record.levelno for record in outage] == [logging.WARNING]
    assert "database or disk is full" in outage[0].getMessage()
    assert [record.levelno for record in recovery] == [logging.INFO]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


async def test_health_notices_a_full_disk_without_any_booking(
    service: Service, small_disk: Path, clock: ManualClock
) -> None:
    assert (await health(service))[0] == 200

    with disk_filled(small_disk):
        clock.advance(WRITE_PROBE_AFTER_S)
        status, body, _ = await health(service)

    assert (status, body["status"]) == (503, "unavailable")
    assert (await health(service))[:2] == (200, {"status": "ok"})


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


def troubles(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors and tracebacks logged: an outage the service rides out must cause neither."""
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


async def test_a_call_due_while_the_disk_is_full_rings_once_space_is_freed(
    service: Service, small_disk: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    booked = await service.book("+12025550141", in_s=60)

    with disk_filled(small_disk):
        clock.advance(60)
        await wait_until(lambda: logged(caplog, "cannot be written"), WAIT_S, "the due call to meet the full disk")
        await service.settle()
        during = await service.call(booked["id"])

    call = await service.run_until_final(booked["id"], advance_s=STORAGE_RETRY_S)

    assert during["status"] == "scheduled"
    assert call["status"] == "completed"
    assert [event["status"] for event in call["events"]][:2] == ["scheduled", "dialing"]
    assert troubles(caplog) == []


class HeldJokes:
    """A joke API that answers only once the test lets it, so an event's processing can be caught midway."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def joke(self, request: web.Request) -> web.Response:
        self.asked.set()
        await self.answer.wait()
        return web.json_response({"joke": "A held joke, told at last."})


@pytest.fixture
async def held_jokes() -> AsyncIterator[tuple[HeldJokes, str]]:
    jokes = HeldJokes()
    app = web.Application()
    app.router.add_get("/joke", jokes.joke)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield jokes, str(server.make_url("/joke"))
    jokes.answer.set()
    await server.close()


async def test_a_webhook_processed_while_the_disk_is_full_is_acted_on_once_space_is_freed(
    small_disk: Path, clock: ManualClock, held_jokes: tuple[HeldJokes, str], caplog: pytest.LogCaptureFixture
) -> None:
    """call.answered is accepted, then its processing waits for the joke while the disk fills:
    the joke cannot be written, so the event waits for the store and is processed again later."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="dialajoke.calls.inbox")
    jokes, joke_url = held_jokes
    config = service_config(small_disk / "calls.sqlite3", jokes=JokesConfig(api_url=joke_url, timeout_s=WAIT_S * 3))
    service = await Service(config, clock).start()
    try:
        booked = await service.book("+12025550142", in_s=60)
        clock.advance(60)
        await wait_until(jokes.asked.is_set, WAIT_S, "call.answered to ask for a joke")

        with disk_filled(small_disk):
            jokes.answer.set()
            await wait_until(
                lambda: logged(caplog, "waits for the store to be writable again"),
                WAIT_S,
                "call.answered to meet the full disk",
            )
            during = await service.call(booked["id"])

        call = await service.run_until_final(booked["id"], advance_s=STORAGE_RETRY_S)
    finally:
        await service.stop()

    assert during["status"] == "answered"
    assert call["status"] == "completed"
    assert [event["detail"] for event in call["events"]].count("speaking the joke") == 1
    assert not logged(caplog, "gave up on")
    assert troubles(caplog) == []


async def test_a_silent_call_expiring_while_the_disk_is_full_ends_once_space_is_freed(
    service: Service, small_disk: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service.simulator.faults.held_events.add("call.answered")
    booked = await service.book("+12025550143", in_s=60)
    clock.advance(60)
    await service.settle()

    with disk_filled(small_disk):
        clock.advance(service.config.calls.stale_after_s)
        await wait_until(lambda: logged(caplog, "cannot be written"), WAIT_S, "the expiry to meet the full disk")
        during = await service.call(booked["id"])

    clock.advance(STORAGE_RETRY_S)
    await wait_until(
        lambda: logged(caplog, "is failed: no events for"), WAIT_S, "the silent call to be ended by the watchdog"
    )
    call = await service.call(booked["id"])
    await service.simulator.release("call.answered")

    assert during["status"] == "ringing"
    assert call["status"] == "failed"
    assert troubles(caplog) == []
