"""The operator's endpoints: GET /health for load balancers, /info for people, /metrics for Prometheus."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .. import __version__, keys
from ..store import StorageUnavailable


async def health(request: web.Request) -> web.Response:
    """503 while the database cannot be written: the service would refuse every booking."""
    try:
        await request.app[keys.STORE].ping()
    except StorageUnavailable as exc:
        body = {"status": "unavailable", "detail": str(exc)}
        return web.json_response(
            body, status=503, headers={"Retry-After": str(request.app[keys.CONFIG].database.retry_after_s)}
        )
    return web.json_response({"status": "ok"})


async def info(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response(
        {
            "name": "dial-a-joke",
            "version": __version__,
            "uptime_s": round(time.monotonic() - app[keys.STARTED_AT], 3),
            "pending_calls": await app[keys.BOOKINGS].pending(),
            "webhook_events_in_hand": app[keys.INBOX].pending,
            "telnyx": "live" if app[keys.CONFIG].telnyx.is_live else "simulator",
        }
    )


async def serve_metrics(request: web.Request) -> web.Response:
    app = request.app
    counts = await app[keys.STORE].count_by_status()
    response = web.Response(body=app[keys.METRICS].exposition(counts))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
