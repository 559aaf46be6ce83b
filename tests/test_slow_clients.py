"""Slow and greedy clients: a trickling body is cut off with a 408, and connections past the cap are closed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from dialajoke.__main__ import listen, serve
from dialajoke.app import create_app
from dialajoke.config import Config
from dialajoke.web.slow_clients import CappedSockSite, RefusalLog

from .clock import ManualClock
from .service import Service, service_config
from .waiting import wait_until

StartService = Callable[..., Awaitable[Service]]

BODY_TIMEOUT_S = 0.3
"""Short, since the test waits for it on the wall clock: the timeout itself is what is tested."""
TRICKLE_EVERY_S = 0.05
ANSWER_TIMEOUT_S = 10.0


def with_http(config: Config, **changes: object) -> Config:
    return config.model_copy(update={"http": config.http.model_copy(update=changes)})


async def trickle(writer: asyncio.StreamWriter) -> None:
    """One byte of the body at a time, each well within the timeout, the whole never."""
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(TRICKLE_EVERY_S)


async def test_a_body_that_trickles_in_is_cut_off_with_a_408(start_service: StartService, database: Path) -> None:
    service = await start_service(with_http(service_config(database), body_timeout_s=BODY_TIMEOUT_S))
    reader, writer = await asyncio.open_connection(service.config.http.host, service.config.http.port)
    writer.write(
        b"POST /api/calls HTTP/1.1\r\nHost: dialajoke\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    trickling = asyncio.create_task(trickle(writer))
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT_S)
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
        body = json.loads(await asyncio.wait_for(reader.readexactly(length), ANSWER_TIMEOUT_S))
    finally:
        trickling.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await trickling
        writer.close()

    assert head.startswith(b"HTTP/1.1 408 ")
    assert body["type"] == "/problems/request-timeout"
    assert "http.body_timeout_s" in body["detail"]
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


async def test_a_body_sent_in_one_go_is_read_once_by_the_handler(service: Service) -> None:
    booked = await service.book("+12025550142")

    assert booked["to"] == "+12025550142"


@pytest.fixture
async def capped(database: Path, clock: ManualClock) -> AsyncIterator[tuple[Config, web.AppRunner]]:
    """The service as ``python -m dialajoke`` serves it, with room for two connections."""
    config = with_http(service_config(database), max_connections=2)
    runner = web.AppRunner(create_app(config, clock=clock))
    await runner.setup()
    sock = listen(config.http.host, config.http.port)
    await CappedSockSite(runner, sock, max_connections=2, clock=clock).start()
    yield config, runner
    await runner.cleanup()


async def open_connections(runner: web.AppRunner, config: Config, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection(config.http.host, config.http.port)
        writers.append(writer)
    assert runner.server is not None
    server = runner.server
    await wait_until(lambda: len(server.connections) == count, 5, f"{count} connections to be open")
    return writers


async def closed_at_once(config: Config) -> bool:
    reader, writer = await asyncio.open_connection(config.http.host, config.http.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: dialajoke\r\n\r\n")
        return await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_S) == b""
    except ConnectionResetError:
        return True
    finally:
        writer.close()


async def health(config: Config) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{config.public_url}/health") as response:
        return response.status


async def test_past_the_cap_a_new_connection_is_closed_at_once_and_health_answers_once_one_closes(
    capped: tuple[Config, web.AppRunner], caplog: pytest.LogCaptureFixture
) -> None:
    config, runner = capped
    idle = await open_connections(runner, config, 2)

    refused = await closed_at_once(config)
    idle[0].close()
    assert runner.server is not None
    server = runner.server
    await wait_until(lambda: len(server.connections) == 1, 5, "the closed connection to be gone")
    status = await health(config)
    idle[1].close()

    assert refused
    assert status == 200
    assert "refused 1 connection(s) since start-up: 2 are open, the most http.max_connections allows" in caplog.text


async def test_refused_connections_are_reported_at_most_once_per_ten_seconds_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(0)
    refusals = RefusalLog(clock, max_connections=512)

    for _ in range(3):
        refusals.refused()
    clock.advance(9.9)
    refusals.refused()
    first = [record.getMessage() for record in caplog.records]
    clock.advance(0.1)
    refusals.refused()

    assert first == ["refused 1 connection(s) since start-up: 512 are open, the most http.max_connections allows"]
    assert [record.getMessage() for record in caplog.records][1:] == [
        "refused 4 connection(s) since the last such report: 512 are open, the most http.max_connections allows"
    ]
    assert all(record.levelno == logging.WARNING for record in caplog.records)


@pytest.fixture
async def served(database: Path, clock: ManualClock) -> AsyncIterator[Config]:
    """The service run by ``serve``, as ``python -m dialajoke`` runs it, with a short idle timeout."""
    config = with_http(service_config(database), idle_timeout_s=BODY_TIMEOUT_S)
    serving = asyncio.create_task(serve(create_app(config, clock=clock), listen("127.0.0.1", config.http.port), config))
    await wait_until(lambda: health_answers(config), ANSWER_TIMEOUT_S, "the service to answer")
    yield config
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


async def health_answers(config: Config) -> bool:
    try:
        return await health(config) == 200
    except aiohttp.ClientConnectionError:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET /health HTTP/1.1\r\nHo"], ids=["nothing", "headers-that-never-end"])
async def test_a_connection_that_brings_no_whole_request_is_closed(served: Config, sent: bytes) -> None:
    reader, writer = await asyncio.open_connection(served.http.host, served.http.port)
    try:
        writer.write(sent)
        closed = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_S)
    finally:
        writer.close()

    assert closed == b""
    assert await health(served) == 200
