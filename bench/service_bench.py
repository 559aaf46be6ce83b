"""The service's HTTP endpoints against bare aiohttp handlers doing only the unavoidable.

Each server runs as its own process pinned to CPU 0; wrk (Debian's package) loads it
from CPU 1 with 50 connections. The server's CPU time per request (every thread) is
noted too: with the server held to one core, it is what sets the throughput. Runs of
the bare server and of the service alternate, and the median of the runs is kept, so
both see the same machine.

- POST /webhook: the service verifies the Ed25519 signature, parses the event and
  records it durably (the duplicate check) before answering; the bare handler only
  verifies the signature, which is the physical floor for this endpoint.
- For both POST endpoints a third server, the bare handler plus one durable write
  (the request's row committed through the service's group-commit writer, nothing
  else), shows what durability alone costs on this runtime.
- For POST /api/calls a fourth, that durable handler also checking the number to call
  exactly as the service does (phonenumbers), shows the floor of a booking endpoint
  that may dial only real, affordable numbers.
- GET /health, for reference: what routing, the middlewares and one read of the store
  cost on their own.
- POST /api/calls: the service checks the API key, validates the request and commits
  the call before the 201; the bare handler parses the JSON and answers. The bookings
  go to 5,000 distinct numbers in eight countries, so no cache of recent numbers could
  flatter the result. Every booking is signed in, with the key of a user made as an
  operator would (``python -m dialajoke users add``); the bare servers ignore the
  header, so they stay the floor without authentication. Webhooks carry no key: their
  signature is their authentication.

    python -m bench.service_bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.signing
import phonenumbers
from aiohttp.test_utils import unused_port

from dialajoke.telnyx.signing import public_key_b64, sign

from .common import LOAD_CPU, NO_PROTECTION, SERVER_CPU, add_user, pinned, table, write_results

PROJECT = Path(__file__).resolve().parent.parent
LOAD_SCRIPT = Path(__file__).resolve().parent / "load.lua"
CONNECTIONS = 50
BENCH_USER = "bench"
BOOKING_REGIONS = ("US", "GB", "DE", "FR", "IE", "AU", "IN", "BR")
HEALTH = ["/health\t\t\t"]
"""GET /health: the framework's share (routing, middlewares, one read of the store) alone."""
BARE, DURABLE, CHECKED, OURS = (
    "bare aiohttp",
    "bare + durable write",
    "bare + number check + durable write",
    "Dial-A-Joke",
)
FLOOR_ENDPOINTS = {DURABLE: ("webhook", "api_calls"), CHECKED: ("api_calls",)}
"""The endpoints each floor is run for: those that must write (and check a number) before answering."""


