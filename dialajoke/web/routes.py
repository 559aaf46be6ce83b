"""The whole URL table on one screen."""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

from ..config import CorsConfig
from . import api, health, views, webhook

CALL_ID = "{call_id:[0-9]{1,19}}"


def setup_routes(app: web.Application, cors: CorsConfig) -> None:
    router = app.router
    router.add_get("/", views.index, name="index")
    router.add_post("/", views.book_call, name="book_call")
    router.add_get("/calls/table", views.calls_table, name="calls_table")
    router.add_get("/problems/{slug}", views.problem_type, name="problem_type")
    router.add_post("/webhook", webhook.receive_webhook, name="webhook")
    router.add_get("/health", health.health, name="health")
    router.add_get("/info", health.info, name="info")
    router.add_get("/metrics", health.serve_metrics, name="metrics")
    api_routes = [
        router.add_post("/api/calls", api.create_call, name="api_create_call"),
        router.add_get("/api/calls", api.list_calls, name="api_calls"),
        router.add_get(f"/api/calls/{CALL_ID}", api.get_call, name="api_call"),
        router.add_delete(f"/api/calls/{CALL_ID}", api.cancel_call, name="api_cancel_call"),
    ]
    if cors.origins:
        _allow_cross_origin(app, cors, api_routes)


def _allow_cross_origin(app: web.Application, cors: CorsConfig, routes: list[web.AbstractRoute]) -> None:
    """Let the browser apps of ``cors.origins`` call the API; never with the visitor's cookies."""
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=("Content-Type", "X-Request-ID"),
        expose_headers=("Location", "X-Request-ID"),
        allow_methods=("GET", "POST", "DELETE"),
    )
    setup = aiohttp_cors.setup(app, defaults=dict.fromkeys(cors.origins, options))
    for route in routes:
        setup.add(route)
