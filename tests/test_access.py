"""Who gets what, route by route: the app's own router is walked, so a new route without a
rule fails here before anyone can reach it.

Each route is tried as a stranger, with a made-up key, with another user's key, with
the owner's key, with an admin's key, and signed in on the page as a user and as an
admin. What is asserted is only whether the access rule let the request through (a
refusal is a 401 or 403 problem of ours, or a redirect to the sign-in page): what the
handler then answers (a 404 for another's call, a 400 for an empty form) is its own
business, tested with each feature.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from dialajoke import keys
from dialajoke.config import MetricsConfig
from dialajoke.models import Access

from .service import PASSWORD, Service

Client = TestClient[web.Request, web.Application]
WHO = ("stranger", "bad_key", "other_key", "own_key", "admin_key", "user_page", "admin_page")
LETS_IN = {
    Access.ANYONE: set(WHO),
    Access.TELNYX: set(WHO),
    Access.THIS_MACHINE: set(WHO),
    Access.API_KEY: {"other_key", "own_key", "admin_key"},
    Access.SIGNED_IN: {"user_page", "admin_page"},
    Access.ADMIN: {"admin_key", "admin_page"},
    Access.METRICS: {"admin_key", "admin_page"},
}
"""Who each rule lets through (the simulator's routes are served only on loopback, as these tests are)."""
SAMPLE_PARTS = {
    "call_id": "1",
    "key_id": "aaaaaaaa",
    "name": "bob",
    "slug": "invalid-request",
    "call_control_id": "v3:unknown",
    "action": "hangup",
    "number": "+12025550142",
}
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def every_route(app: web.Application) -> Iterator[tuple[web.AbstractRoute, str]]:
    """Every route of the app and of its sub-applications, with a path that reaches it."""
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            for route, path in every_route(resource._app):
                yield route, resource.canonical + path
            continue
        if isinstance(resource, web.StaticResource):
            for route in resource:
                yield route, resource.canonical + "/style.css"
            continue
        for route in resource:
            yield route, PLACEHOLDER.sub(lambda match: SAMPLE_PARTS[match.group(1)], resource.canonical)


@pytest.fixture
async def clients(service: Service) -> dict[str, Client]:
    await service.add_user("bob", PASSWORD)
    admin_pages = await service.new_client()
    await service.accounts.set_password("admin", PASSWORD)
    await service.sign_in(admin_pages, "admin", PASSWORD)
    return {
        "stranger": service.anonymous,
        "bad_key": await service.new_client("dj_aaaaaaaa_" + "x" * 32),
        "other_key": await service.new_client(await service.add_key("bob")),
        "own_key": service.client,
        "admin_key": service.admin_client,
        "user_page": service.pages,
        "admin_page": admin_pages,
    }


def test_every_route_has_a_rule(service: Service) -> None:
    rules = service.app[keys.ACCESS_RULES]

    missing = [f"{route.method} {path}" for route, path in every_route(service.app) if route not in rules]

    assert missing == [], "routes without an access rule (add them with web.access.add_route)"


async def test_each_rule_lets_in_exactly_whom_it_names(service: Service, clients: dict[str, Client]) -> None:
    await service.book("+12025550142")
    rules = service.app[keys.ACCESS_RULES]
    wrong = []
    for route, path in every_route(service.app):
        if route.method == "OPTIONS":
            continue
        for who, client in clients.items():
            let_in = await _lets_in(client, route.method, path)
            if let_in != (who in LETS_IN[rules[route]]):
                wrong.append(f"{route.method} {path} as {who}: {'let in' if let_in else 'refused'}")

    assert wrong == [], "\n".join(wrong)


async def _lets_in(client: Client, method: str, path: str) -> bool:
    data: Any = {"csrf_token": "not this session's"} if method == "POST" else None
    response = await client.request(method, path, data=data, allow_redirects=False)
    if response.content_type == "text/event-stream":
        response.close()  # a live stream never ends by itself; that it started says it let the client in
        return True
    body = await response.read()
    if response.status == 303 and response.headers["Location"].startswith("/login"):
        return False
    if response.status in (401, 403) and method == "HEAD":
        return False  # no body to tell by, and no handler answers HEAD with 401 or 403 but the rule's
    if response.status in (401, 403) and response.content_type == "application/problem+json":
        return not re.search(rb'"type": "/problems/(unauthorized|forbidden)"', body)
    if response.status in (401, 403) and response.content_type == "text/html":
        return not re.search(rb"40[13] (Forbidden|Not signed in)", body)
    return True


async def test_a_refused_api_key_is_told_how_to_authenticate(service: Service) -> None:
    for headers in ({}, {"Authorization": "Bearer dj_aaaaaaaa_nope"}, {"Authorization": "Basic YTpi"}):
        response = await service.anonymous.get("/api/calls", headers=headers)

        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["type"] == "/problems/unauthorized"


async def test_a_page_asks_a_stranger_to_sign_in_and_comes_back(service: Service) -> None:
    response = await service.anonymous.get("/account", allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/account"


async def test_prometheus_reads_metrics_with_its_token_and_nothing_else(start_service: Any) -> None:
    service: Service = await start_service(metrics=MetricsConfig(token=SecretStr("s3cret-scrape-token")))
    scrape = {"Authorization": "Bearer s3cret-scrape-token"}

    assert (await service.anonymous.get("/metrics", headers=scrape)).status == 200
    assert (await service.anonymous.get("/info", headers=scrape)).status == 401
    assert (await service.anonymous.get("/api/calls", headers=scrape)).status == 401
    assert (await service.anonymous.get("/metrics", headers={"Authorization": "Bearer s3cret"})).status == 401


async def test_only_the_pages_answer_with_a_session_cookie(service: Service) -> None:
    for client, path in (
        (service.anonymous, "/health"),
        (service.anonymous, "/problems/unauthorized"),
        (service.anonymous, "/static/style.css"),
        (service.client, "/api/calls"),
        (service.admin_client, "/info"),
    ):
        response = await client.get(path)

        assert response.status == 200
        assert "Set-Cookie" not in response.headers, path
    assert "Set-Cookie" in (await service.anonymous.get("/login")).headers


async def test_every_page_and_answer_carries_the_security_headers(service: Service, clients: dict[str, Client]) -> None:
    missing = []
    for route, path in every_route(service.app):
        if route.method != "GET":
            continue
        for who in ("stranger", "admin_page", "admin_key"):
            response = await clients[who].get(path, allow_redirects=False)
            headers = response.headers
            if not (
                headers.get("Content-Security-Policy", "").startswith("default-src 'none'; script-src 'self';")
                and "frame-ancestors 'none'" in headers["Content-Security-Policy"]
                and headers.get("X-Content-Type-Options") == "nosniff"
                and headers.get("Referrer-Policy") == "same-origin"
                and headers.get("Server") == "Dial-A-Joke"
            ):
                missing.append(f"GET {path} as {who}: {dict(headers)}")

    assert missing == [], "\n".join(missing)


async def test_the_bearer_scheme_is_read_in_any_case(service: Service) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = await service.anonymous.get("/api/calls", headers={"Authorization": f"{scheme} {service.key}"})

        assert response.status == 200


async def test_a_proxys_basic_authorization_does_not_hide_the_session(service: Service) -> None:
    admin = await service.new_client()
    await service.accounts.set_password("admin", PASSWORD)
    await service.sign_in(admin, "admin", PASSWORD)

    response = await admin.get("/info", headers={"Authorization": "Basic cHJveHk6cGFzcw=="})

    assert response.status == 200


async def test_nothing_with_numbers_in_it_is_kept_in_a_cache(service: Service) -> None:
    await service.book("+12025550142")

    for client, path in ((service.pages, "/"), (service.pages, "/calls/table"), (service.client, "/api/calls")):
        assert (await client.get(path)).headers["Cache-Control"] == "no-store"
    assert (await service.anonymous.get("/static/style.css")).headers["Cache-Control"] == "no-cache"