class Server:
    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*pinned(SERVER_CPU), sys.executable, *args],
                cwd=PROJECT,
                env={**os.environ, **env},
                stdout=out,
                stderr=out,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def cpu_s(self) -> float:
        """CPU time (user and system, every thread) the server process has used so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def webhook_requests(signing_key: nacl.signing.SigningKey, count: int) -> list[str]:
    """Signed events with distinct ids (each is a first delivery) for calls the service does not know."""
    now = int(time.time())
    lines = []
    for _ in range(count):
        body = json.dumps(
            {
                "data": {
                    "record_type": "event",
                    "event_type": "call.cost",
                    "id": str(uuid.uuid4()),
                    "occurred_at": "2026-11-24T09:00:00Z",
                    "payload": {"call_control_id": "v3:" + uuid.uuid4().hex, "client_state": None},
                }
            }
        )
        headers = sign(signing_key, body.encode(), now)
        lines.append(f"/webhook\t{headers['telnyx-timestamp']}\t{headers['telnyx-signature-ed25519']}\t{body}")
    return lines


def booking_requests(count: int) -> list[str]:
    """Bookings a week ahead, to distinct valid numbers in several countries (fixed seed)."""
    rng = random.Random(4)
    at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    numbers: set[str] = set()
    while len(numbers) < count:
        region = rng.choice(BOOKING_REGIONS)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        digits = str(example.national_number)
        candidate = f"+{example.country_code}{digits[:-4]}{rng.randrange(10_000):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            numbers.add(candidate)
    return [f"/api/calls\t\t\t{json.dumps({'to': number, 'at': at})}" for number in sorted(numbers)]


def load(url: str, requests_file: Path, duration_s: float, api_key: str) -> dict[str, Any]:
    """wrk's summary of replaying ``requests_file`` at ``url``; ``api_key`` goes on every /api/ request."""
    command = [*pinned(LOAD_CPU), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration_s:g}s", "-s", str(LOAD_SCRIPT), url]
    output = subprocess.run(
        [*command, "--", str(requests_file), api_key], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run(quick: bool) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it)")
    duration_s, rounds = (2.0, 1) if quick else (10.0, 3)
    signing_key = nacl.signing.SigningKey.generate()
    public_key = public_key_b64(signing_key)
    results: dict[str, Any] = {"duration_s": duration_s, "rounds": rounds, "connections": CONNECTIONS, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        bookings = booking_requests(5_000)
        servers, api_key = _start_servers(tmp, public_key)
        try:
            _check_signed_in(servers[-1], bookings[0], api_key)
            for endpoint, requests in (("webhook", None), ("api_calls", bookings), ("health", HEALTH)):
                for _ in range(rounds):
                    for server in servers:
                        if endpoint not in FLOOR_ENDPOINTS.get(server.name, (endpoint,)):
                            continue
                        lines = requests or webhook_requests(signing_key, int(duration_s * 12_000))
                        requests_file = tmp / f"{endpoint}.txt"
                        requests_file.write_text("\n".join(lines) + "\n")
                        runs = results["runs"].setdefault(endpoint, {}).setdefault(server.name, [])
                        cpu_before = server.cpu_s()
                        result = load(server.url, requests_file, duration_s, api_key)
                        result["cpu_us_per_request"] = (server.cpu_s() - cpu_before) / result["requests"] * 1e6
                        runs.append(result)
        finally:
            for server in servers:
                server.stop()
    return results


def _start_servers(tmp: Path, public_key: str) -> tuple[list[Server], str]:
    """The four servers, ready, with the service last; and an API key it accepts."""
    bare_port, durable_port, checked_port, service_port = unused_port(), unused_port(), unused_port(), unused_port()
    bare = Server(
        BARE,
        ["-m", "bench.bare_server", "--port", str(bare_port), "--public-key", public_key],
        {},
        bare_port,
        tmp / "bare.log",
    )
    durable_args = ["--port", str(durable_port), "--public-key", public_key, "--database", str(tmp / "bare.sqlite3")]
    durable = Server(DURABLE, ["-m", "bench.bare_server", *durable_args], {}, durable_port, tmp / "durable.log")
    checked_args = ["--port", str(checked_port), "--public-key", public_key, "--database", str(tmp / "checked.sqlite3")]
    checked = Server(
        CHECKED, ["-m", "bench.bare_server", *checked_args, "--check-numbers"], {}, checked_port, tmp / "checked.log"
    )
    service_env = {
        "DIALAJOKE_HTTP__PORT": str(service_port),
        "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{service_port}",
        "DIALAJOKE_DATABASE__PATH": str(tmp / "bench.sqlite3"),
        "DIALAJOKE_LOG_LEVEL": "ERROR",
        "DIALAJOKE_TELNYX__API_KEY": "KEYbenchmark",
        "DIALAJOKE_TELNYX__CONNECTION_ID": "1234567890",
        "DIALAJOKE_TELNYX__FROM_NUMBER": "+13125550100",
        "DIALAJOKE_TELNYX__PUBLIC_KEY": public_key,
        "DIALAJOKE_TELNYX__API_BASE_URL": f"http://127.0.0.1:{unused_port()}/v2",
        **NO_PROTECTION,
    }
    api_key = add_user(service_env, BENCH_USER)
    service = Server(OURS, ["-m", "dialajoke"], service_env, service_port, tmp / "service.log")
    servers = [bare, durable, checked, service]
    for server in servers:
        server.wait_ready()
    return servers, api_key


def _check_signed_in(service: Server, booking: str, api_key: str) -> None:
    """One booking is refused without the key and accepted with it: the load measures a signed-in service."""
    path, _, _, body = booking.split("\t", 3)
    for key, expected in (("", 401), (api_key, 201)):
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
        request = urllib.request.Request(service.url + path, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != expected:
            raise RuntimeError(f"a booking {'with' if key else 'without'} the key got {status}, not {expected}")


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def report(results: dict[str, Any]) -> str:
    rows = []
    targets = {"webhook": ">= 0.85x", "api_calls": ">= 0.5x", "health": "(for reference)"}
    labels = {
        "webhook": "POST /webhook (verify, parse, durable dedupe)",
        "api_calls": "POST /api/calls (signed in, durable)",
        "health": "GET /health",
    }
    for endpoint, by_server in results["runs"].items():
        bare, ours = by_server[BARE], by_server[OURS]
        durable, checked = by_server.get(DURABLE), by_server.get(CHECKED)
        bare_rps = median(bare, "rps")
        rows.append(
            [
                labels[endpoint],
                bare_rps,
                median(durable, "rps") / bare_rps if durable else "",
                median(checked, "rps") / bare_rps if checked else "",
                median(ours, "rps"),
                median(ours, "rps") / bare_rps,
                targets[endpoint],
                median(bare, "cpu_us_per_request"),
                median(durable, "cpu_us_per_request") if durable else "",
                median(checked, "cpu_us_per_request") if checked else "",
                median(ours, "cpu_us_per_request"),
                median(bare, "p99_us") / 1e3,
                median(ours, "p99_us") / 1e3,
                sum(run["non2xx"] + run["socket_errors"] for runs in by_server.values() for run in runs),
            ]
        )
    title = (
        f"HTTP, wrk -t1 -c{results['connections']} for {results['duration_s']:g} s, median of {results['rounds']}"
        " (server on CPU 0, load on CPU 1)"
    )
    header = [
        "endpoint",
        "bare req/s",
        "bare + durable write, ratio",
        "bare + number check + durable write, ratio",
        "Dial-A-Joke req/s",
        "ratio",
        "target",
        "bare CPU µs/req",
        "bare + durable CPU µs/req",
        "bare + check + durable CPU µs/req",
        "ours CPU µs/req",
        "bare p99 ms",
        "ours p99 ms",
        "errors",
    ]
    return table(title, header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs: checks the harness, not the numbers")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print(report(results))
    path = write_results("service-quick" if args.quick else "service", results)
    print(f"\nraw results and machine: {path}")


if __name__ == "__main__":
    main()
