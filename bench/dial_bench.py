"""From due time to dial request sent: calls firing at 1,000 a second with 100,000 and 1,000,000 pending.

The database is filled directly with the pending calls; 10,000 of them fall due at
1,000 a second a few seconds after the service starts, the rest a week later. The
service runs as a process with its dial limits raised, pinned to CPU 0, talking to a
stand-in Telnyx in this process (on CPU 1) that notes when each dial request arrives.
Lateness is arrival minus due time; each size runs five times and the medians are kept.
The first 100 calls to fall due warm each program up and are not measured.

The floor, run the same way and alternating with the service: ``bench.bare_dialer``,
a timer, the durable mark and the POST, nothing else. The target is absolute (p99
≤ 5 ms), so the floor says how much of a result is the machine (its fsyncs, its
neighbours) and how much is the service.

    python -m bench.dial_bench [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import unused_port

from dialajoke.store.sqlite import SCHEMA

from .common import LOAD_CPU, NO_PROTECTION, SERVER_CPU, pin_this_process, pinned, summary_ms, table, write_results

PROJECT = Path(__file__).resolve().parent.parent
RATE_PER_S = 1000
ROUNDS = 5
START_DELAY_S = 8.0
WARM_UP_CALLS = 100


def fill(database: Path, firing: int, pending: int) -> dict[str, float]:
    """Schedule ``pending - firing`` calls a week ahead, then ``firing`` calls at RATE_PER_S from START_DELAY_S on.

    The due times of the firing calls are fixed only once the slow part (the rest) is
    written and flushed to disk, so that the service has START_DELAY_S to start whatever
    the database's size. WARM_UP_CALLS more, due just before the firing ones at the same
    rate, are dialed but not measured: a program's first dial also opens its first
    connection to Telnyx and its first write transaction, which a service that has been
    up for a while has long done. Returns the measured calls' due times by ref.
    """
    sql = (
        "INSERT INTO calls (ref, direction, to_number, from_number, due_at, timezone, status, created_at,"
        " updated_at) VALUES (?, 'outbound', '+12025550142', '+13125550100', ?, 'UTC', 'scheduled', 0, 0)"
    )
    week_ahead = time.time() + 7 * 24 * 3600
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        db.executemany(sql, ((uuid.uuid4().hex, week_ahead + index) for index in range(pending - firing)))
    # Left in the page cache, the fill's hundreds of megabytes would be written back while
    # the program runs, holding up its fsyncs: whichever program ran would pay for the fill.
    os.sync()
    first_due = time.time() + START_DELAY_S
    dues = {uuid.uuid4().hex: first_due + index / RATE_PER_S for index in range(WARM_UP_CALLS + firing)}
    with sqlite3.connect(database) as db:
        db.executemany(sql, dues.items())
    return dict(list(dues.items())[WARM_UP_CALLS:])


async def stand_in_telnyx(port: int, arrivals: dict[str, float], expected: int, all_in: asyncio.Event) -> web.AppRunner:
    async def dial(request: web.Request) -> web.Response:
        arrived = time.time()
        body = await request.json()
        arrivals[body["command_id"].removesuffix(":dial")] = arrived
        if len(arrivals) >= expected:
            all_in.set()
        return web.json_response({"data": {"call_control_id": "v3:" + uuid.uuid4().hex, "is_alive": False}})

    app = web.Application()
    app.router.add_post("/v2/calls", dial)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


SERVICE, FLOOR = "Dial-A-Joke", "bare dialer"


async def measure(firing: int, pending: int, program: str = SERVICE) -> dict[str, Any]:
    telnyx_port, service_port = unused_port(), unused_port()
    arrivals: dict[str, float] = {}
    all_in = asyncio.Event()
    runner = await stand_in_telnyx(telnyx_port, arrivals, WARM_UP_CALLS + firing, all_in)
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "calls.sqlite3"
        dues = fill(database, firing, pending)
        telnyx_url = f"http://127.0.0.1:{telnyx_port}/v2"
        env = {
            **os.environ,
            "DIALAJOKE_HTTP__PORT": str(service_port),
            "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{service_port}",
            "DIALAJOKE_DATABASE__PATH": str(database),
            "DIALAJOKE_LOG_LEVEL": "ERROR",
            "DIALAJOKE_TELNYX__API_KEY": "KEYbenchmark",
            "DIALAJOKE_TELNYX__CONNECTION_ID": "1234567890",
            "DIALAJOKE_TELNYX__FROM_NUMBER": "+13125550100",
            "DIALAJOKE_TELNYX__PUBLIC_KEY": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "DIALAJOKE_TELNYX__API_BASE_URL": telnyx_url,
            "DIALAJOKE_TELNYX__MAX_DIALS_PER_SECOND": str(RATE_PER_S * 10),
            "DIALAJOKE_TELNYX__MAX_CONCURRENT_CALLS": str(WARM_UP_CALLS + firing + 1),
            "DIALAJOKE_CALLS__STALE_AFTER_S": "86400",
            **NO_PROTECTION,
        }
        args = ["-m", "dialajoke"]
        if program == FLOOR:
            args = ["-m", "bench.bare_dialer", "--database", str(database), "--telnyx-url", telnyx_url]
        service = await asyncio.create_subprocess_exec(*pinned(SERVER_CPU), sys.executable, *args, cwd=PROJECT, env=env)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), START_DELAY_S + (WARM_UP_CALLS + firing) / RATE_PER_S + 30)
        finally:
            service.terminate()
            await service.wait()
    await runner.cleanup()
    late_s = [arrivals[ref] - due for ref, due in dues.items() if ref in arrivals]
    return {
        "program": program,
        "firing": firing,
        "pending": pending,
        "dialed": len(late_s),
        **summary_ms(late_s),
        "late_s": late_s,
    }


def median_run(firing: int, pending: int, rounds: int) -> dict[str, Any]:
    """The floor and the service in turn, ``rounds`` times; medians of each, with the raw samples of its median run."""
    runs: dict[str, list[dict[str, Any]]] = {FLOOR: [], SERVICE: []}
    for _ in range(rounds):
        for program, program_runs in runs.items():
            program_runs.append(asyncio.run(measure(firing, pending, program)))
    return {"firing": firing, "pending": pending, **{program: _medians(runs[program]) for program in runs}}


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    for run in runs:
        run["late_s"] = [round(late, 6) for late in run["late_s"]]
    keys = ("p50_ms", "p99_ms", "max_ms", "mean_ms")
    return {
        **sorted(runs, key=lambda run: run["p99_ms"])[len(runs) // 2],
        **{key: statistics.median(run[key] for run in runs) for key in keys},
        "dialed": min(run["dialed"] for run in runs),
        "rounds": [{key: run[key] for key in (*keys, "dialed")} for run in runs],
    }


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            f"{run['firing']:,} at {RATE_PER_S:,}/s, {run['pending']:,} pending",
            f"{run[FLOOR]['dialed']:,} / {run[SERVICE]['dialed']:,}",
            run[FLOOR]["p50_ms"],
            run[FLOOR]["p99_ms"],
            run[FLOOR]["max_ms"],
            run[SERVICE]["p50_ms"],
            run[SERVICE]["p99_ms"],
            run[SERVICE]["max_ms"],
            "p99 <= 5 ms",
        ]
        for run in results["runs"]
    ]
    header = [
        "calls",
        "dialed (floor / ours)",
        "floor p50 ms",
        "floor p99 ms",
        "floor max ms",
        "ours p50 ms",
        "ours p99 ms",
        "ours max ms",
        "target",
    ]
    title = f"Due time to dial request received by Telnyx, median of {results['rounds']}"
    return table(title, header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 calls firing, 5,000 pending")
    args = parser.parse_args(argv)
    pin_this_process(LOAD_CPU)
    sizes = [(500, 5_000)] if args.quick else [(10_000, 100_000), (10_000, 1_000_000)]
    rounds = 1 if args.quick else ROUNDS
    results = {"rounds": rounds, "runs": [median_run(firing, pending, rounds) for firing, pending in sizes]}
    print(report(results))
    path = write_results("dial-quick" if args.quick else "dial", results)
    print(f"\nraw samples and machine: {path}")


if __name__ == "__main__":
    main()
