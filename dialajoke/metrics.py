"""Prometheus metrics: what a person running the service watches, on GET /metrics.

Each app has its own registry, so two apps in one process (as in the tests) never
share counters. Call counts are read from the store when scraped: the database is
the truth, and nothing in the call flow has to remember to count. This module only
defines the instruments; the middleware that times requests and the /metrics handler
live with the other middlewares and operator endpoints.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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

    def exposition(self, counts: dict[CallStatus, int]) -> bytes:
        """The registry in Prometheus' text format, with the call gauges set from ``counts``."""
        for status in CallStatus:
            self.calls.labels(status.value).set(counts.get(status, 0))
        self.pending.set(counts.get(CallStatus.SCHEDULED, 0))
        return generate_latest(self.registry)
