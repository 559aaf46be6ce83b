"""What every benchmark shares: the machine it ran on, percentiles, tables, JSON results."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from importlib import metadata
from pathlib import Path
from typing import Any

from dialajoke.store.sqlite import CHECKPOINT_EVERY
from dialajoke.store.sqlite_thread import SqliteThread

RESULTS = Path(__file__).resolve().parent / "results"
PROJECT = RESULTS.parent.parent
SERVER_CPU, LOAD_CPU = 0, 1
"""The service under test runs on one core and what loads it on the other, where the machine has two."""
PACKAGES = ("aiohttp", "PyNaCl", "phonenumbers", "APScheduler")
NO_PROTECTION = {
    "DIALAJOKE_PROTECTION__CALLING_HOURS": "",
    "DIALAJOKE_PROTECTION__ALLOWED_COUNTRIES": "*",
    **{
        f"DIALAJOKE_PROTECTION__{name.upper()}": "0"
        for name in (
            "max_calls_per_number_per_day",
            "max_pending_per_number_per_user",
            "max_pending_per_user",
            "max_bookings_per_user_per_hour",
            "admin_max_pending_per_user",
            "admin_max_bookings_per_user_per_hour",
            "max_calls_per_day",
        )
    },
}
"""Every rule that protects callees off: the other benchmarks book thousands of calls as one user,
at whatever hour the wall clock says, to measure something else. bench/protection_bench.py
measures what the rules cost."""


def machine() -> dict[str, Any]:
    """Enough about the machine to compare runs: CPU, cores, memory, Python, package versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": {name: _version(name) for name in PACKAGES},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def pinned(cpu: int) -> list[str]:
    """The command prefix that keeps a process on ``cpu`` (nothing where that is not possible)."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def pin_this_process(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(samples_s, 0.50) * 1e3,
        "p99_ms": percentile(samples_s, 0.99) * 1e3,
        "max_ms": max(samples_s, default=float("nan")) * 1e3,
        "mean_ms": statistics.fmean(samples_s) * 1e3 if samples_s else float("nan"),
    }


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(item)) for item in column) for column in zip(header, *cells, strict=True)]
    lines = [f"\n{title}", "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "commit": git_commit(), **results}, default=float))
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def open_durable_writer(database: Path, schema: str = "") -> SqliteThread:
    """The service's group-commit writer on ``database`` (WAL, full sync), for the floors that write durably."""

    def set_up(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if schema:
            db.executescript(schema)

    return await SqliteThread.open(
        database, group_commit=True, setup=set_up, name="sqlite writer", checkpoint_every=CHECKPOINT_EVERY
    )


def add_user(service_env: dict[str, str], name: str, *, admin: bool = False) -> str:
    """A key of a new user, made as an operator would: the last line ``python -m dialajoke users add`` prints."""
    command = [sys.executable, "-m", "dialajoke", "users", "add", name, *(["--admin"] if admin else [])]
    done = subprocess.run(
        command,
        cwd=PROJECT,
        env={**os.environ, **service_env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{' '.join(command[1:])} failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def in_process_main(
    doc: str,
    name: str,
    run: Callable[[bool], Coroutine[Any, Any, dict[str, Any]]],
    report: Callable[[dict[str, Any]], str],
    argv: list[str] | None = None,
) -> None:
    """The command line of a benchmark whose server runs in this process (pinned to ``SERVER_CPU``)
    while wrk loads it: ``--quick``, its table, and its results in ``bench/results/NAME.json``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one round: checks the harness, not the numbers"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it)")
    pin_this_process(SERVER_CPU)
    results = asyncio.run(run(args.quick))
    print(report(results))
    path = write_results(f"{name}-quick" if args.quick else name, results)
    print(f"\nraw results and machine: {path}")
