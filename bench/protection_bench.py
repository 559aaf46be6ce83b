"""What protecting the callees costs a booking: CPU per booking with every rule on, and with every rule off.

Two services, each the real app (``create_app``) on a temporary database of its own and
the embedded simulator, serve on local ports from this process, pinned to CPU 0. wrk
(another process, on CPU 1, 50 connections, as the HTTP benchmark sends them) books on
one, then on the other, in turns, the order reversed every other round; this process's
CPU time (every thread) per booking is each service's cost, and the ratio of the two is
taken within each round, then the median of the rounds kept. Target: at most 1.2.

- **rules on**: every rule of ``protection`` checked on every booking: the destination
  (countries: the eight the bookings ring; the default number types), the calling hours
  on the callee's clock (``00:00-24:00``, enforced on the simulator too, so that every
  booking works out its number's zones and none is refused for the hour), the
  do-not-call list, and each limit counted in the database in the booking's own
  transaction: ``max_calls_per_number_per_day`` 3, ``max_pending_per_number_per_user`` 1,
  ``max_pending_per_user`` 20 and ``max_bookings_per_user_per_hour`` 30 (the defaults:
  each user books 20 calls, so the counts are as large as the defaults let them be), and
  ``max_calls_per_day`` 500: the bookings spread over 179 days (``scheduler.max_days_ahead``
  180), so each counts the 400 to 450 calls due in the day before it, near the limit.
- **rules off**: the same bookings with every limit 0, no calling hours, every country.

Each booking rings its own number (mobiles of eight countries), as one of a few thousand
users, each with their own API key, up to six months ahead.

    python -m bench.protection_bench [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from aiohttp.test_utils import TestServer, unused_port

from dialajoke import keys
from dialajoke.app import create_app
from dialajoke.config import load_config

from .common import NO_PROTECTION, in_process_main, table
from .service_bench import BOOKING_REGIONS, load

PROJECT = Path(__file__).resolve().parent.parent
TARGET = 1.2
BOOKINGS_PER_USER = 20
SPREAD_DAYS = 179
BOOKING_WINDOW = {"DIALAJOKE_SCHEDULER__MAX_DAYS_AHEAD": str(SPREAD_DAYS + 1)}
RULES_ON = {
    "DIALAJOKE_PROTECTION__CALLING_HOURS": "00:00-24:00",
    "DIALAJOKE_PROTECTION__CALLING_HOURS_ON_SIMULATOR": "true",
    "DIALAJOKE_PROTECTION__ALLOWED_COUNTRIES": ",".join(BOOKING_REGIONS),
    **BOOKING_WINDOW,
}
"""The defaults but for these: see the module's docstring."""
RULES_OFF = NO_PROTECTION | BOOKING_WINDOW


class Service:
    """The app on a temporary database, its users and their keys."""

    def __init__(self, folder: Path, name: str, protection: dict[str, str]) -> None:
        port = unused_port()
        environ = {
            "DIALAJOKE_HTTP__PORT": str(port),
            "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DIALAJOKE_DATABASE__PATH": str(folder / f"{name}.sqlite3"),
            "DIALAJOKE_TEMPLATES_DIR": str(PROJECT / "templates"),
            "DIALAJOKE_STATIC_DIR": str(PROJECT / "static"),
            "DIALAJOKE_LOG_LEVEL": "ERROR",
            **protection,
        }
        self.name = name
        self.app = create_app(load_config(PROJECT / "config.dev.json", environ))
        self.server = TestServer(self.app, host="127.0.0.1", port=port)
        self.base_url = f"http://127.0.0.1:{port}"

    async def start(self, users: int) -> list[str]:
        """Start, make ``users`` users, and return a key of each."""
        await self.server.start_server()
        accounts = self.app[keys.ACCOUNTS]

        async def user_key(index: int) -> str:
            user = await accounts.create_user(f"booker{index}", None, admin=False)
            _, key = await accounts.add_key(user.id, "bench")
            return key

        made: list[str] = []
        for start in range(0, users, 200):
            made += await asyncio.gather(*(user_key(index) for index in range(start, min(users, start + 200))))
        gc.collect()
        gc.freeze()
        return made

    async def stop(self) -> None:
        await self.server.close()


