"""The floor to measure the service's dialing against: a timer, a durable mark and a POST, nothing else.

It reads the calls due within the next hour from the service's database, and at each
one's due time marks it ``dialing`` (one UPDATE committed with ``synchronous=FULL``
through the same group-commit writer the service uses) and, once that is on disk,
sends the dial request to Telnyx. No dial gate, no timeline, no retries, no watchdog:
what is left is what any service that must not lose a dial to a crash has to do.

    python -m bench.bare_dialer --database PATH --telnyx-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp

from .common import open_durable_writer

HORIZON_S = 3600.0


async def dial_all(database: Path, telnyx_url: str) -> None:
    writer = await open_durable_writer(database)
    due = await writer.run(_due_within_horizon)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    dials: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as session:

        async def dial(call_id: int, ref: str, to: str, from_: str) -> None:
            await writer.run(lambda db: db.execute("UPDATE calls SET status = 'dialing' WHERE id = ?", (call_id,)))
            body = {"to": to, "from": from_, "connection_id": "1234567890", "command_id": f"{ref}:dial"}
            async with session.post(f"{telnyx_url}/calls", json=body) as response:
                await response.read()

        def fire(call_id: int, ref: str, to: str, from_: str) -> None:
            task = loop.create_task(dial(call_id, ref, to, from_))
            dials.add(task)
            task.add_done_callback(dials.discard)

        offset = loop.time() - time.time()
        for call_id, ref, to, from_, due_at in due:
            loop.call_at(due_at + offset, fire, call_id, ref, to, from_)
        await stopped.wait()
    await writer.close()


def _due_within_horizon(db: sqlite3.Connection) -> list[tuple[int, str, str, str, float]]:
    sql = (
        "SELECT id, ref, to_number, from_number, due_at FROM calls"
        " WHERE status = 'scheduled' AND due_at < ? ORDER BY due_at"
    )
    return db.execute(sql, (time.time() + HORIZON_S,)).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--telnyx-url", required=True, help="base URL of the Telnyx API, e.g. http://host:port/v2")
    args = parser.parse_args()
    asyncio.run(dial_all(args.database, args.telnyx_url))


if __name__ == "__main__":
    main()
