"""The floor to measure the service against: bare aiohttp handlers doing only the unavoidable.

POST /webhook verifies the Ed25519 signature (nothing else); POST /api/calls reads the
JSON body and answers 201 (no validation, no storage).

    python -m bench.bare_server --port 9001 --public-key BASE64
"""

from __future__ import annotations

import argparse
import base64
import json

import nacl.exceptions
import nacl.signing
from aiohttp import web


def make_app(public_key_b64: str) -> web.Application:
    key = nacl.signing.VerifyKey(base64.b64decode(public_key_b64))

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("telnyx-timestamp", "")
        signature = base64.b64decode(request.headers.get("telnyx-signature-ed25519", ""))
        try:
            key.verify(timestamp.encode() + b"|" + body, signature)
        except nacl.exceptions.BadSignatureError:
            return web.json_response({"error": "bad signature"}, status=401)
        return web.json_response({"received": True})

    async def create_call(request: web.Request) -> web.Response:
        document = json.loads(await request.read())
        return web.json_response({"id": 1, **document}, status=201)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    app.router.add_post("/api/calls", create_call)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True)
    args = parser.parse_args()
    web.run_app(make_app(args.public_key), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
