"""What authentication costs a booking: CPU per request, side by side in one process.

The real app (``create_app`` with the service's own settings, on a temporary database
and the embedded simulator) serves on a local port from this process, pinned to CPU 0.
Two things are timed, in turns, and the median of the rounds kept:

- **a whole booking**: ``POST /api/calls`` with a valid key, sent by wrk from CPU 1
  with 50 connections exactly as the HTTP benchmark sends them, each committed before
  its 201. This process's CPU time (every thread) per booking is the server's: HTTP,
  every middleware, the handler, the store's threads. (A client in this process would
  share its interpreter lock and inflate the figure.)
- **authenticating it**: the middlewares that authentication brought to every request
  (sessions, the access rule, CSRF), called directly on a booking request as aiohttp
  would after routing, with a valid key its first check has already cached, around a
  handler that does nothing; the answer's cookies, if any, are rendered as aiohttp
  renders them into its headers.

Authentication is part of the booking's CPU, so auth / booking is the share of booking
throughput it costs, against the target of at most 15%. For reference: the access
middleware alone, and the same middlewares on
a webhook (no key: its signature is its authentication), with a key seen for the
first time (read from the database, its last use written), with a revoked key (read
from the database every time: a refusal is not cached) and with a malformed one
(refused without a read), each one request after another. The scoping of each booking
to its owner, inside the handler, is counted in the booking, not in authentication.

    python -m bench.auth_bench [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request, unused_port
from aiohttp.typedefs import Handler, Middleware

from dialajoke import keys
from dialajoke.app import create_app
from dialajoke.config import load_config
from dialajoke.web import access_middleware, csrf_middleware, session_middleware
from dialajoke.web.problems import Problem

from .common import NO_PROTECTION, in_process_main, table
from .service_bench import booking_requests, load

PROJECT = Path(__file__).resolve().parent.parent
AUTH_MIDDLEWARES: tuple[Middleware, ...] = (
    session_middleware,
    access_middleware,
    csrf_middleware,
)
"""What authentication added to every request, last in the app's chain, in its order: sessions,
the access rule, CSRF."""
TARGET = 0.15
BATCH = 500
BOOKING, WEBHOOK = "/api/calls", "/webhook"
ANSWER = web.RequestKey("answer", web.StreamResponse)
"""Requests are built (outside the timing) and timed this many at a time."""


async def _answer(request: web.Request) -> web.StreamResponse:
    """The handler that does nothing: the answer made for the request beforehand."""
    answer: web.StreamResponse = request[ANSWER]
    return answer


def _chain(middlewares: tuple[Middleware, ...]) -> Handler:
    """The middlewares around a handler that does nothing, nested as aiohttp nests them."""
    handler: Handler = _answer
    for middleware in reversed(middlewares):
        handler = _bind(middleware, handler)
    return handler


def _bind(middleware: Middleware, handler: Handler) -> Handler:
    async def bound(request: web.Request) -> web.StreamResponse:
        return await middleware(request, handler)

    return bound


class Bench:
    """The app on a temporary database, a user ``bench`` and their key."""

    def __init__(self, folder: Path) -> None:
        port = unused_port()
        environ = {
            "DIALAJOKE_HTTP__PORT": str(port),
            "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DIALAJOKE_DATABASE__PATH": str(folder / "bench.sqlite3"),
            "DIALAJOKE_TEMPLATES_DIR": str(PROJECT / "templates"),
            "DIALAJOKE_STATIC_DIR": str(PROJECT / "static"),
            "DIALAJOKE_LOG_LEVEL": "ERROR",
            **NO_PROTECTION,
        }
        self.app = create_app(load_config(PROJECT / "config.dev.json", environ))
        self.server = TestServer(self.app, host="127.0.0.1", port=port)
        self.base_url = f"http://127.0.0.1:{port}"
        self.key = ""
        self.user_id = 0
        self._routed: dict[str, web.Request] = {}

    async def start(self) -> None:
        await self.server.start_server()
        accounts = self.app[keys.ACCOUNTS]
        user = await accounts.create_user("bench", None, admin=False)
        self.user_id = user.id
        self.key = await self.new_key()
        # As the service does once it is up: start-up's objects out of the collector's way.
        gc.collect()
        gc.freeze()

    async def new_key(self) -> str:
        _, key = await self.app[keys.ACCOUNTS].add_key(self.user_id, "bench")
        return key

    async def revoked_key(self) -> str:
        record, key = await self.app[keys.ACCOUNTS].add_key(self.user_id, "revoked")
        await self.app[keys.ACCOUNTS].revoke_key(self.user_id, record.id)
        return key

    def check_chain(self) -> None:
        """Refuse to time a chain the app no longer has."""
        if tuple(self.app.middlewares[-len(AUTH_MIDDLEWARES) :]) != AUTH_MIDDLEWARES:
            raise SystemExit(f"the app's middlewares changed: {self.app.middlewares}; update AUTH_MIDDLEWARES")

    async def request(self, key: str, path: str = BOOKING) -> web.Request:
        """A POST as the middlewares see it once aiohttp has routed it, with its answer (built outside the timing).

        Its body is never read: these middlewares read a body only for a page's form.
        """
        routed = self._routed.get(path)
        if routed is None:
            routed = self._routed[path] = make_mocked_request("POST", path, app=self.app)
            match_info = await self.app.router.resolve(routed)
            match_info.add_app(self.app)
            match_info.freeze()
            routed._match_info = match_info
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
        request = routed.clone(headers=headers)
        request[ANSWER] = web.Response(status=201)
        return request

    async def stop(self) -> None:
        await self.server.close()


async def middleware_cpu_us(
    bench: Bench, handler: Handler, keys_: Iterator[str], count: int, path: str = BOOKING
) -> float:
    """CPU (the whole process) per request of ``handler``, one request after another.

    The answer's cookies are rendered as aiohttp renders them into its headers; a 401 is caught.
    """

    async def one(request: web.Request) -> None:
        try:
            answer = await handler(request)
        except Problem as problem:
            if problem.status != 401:
                raise
        else:
            for cookie in answer.cookies.values():
                cookie.output(header="")

    cpu_ns = 0
    for start in range(0, count, BATCH):
        requests = [await bench.request(next(keys_), path) for _ in range(min(BATCH, count - start))]
        before = time.process_time_ns()
        for request in requests:
            await one(request)
        cpu_ns += time.process_time_ns() - before
    return cpu_ns / count / 1e3


async def booking_cpu_us(bench: Bench, requests_file: Path, duration_s: float) -> float:
    """This process's CPU per booking while wrk (another process, on the other core) books for ``duration_s``."""
    before = time.process_time()
    result = await asyncio.to_thread(load, bench.base_url, requests_file, duration_s, bench.key)
    spent = time.process_time() - before
    if result["non2xx"] or result["socket_errors"]:
        raise RuntimeError(f"{result['non2xx']} bookings were refused, {result['socket_errors']} failed")
    return float(spent / result["requests"] * 1e6)


