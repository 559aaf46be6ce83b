"""Prometheus metrics: what a person running the service watches, on GET /metrics.

Each app has its own registry, so two apps in one process (as in the tests) never
share counters. Call counts are read from the store when scraped: the database is
the truth, and nothing in the call flow has to remember to count.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import keys
from .models import CallStatus


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "dialajoke_http_requests",
            "HTTP requests answered, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "dialajoke_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "dialajoke_webhooks",
            "Telnyx webhooks received, by result (accepted, duplicate, refused, malformed)",
            ["result"],
            registry=self.registry,
        )
        self.calls = Gauge("dialajoke_calls", "Calls in the database, by status", ["status"], registry=self.registry)
        self.pending = Gauge(
            "dialajoke_pending_calls", "Calls booked and waiting for their time", registry=self.registry
        )


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route_name(request)
        metrics = request.app[keys.METRICS]
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_latency.labels(route).observe(time.perf_counter() - started)


def _route_name(request: web.Request) -> str:
    """The route's pattern, never the raw path, so ids and junk URLs cannot explode the label set."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None and route.handler is not None else "unmatched"


async def serve_metrics(request: web.Request) -> web.Response:
    app = request.app
    metrics = app[keys.METRICS]
    counts = await app[keys.STORE].count_by_status()
    for status in CallStatus:
        metrics.calls.labels(status.value).set(counts.get(status, 0))
    metrics.pending.set(counts.get(CallStatus.SCHEDULED, 0))
    response = web.Response(body=generate_latest(metrics.registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
