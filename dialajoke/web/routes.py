"""The whole URL table on one screen, each route with who may use it."""

from __future__ import annotations

from pathlib import Path

import aiohttp_cors
from aiohttp import web

from .. import keys
from ..config import CorsConfig
from ..models import Access
from . import account, api, do_not_call, health, live, openapi, users, views, webhook
from .access import add_route, allow
from .static import setup_static

CALL_ID = "{call_id:[0-9]{1,19}}"
KEY_ID = "{key_id:[a-z2-7]{8}}"
USER_NAME = "{name:[A-Za-z0-9._@-]{1,64}}"
E164_NUMBER = r"{number:\+[1-9][0-9]{6,14}}"


def setup_routes(app: web.Application, cors: CorsConfig, static_dir: Path) -> None:
    app[keys.ACCESS_RULES] = {}
    allow(app, Access.ANYONE, setup_static(app, static_dir))
    _pages(app)
    _operator(app)
    api_routes = [
        add_route(app, Access.API_KEY, "POST", "/api/calls", api.create_call, name="api_create_call"),
        add_route(app, Access.API_KEY, "GET", "/api/calls", api.list_calls, name="api_calls"),
        add_route(app, Access.API_KEY, "GET", f"/api/calls/{CALL_ID}", api.get_call, name="api_call"),
        add_route(app, Access.API_KEY, "DELETE", f"/api/calls/{CALL_ID}", api.cancel_call, name="api_cancel_call"),
    ]
    add_route(app, Access.ANYONE, "GET", "/api/openapi.json", openapi.serve_document, name="api_openapi")
    add_route(app, Access.ANYONE, "GET", "/api/docs", openapi.docs_page, name="api_docs")
    if cors.origins:
        _allow_cross_origin(app, cors, api_routes)


def _pages(app: web.Application) -> None:
    add_route(app, Access.ANYONE, "GET", "/login", account.sign_in_page, name="sign_in")
    add_route(app, Access.ANYONE, "POST", "/login", account.sign_in, name="sign_in_post")
    add_route(app, Access.ANYONE, "POST", "/logout", account.sign_out, name="sign_out")
    add_route(app, Access.ANYONE, "GET", "/problems/{slug}", views.problem_type, name="problem_type")
    add_route(app, Access.SIGNED_IN, "GET", "/", views.index, name="index")
    add_route(app, Access.SIGNED_IN, "POST", "/", views.book_call, name="book_call")
    add_route(app, Access.SIGNED_IN, "GET", "/calls/table", views.calls_table, name="calls_table")
    add_route(app, Access.SIGNED_IN, "GET", "/events", live.call_events, name="call_events")
    add_route(app, Access.SIGNED_IN, "GET", f"/calls/{CALL_ID}", views.call_page, name="call_page")
    add_route(app, Access.SIGNED_IN, "POST", f"/calls/{CALL_ID}/cancel", views.cancel_call, name="cancel_call")
    add_route(app, Access.SIGNED_IN, "GET", "/account", account.account_page, name="account")
    add_route(app, Access.SIGNED_IN, "POST", "/account/password", account.change_password, name="change_password")
    add_route(app, Access.SIGNED_IN, "POST", "/account/keys", account.add_key, name="add_key")
    add_route(app, Access.SIGNED_IN, "POST", f"/account/keys/{KEY_ID}/revoke", account.revoke_key, name="revoke_key")
    add_route(app, Access.ADMIN, "GET", "/users", users.users_page, name="users")
    add_route(app, Access.ADMIN, "POST", "/users", users.add_user, name="add_user")
    add_route(app, Access.ADMIN, "POST", f"/users/{USER_NAME}/disable", users.disable_user, name="disable_user")
    add_route(app, Access.ADMIN, "GET", "/do-not-call", do_not_call.do_not_call_page, name="do_not_call")
    add_route(app, Access.ADMIN, "POST", "/do-not-call", do_not_call.add_number, name="add_do_not_call")
    add_route(
        app,
        Access.ADMIN,
        "POST",
        f"/do-not-call/{E164_NUMBER}/remove",
        do_not_call.remove_number,
        name="remove_do_not_call",
    )


def _operator(app: web.Application) -> None:
    add_route(app, Access.TELNYX, "POST", "/webhook", webhook.receive_webhook, name="webhook")
    add_route(app, Access.ANYONE, "GET", "/health", health.health, name="health")
    add_route(app, Access.ADMIN, "GET", "/info", health.info, name="info")
    add_route(app, Access.METRICS, "GET", "/metrics", health.serve_metrics, name="metrics")


def _allow_cross_origin(app: web.Application, cors: CorsConfig, routes: list[web.AbstractRoute]) -> None:
    """Let the browser apps of ``cors.origins`` call the API; never with the visitor's cookies."""
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=("Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key"),
        expose_headers=("Location", "X-Request-ID", "Link", "Idempotent-Replayed"),
        allow_methods=("GET", "POST", "DELETE"),
    )
    setup = aiohttp_cors.setup(app, defaults=dict.fromkeys(cors.origins, options))
    for route in routes:
        setup.add(route)
    rules = app[keys.ACCESS_RULES]
    for resource in {route.resource for route in routes}:
        for preflight in resource or ():
            # The browser's preflight carries no credentials; it only asks what the real request may do.
            rules.setdefault(preflight, Access.ANYONE)