def numbers(count: int) -> list[str]:
    """Distinct valid mobile numbers in the eight countries (fixed seed)."""
    rng = random.Random(13)
    found: set[str] = set()
    while len(found) < count:
        example = phonenumbers.example_number_for_type(rng.choice(BOOKING_REGIONS), phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        digits = str(example.national_number)
        candidate = f"+{example.country_code}{digits[:-6]}{rng.randrange(1_000_000):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            found.add(candidate)
    return sorted(found)


def booking_lines(user_keys: list[str], to: list[str]) -> list[str]:
    """One booking per number, ``BOOKINGS_PER_USER`` per user, spread over ``SPREAD_DAYS`` days from tomorrow."""
    start = datetime.now(UTC) + timedelta(days=1)
    step_s = SPREAD_DAYS * 86400 / len(to)
    lines = []
    for index, number in enumerate(to):
        at = (start + timedelta(seconds=index * step_s)).isoformat()
        key = user_keys[index // BOOKINGS_PER_USER]
        lines.append(f"/api/calls\t\t\t{json.dumps({'to': number, 'at': at})}\t{key}")
    return lines


MOST_PER_S = 2_500
"""More bookings a second than one core has served."""
IN_FLIGHT = 200
"""More than the bookings wrk's 50 connections may have sent when a run ends without counting them."""


class Bookings:
    """A service's bookings, each sent once: every run starts after what the runs before it sent."""

    def __init__(self, service: Service, lines: list[str], folder: Path) -> None:
        self.service = service
        self._lines = lines
        self._file = folder / f"{service.name}.txt"
        self._sent = 0

    async def cpu_us(self, duration_s: float) -> float:
        """This process's CPU per booking while wrk books for ``duration_s``; every booking must be taken."""
        if len(self._lines) - self._sent < duration_s * MOST_PER_S + IN_FLIGHT:
            raise RuntimeError("too few bookings left for another run: make more users")
        self._file.write_text("\n".join(self._lines[self._sent :]) + "\n")
        before = time.process_time()
        result = await asyncio.to_thread(load, self.service.base_url, self._file, duration_s, "")
        spent = time.process_time() - before
        self._sent += result["requests"] + IN_FLIGHT
        if result["non2xx"] or result["socket_errors"]:
            raise RuntimeError(
                f"{self.service.name}: {result['non2xx']} bookings were refused, {result['socket_errors']} failed:"
                " a limit was reached, so the bench is not measuring what it says"
            )
        return float(spent / result["requests"] * 1e6)


async def run(quick: bool) -> dict[str, Any]:
    duration_s, rounds, users = (1.0, 1, 1000) if quick else (3.0, 7, 4000)
    to = numbers(users * BOOKINGS_PER_USER)
    samples: dict[str, list[float]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as folder:
        services = {"on": Service(Path(folder), "on", RULES_ON), "off": Service(Path(folder), "off", RULES_OFF)}
        bookings: dict[str, Bookings] = {}
        try:
            for name, service in services.items():
                bookings[name] = Bookings(service, booking_lines(await service.start(users), to), Path(folder))
            for name in services:
                await bookings[name].cpu_us(1.0)  # warm-up: first requests, caches
            for round_ in range(rounds):
                for name in ["on", "off"] if round_ % 2 == 0 else ["off", "on"]:
                    samples[name].append(await bookings[name].cpu_us(duration_s))
        finally:
            for service in services.values():
                await service.stop()
    return {"rounds": rounds, "duration_s": duration_s, "users": users, "cpu_us": samples}


def report(results: dict[str, Any]) -> str:
    on, off = results["cpu_us"]["on"], results["cpu_us"]["off"]
    ratio = statistics.median(a / b for a, b in zip(on, off, strict=True))
    rows: list[list[Any]] = [
        ["a booking, every rule off", statistics.median(off), "", "", ""],
        [
            "a booking, every rule on",
            statistics.median(on),
            f"{ratio:.2f}x",
            f"<= {TARGET:.1f}x",
            "yes" if ratio <= TARGET else "NO",
        ],
    ]
    title = (
        f"Protection, CPU per booking over HTTP, median of {results['rounds']} rounds"
        f" ({results['duration_s']:g} s each, {results['users']:,} users)"
    )
    return table(title, ["measure", "CPU µs/booking", "of rules off", "target", "met"], rows)


def main(argv: list[str] | None = None) -> None:
    in_process_main(__doc__ or "", "protection", run, report, argv)


if __name__ == "__main__":
    main()
