"""python -m dialajoke.simulator: a simulated Telnyx on its own port.

Point a Dial-A-Joke service at it as if it were the real Telnyx (telnyx.api_base_url =
http://HOST:PORT/v2, with the API key and public key printed here), for instance to
kill and restart the service while the "Telnyx" keeps its memory of the calls placed.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import AsyncIterator

import aiohttp
import nacl.signing
from aiohttp import web

from ..clock import SystemClock
from ..logs import configure_logging
from .core import TelnyxSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialajoke.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", required=True, help="where inbound calls are reported (the app's URL)")
    parser.add_argument("--api-key", required=True, help="the Bearer key the simulator accepts")
    parser.add_argument("--signing-seed", help="base64 of a 32-byte Ed25519 seed; random when absent")
    parser.add_argument("--time-scale", type=float, default=1.0, help="1 plays calls in real time")
    args = parser.parse_args(argv)
    configure_logging("INFO")
    seed = base64.b64decode(args.signing_seed) if args.signing_seed else None
    simulator = TelnyxSimulator(
        SystemClock(),
        args.webhook_url,
        args.time_scale,
        api_key=args.api_key,
        signing_key=nacl.signing.SigningKey(seed) if seed else None,
    )
    print(f"public key: {simulator.public_key}", flush=True)
    web.run_app(_standalone_app(simulator), host=args.host, port=args.port, print=None)
    return 0


def _standalone_app(simulator: TelnyxSimulator) -> web.Application:
    app = simulator.app()

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            await simulator.start(session)
            yield
            await simulator.close()

    app.cleanup_ctx.append(session_ctx)
    return app


if __name__ == "__main__":
    sys.exit(main())