async def run(quick: bool) -> dict[str, Any]:
    duration_s, checks, first_uses, rounds = (1.0, 2_000, 100, 1) if quick else (5.0, 10_000, 1_000, 5)
    bookings = booking_requests(5_000)
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        requests_file = Path(folder) / "bookings.txt"
        requests_file.write_text("\n".join(bookings) + "\n")
        bench = Bench(Path(folder))
        await bench.start()
        try:
            revoked = await bench.revoked_key()
            bench.check_chain()
            every_auth, access_only = _chain(AUTH_MIDDLEWARES), _chain((access_middleware,))
            # The key's first check, and a warm-up of every path, before anything is timed.
            await booking_cpu_us(bench, requests_file, 1.0)
            first_keys = iter(await asyncio.gather(*(bench.new_key() for _ in range(first_uses * rounds))))
            measures: dict[str, Callable[[], Awaitable[float]]] = {
                "booking": lambda: booking_cpu_us(bench, requests_file, duration_s),
                "auth": lambda: middleware_cpu_us(bench, every_auth, itertools.repeat(bench.key), checks),
                "access": lambda: middleware_cpu_us(bench, access_only, itertools.repeat(bench.key), checks),
                "webhook": lambda: middleware_cpu_us(bench, every_auth, itertools.repeat(""), checks, WEBHOOK),
                "first_use": lambda: middleware_cpu_us(bench, every_auth, first_keys, first_uses),
                "revoked": lambda: middleware_cpu_us(bench, every_auth, itertools.repeat(revoked), first_uses),
                "malformed": lambda: middleware_cpu_us(bench, every_auth, itertools.repeat("dj_nope"), checks),
            }
            for round_ in range(rounds):
                # In turns, the order reversed every other round, so no measure always follows the same one.
                for name in list(measures) if round_ % 2 == 0 else list(reversed(measures)):
                    samples.setdefault(name, []).append(await measures[name]())
        finally:
            await bench.stop()
    return {"rounds": rounds, "duration_s": duration_s, "checks": checks, "first_uses": first_uses, "cpu_us": samples}


def report(results: dict[str, Any]) -> str:
    cpu = {name: statistics.median(values) for name, values in results["cpu_us"].items()}
    booking = cpu["booking"]
    # Each round's auth and booking were timed side by side: the ratio is taken within a round.
    share = statistics.median(
        a / b for a, b in zip(results["cpu_us"]["auth"], results["cpu_us"]["booking"], strict=True)
    )
    rows: list[list[Any]] = [
        ["a whole booking, signed in (HTTP from wrk, 50 connections)", booking, "", "", ""],
        [
            "authentication of it, valid cached key (sessions, access, CSRF)",
            cpu["auth"],
            f"{share:.1%}",
            f"<= {TARGET:.0%}",
            "yes" if share <= TARGET else "NO",
        ],
        ["  the access middleware alone (the key check)", cpu["access"], f"{cpu['access'] / booking:.1%}", "", ""],
        ["a webhook (no key): the same middlewares", cpu["webhook"], "", "", ""],
        ["a key's first check (database read, last use written)", cpu["first_use"], "", "", ""],
        ["a revoked key (database read, 401)", cpu["revoked"], "", "", ""],
        ["a malformed key (401, no read)", cpu["malformed"], "", "", ""],
    ]
    title = (
        f"Authentication, CPU per request in one process, median of {results['rounds']}"
        f" (bookings for {results['duration_s']:g} s, {results['checks']:,} checks a round)"
    )
    return table(title, ["measure", "CPU µs/request", "of a booking", "target", "met"], rows)


def main(argv: list[str] | None = None) -> None:
    in_process_main(__doc__ or "", "auth", run, report, argv)


if __name__ == "__main__":
    main()
