"""A million calls pending in the database: how fast the service answers after start, in how much memory.

The database is filled directly (the service's own schema, one transaction), with
calls due evenly over the next 29 days; then the service starts on it as a process,
and the time to its first answer on /health and its resident memory are measured.

    python -m bench.million_bench [--quick]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from aiohttp.test_utils import unused_port

from dialajoke.store.sqlite import SCHEMA

from .common import add_user, table, write_results

PROJECT = Path(__file__).resolve().parent.parent
SPREAD_S = 29 * 24 * 3600


def fill(database: Path, count: int) -> float:
    """Insert ``count`` scheduled calls; returns the seconds it took."""
    started = time.perf_counter()
    now = time.time()
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO calls (ref, direction, to_number, from_number, due_at, timezone, status, created_at,"
            " updated_at) VALUES (?, 'outbound', '+12025550142', '+13125550100', ?, 'UTC', 'scheduled', ?, ?)",
            ((uuid.uuid4().hex, now + 60 + SPREAD_S * index / count, now, now) for index in range(count)),
        )
        db.execute(
            "INSERT INTO call_events (call_id, at, status, detail)"
            " SELECT id, created_at, 'scheduled', 'booked' FROM calls"
        )
    return time.perf_counter() - started


def start_and_measure(database: Path) -> dict[str, Any]:
    port = unused_port()
    env = {
        "DIALAJOKE_HTTP__PORT": str(port),
        "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DIALAJOKE_DATABASE__PATH": str(database),
        "DIALAJOKE_LOG_LEVEL": "WARNING",
    }
    admin_key = add_user(env, "bench", admin=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "dialajoke"],
        cwd=PROJECT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first_answer_s = _wait_for_health(port, started)
        time.sleep(1.0)
        info_request = urllib.request.Request(
            f"http://127.0.0.1:{port}/info", headers={"Authorization": f"Bearer {admin_key}"}
        )
        with urllib.request.urlopen(info_request, timeout=10) as response:
            info = response.read().decode()
        return {"first_answer_s": first_answer_s, "rss_mb": _rss_mb(process.pid), "info": info}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_health(port: int, started: float) -> float:
    deadline = started + 120
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("the service did not answer within 120 s")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(quick: bool) -> dict[str, Any]:
    sizes = [0, 20_000] if quick else [0, 1_000_000]
    results: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            database = Path(folder) / f"calls-{count}.sqlite3"
            fill_s = fill(database, count)
            measured = start_and_measure(database)
            results["runs"].append({"pending": count, "fill_s": fill_s, **measured})
    return results


def report(results: dict[str, Any]) -> str:
    rows = [
        [f"{run['pending']:,}", run["first_answer_s"], run["rss_mb"], "<= 3 s, < 150 MB"] for run in results["runs"]
    ]
    return table(
        "Start-up on a database of pending calls", ["calls pending", "first answer (s)", "RSS (MB)", "target"], rows
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 calls instead of a million")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print(report(results))
    path = write_results("million-quick" if args.quick else "million", results)
    print(f"\nraw results and machine: {path}")


if __name__ == "__main__":
    main()
