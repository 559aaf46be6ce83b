"""Where jokes come from, and what happens when the joke API lets us down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from pytest_aiohttp import AiohttpServer

from dialajoke.calls.jokes import MAX_SPEAK_CHARS, HttpJokes, OfflineJokes, fit_for_speech

OFFLINE_JOKE = "An offline joke, told when the API cannot."

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CannedJokes:
    """A fallback that says which joke it told."""

    def __init__(self) -> None:
        self.told = 0

    async def joke(self) -> str:
        self.told += 1
        return OFFLINE_JOKE


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def fallback() -> CannedJokes:
    return CannedJokes()


async def joke_api(aiohttp_server: AiohttpServer, handler: Handler) -> TestServer:
    app = web.Application()
    app.router.add_get("/j", handler)
    return await aiohttp_server(app)


def http_jokes(session: aiohttp.ClientSession, url: str, fallback: CannedJokes, timeout_s: float = 5.0) -> HttpJokes:
    return HttpJokes(session, url, timeout_s=timeout_s, fallback=fallback)


# Offline jokes and fitting text for speech


async def test_offline_jokes_are_non_empty_and_short_enough_to_speak() -> None:
    source = OfflineJokes()

    for _ in range(20):
        text = await source.joke()
        assert text.strip()
        assert len(text) <= MAX_SPEAK_CHARS
        assert "\n" not in text


def test_fit_for_speech_flattens_whitespace() -> None:
    assert fit_for_speech("  Why did\nthe chicken\t\tcross\r\n the road?  ") == "Why did the chicken cross the road?"


def test_fit_for_speech_keeps_text_of_exactly_the_limit() -> None:
    text = ("a" * 9 + " ") * (MAX_SPEAK_CHARS // 10 - 1) + "b" * 10

    assert len(text) == MAX_SPEAK_CHARS
    assert fit_for_speech(text) == text


def test_fit_for_speech_cuts_long_text_at_a_word_boundary() -> None:
    words = [f"word{index}" for index in range(1000)]
    text = " ".join(words)
    assert len(text) > MAX_SPEAK_CHARS

    spoken = fit_for_speech(text)

    assert len(spoken) <= MAX_SPEAK_CHARS
    kept = spoken.removesuffix("…").rstrip()
    assert len(kept) > MAX_SPEAK_CHARS - 20
    assert text.startswith(kept)
    assert text[len(kept)] == " "
    assert kept.split() == words[: len(kept.split())]


def test_fit_for_speech_cuts_long_text_after_flattening() -> None:
    text = "ha\n\n\n\n" * 2000

    spoken = fit_for_speech(text)

    assert len(spoken) <= MAX_SPEAK_CHARS
    assert "\n" not in spoken
    assert spoken.removesuffix("…").split() == ["ha"] * len(spoken.removesuffix("…").split())


def test_fit_for_speech_cuts_one_endless_word_to_the_limit() -> None:
    spoken = fit_for_speech("x" * 5000)

    assert 0 < len(spoken) <= MAX_SPEAK_CHARS


# The joke API


async def test_http_jokes_tells_the_api_joke_and_asks_for_json(
    aiohttp_server: AiohttpServer, session: aiohttp.ClientSession, fallback: CannedJokes
) -> None:
    accepts: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        accepts.append(request.headers.get("Accept", ""))
        return web.json_response({"id": "R7UfaahVfFd", "joke": "My dog used to chase people on a bike.", "status": 200})

    server = await joke_api(aiohttp_server, handler)

    text = await http_jokes(session, str(server.make_url("/j")), fallback).joke()

    assert text == "My dog used to chase people on a bike."
    assert accepts == ["application/json"]
    assert fallback.told == 0


async def test_http_jokes_fits_the_api_joke_for_speech(
    aiohttp_server: AiohttpServer, session: aiohttp.ClientSession, fallback: CannedJokes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"joke": "Line one.\r\nLine   two. " + "blah " * 1000})

    server = await joke_api(aiohttp_server, handler)

    text = await http_jokes(session, str(server.make_url("/j")), fallback).joke()

    assert text.startswith("Line one. Line two. blah")
    assert len(text) <= MAX_SPEAK_CHARS


async def answer_500(request: web.Request) -> web.Response:
    return web.json_response({"joke": "not this one"}, status=500)


async def answer_without_joke(request: web.Request) -> web.Response:
    return web.json_response({"status": 200, "message": "no jokes today"})


async def answer_empty_joke(request: web.Request) -> web.Response:
    return web.json_response({"joke": "   "})


async def answer_a_list(request: web.Request) -> web.Response:
    return web.json_response([{"joke": "in a list"}])


async def answer_html(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>Why did the chicken...</body></html>", content_type="text/html")


@pytest.mark.parametrize("handler", [answer_500, answer_without_joke, answer_empty_joke, answer_a_list, answer_html])
async def test_http_jokes_falls_back_when_the_api_answers_badly(
    aiohttp_server: AiohttpServer,
    session: aiohttp.ClientSession,
    fallback: CannedJokes,
    caplog: pytest.LogCaptureFixture,
    handler: Handler,
) -> None:
    server = await joke_api(aiohttp_server, handler)
    url = str(server.make_url("/j"))

    with caplog.at_level(logging.WARNING, logger="dialajoke.calls.jokes"):
        text = await http_jokes(session, url, fallback).joke()

    assert text == OFFLINE_JOKE
    assert fallback.told == 1
    [record] = [record for record in caplog.records if record.name == "dialajoke.calls.jokes"]
    assert record.levelno == logging.WARNING
    assert url in record.getMessage()


async def test_http_jokes_falls_back_when_the_api_is_slower_than_the_timeout(
    aiohttp_server: AiohttpServer,
    session: aiohttp.ClientSession,
    fallback: CannedJokes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), timeout=1)
        return web.json_response({"joke": "too late"})

    server = await joke_api(aiohttp_server, slow)
    jokes = http_jokes(session, str(server.make_url("/j")), fallback, timeout_s=0.05)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="dialajoke.calls.jokes"):
        text = await jokes.joke()
    waited = loop.time() - started
    release.set()

    assert text == OFFLINE_JOKE
    assert waited < 0.5
    assert any(record.levelno == logging.WARNING for record in caplog.records)


async def test_http_jokes_falls_back_when_nothing_listens(
    session: aiohttp.ClientSession, fallback: CannedJokes, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{unused_port()}/j"

    with caplog.at_level(logging.WARNING, logger="dialajoke.calls.jokes"):
        text = await http_jokes(session, url, fallback).joke()

    assert text == OFFLINE_JOKE
    assert fallback.told == 1
    assert any(url in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
