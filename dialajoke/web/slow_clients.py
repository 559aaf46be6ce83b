"""Slow and greedy clients: a body that trickles in is cut off, and open connections are capped.

Each connection holds a file descriptor and some memory for as long as its client likes;
without these limits a few hundred idle or trickling connections would leave nothing for
``/health``, for Telnyx's webhooks or for the people booking calls. Behind a reverse proxy
the proxy should enforce the same limits, earlier and cheaper (README: Deploying).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..clock import Clock
from .problems import Problem

logger = logging.getLogger(__name__)

REFUSAL_LOG_INTERVAL_S = 10.0


def read_body_in_time(timeout_s: float) -> Middleware:
    """A middleware reading each request's whole body within ``timeout_s``, else answering 408.

    aiohttp keeps the body read here, so the handler's ``read()``, ``json()`` or ``post()``
    of an urlencoded form takes it from memory. A multipart form, which aiohttp parses from
    the stream itself, is then refused as unreadable: nothing the service offers sends one.
    What is left of a body cut off is read and dropped by aiohttp for at most its lingering
    time (10 s) before the connection is closed.
    """

    @web.middleware
    async def body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(timeout_s):
                    await request.read()
            except TimeoutError:
                raise Problem.of("request-timeout", 408, _too_slow(timeout_s)) from None
        return await handler(request)

    return body_in_time


def _too_slow(timeout_s: float) -> str:
    return (
        f"The request body did not arrive within {timeout_s:g} s of its headers (http.body_timeout_s):"
        " send the whole body at once, or ask the operator for a longer http.body_timeout_s."
    )


class RefusalLog:
    """Says that connections are being refused at most once per ``interval_s``, with how many since the last time.

    A flood of connections must not become a flood of log lines.
    """

    def __init__(self, clock: Clock, max_connections: int, interval_s: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self._clock = clock
        self._max_connections = max_connections
        self._interval_s = interval_s
        self._last_logged: float | None = None
        self._unlogged = 0

    def refused(self) -> None:
        self._unlogged += 1
        now = self._clock.time()
        if self._last_logged is not None and now - self._last_logged < self._interval_s:
            return
        logger.warning(
            "refused %d connection(s) since %s: %d are open, the most http.max_connections allows",
            self._unlogged,
            "the last such report" if self._last_logged is not None else "start-up",
            self._max_connections,
        )
        self._last_logged = now
        self._unlogged = 0


class _Refused(asyncio.Protocol):
    """A connection past the cap: closed as soon as it is made, before a byte is read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport), "a TCP connection's transport"
        transport.abort()


class CappedSockSite(web.SockSite):
    """aiohttp's SockSite, refusing a new connection at once while ``max_connections`` are open.

    Refused rather than queued: a client queued behind idle connections would wait for
    nothing, whereas a refused one can try again, and a proxy in front retries elsewhere or
    queues it itself. A connection accepted is counted from the moment it is handed its
    protocol, so that a burst of connections accepted together cannot slip past the cap.
    """

    __slots__ = ("_max_connections", "_opening", "_refusals")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, *, max_connections: int, clock: Clock, backlog: int = 128
    ) -> None:
        super().__init__(runner, sock, backlog=backlog)
        self._max_connections = max_connections
        self._refusals = RefusalLog(clock, max_connections)
        self._opening = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, sock=self._sock, backlog=self._backlog)

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None, "the runner is set up before its site starts"
        if len(server.connections) + self._opening >= self._max_connections:
            self._refusals.refused()
            return _Refused()
        # The transport tells the protocol its connection is made in a callback it schedules
        # right after this one; until then the server does not count the connection.
        self._opening += 1
        asyncio.get_running_loop().call_soon(self._opened)
        return server()

    def _opened(self) -> None:
        self._opening -= 1
