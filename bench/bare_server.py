"""The floor to measure the service against: bare aiohttp handlers doing only the unavoidable.

POST /webhook verifies the Ed25519 signature (nothing else); POST /api/calls reads the
JSON body and answers 201 (no validation, no storage).

With ``--check-numbers``, the booking handler also checks the number to call exactly
as the service does (``dialajoke.calls.validation.phone_number``: phonenumbers' parse, its
length and type checks, E.164) and answers 400 for one that fails: a booking service
that dials only real, affordable numbers cannot do less.

With ``--database``, each also writes what it received durably before answering, as
plainly as it can be done: the webhook's event id (a duplicate is recognised) and body,
the booking's JSON, each one row committed with ``synchronous=FULL`` through the same
group-commit writer the service uses, with no other work. This is the floor for an
endpoint that must not answer before its data is on disk.

    python -m bench.bare_server --port 9001 --public-key BASE64 [--database PATH] [--check-numbers]
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import nacl.exceptions
import nacl.signing
from aiohttp import web

from dialajoke.calls.validation import phone_number
from dialajoke.store.sqlite_thread import SqliteThread

from .common import open_durable_writer

WRITER = web.AppKey("writer", SqliteThread)
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""


def make_app(public_key_b64: str, database: Path | None = None, check_numbers: bool = False) -> web.Application:
    key = nacl.signing.VerifyKey(base64.b64decode(public_key_b64))

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("telnyx-timestamp", "")
        signature = base64.b64decode(request.headers.get("telnyx-signature-ed25519", ""))
        try:
            key.verify(timestamp.encode() + b"|" + body, signature)
        except nacl.exceptions.BadSignatureError:
            return web.json_response({"error": "bad signature"}, status=401)
        if database is None:
            return web.json_response({"received": True})
        event_id = json.loads(body)["data"]["id"]
        sql = "INSERT OR IGNORE INTO events (event_id, body) VALUES (?, ?)"
        first = await request.app[WRITER].run(lambda db: db.execute(sql, (event_id, body)).rowcount == 1)
        return web.json_response({"received": event_id, "duplicate": not first})

    async def create_call(request: web.Request) -> web.Response:
        body = await request.read()
        document = json.loads(body)
        if check_numbers:
            try:
                document["to"] = phone_number(document.get("to"), "US")
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
        if database is None:
            return web.json_response({"id": 1, **document}, status=201)
        sql = "INSERT INTO bookings (body) VALUES (?)"
        call_id = await request.app[WRITER].run(lambda db: db.execute(sql, (body.decode(),)).lastrowid)
        return web.json_response({"id": call_id, **document}, status=201)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    if database is not None:
        app.cleanup_ctx.append(_writer_for(database))
    app.router.add_post("/webhook", webhook)
    app.router.add_post("/api/calls", create_call)
    app.router.add_get("/health", health)
    return app


def _writer_for(database: Path) -> Callable[[web.Application], AsyncIterator[None]]:
    async def writer(app: web.Application) -> AsyncIterator[None]:
        app[WRITER] = await open_durable_writer(database, SCHEMA)
        yield
        await app[WRITER].close()

    return writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--database", type=Path, help="write each request durably to this SQLite file")
    parser.add_argument("--check-numbers", action="store_true", help="check each booking's number as the service does")
    args = parser.parse_args()
    app = make_app(args.public_key, args.database, args.check_numbers)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
