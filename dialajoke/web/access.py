"""Who may use each route: every route is registered with an :class:`Access` rule, and one
middleware keeps them all.

A route added without a rule is refused to everyone (and tests/test_access.py, which
walks the router, fails), so a new route is closed until someone decides who may use it.
The user's pages sign in with the session cookie only; the JSON API only with an API
key, so that no cookie a browser sends by itself can act on the API; admin routes
(/info, the Users page) take either. The principal found is put on the
request (``keys.PRINCIPAL``) for the handlers to scope what they read and change.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from .. import keys
from ..models import Access, Principal
from . import sessions
from .clients import is_this_machine
from .middlewares import wants_problem_json
from .problems import Problem

logger = logging.getLogger(__name__)

_LOCAL_PATH = re.compile(r"/(?:[A-Za-z0-9_-]+/?)*")


def add_route(
    app: web.Application,
    access: Access,
    method: str,
    path: str,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    *,
    name: str,
) -> web.AbstractRoute:
    """Register a route with the rule for it (a GET's HEAD twin gets the same rule)."""
    if method == "GET":
        route = app.router.add_get(path, handler, name=name)
    else:
        route = app.router.add_route(method, path, handler, name=name)
    allow(app, access, route.resource)
    return route


def allow(app: web.Application, access: Access, routes: web.AbstractResource | web.UrlDispatcher | None) -> None:
    """Give every route of a resource (or of a whole router, e.g. a sub-application's) this rule."""
    assert routes is not None
    rules = app[keys.ACCESS_RULES]
    for route in routes.routes() if isinstance(routes, web.UrlDispatcher) else routes:
        rules[route] = access


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if route.resource is None:
        # No route matched (404, 405): aiohttp answers it, nothing is served.
        return await handler(request)
    rule = request.config_dict[keys.ACCESS_RULES].get(route)
    if rule is None:
        logger.error("route %s %s has no access rule: refused to everyone", request.method, route.resource.canonical)
        raise Problem.of("forbidden", 403, "This route is not open to anyone yet.")
    if rule in (Access.ANYONE, Access.TELNYX):
        return await handler(request)
    if rule is Access.THIS_MACHINE:
        if not is_this_machine(request):
            raise Problem.of("forbidden", 403, "The embedded simulator answers only on this machine.")
        return await handler(request)
    if rule is Access.METRICS and _presents_metrics_token(request):
        return await handler(request)
    principal = await _principal(request, rule)
    if rule in (Access.ADMIN, Access.METRICS) and not principal.is_admin:
        raise Problem.of("forbidden", 403, "Only an admin may read this.")
    request[keys.PRINCIPAL] = principal
    return await handler(request)


async def _principal(request: web.Request, rule: Access) -> Principal:
    """The user behind the request's API key or session, as the rule allows, or the refusal."""
    key = bearer_token(request)
    if key is not None and rule is not Access.SIGNED_IN:
        return await _key_holder(request, key)
    if rule is Access.API_KEY:
        raise _unauthorized("Send an API key: Authorization: Bearer dj_...; make one on the Account page.")
    principal = await sessions.signed_in(request)
    if principal is not None:
        return principal
    if rule is Access.SIGNED_IN or not wants_problem_json(request):
        raise web.HTTPSeeOther(location=_sign_in_url(request))
    raise _unauthorized("Sign in as an admin, or send an admin's API key: Authorization: Bearer dj_...")


def bearer_token(request: web.Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case, RFC 9110), or None."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _key_holder(request: web.Request, key: str) -> Principal:
    principal = await request.app[keys.ACCOUNTS].principal_for_key(key) if key else None
    if principal is None:
        raise _unauthorized(
            "The API key is not valid: it is mistyped, revoked, or its user is disabled.", error="invalid_token"
        )
    return principal


def _presents_metrics_token(request: web.Request) -> bool:
    token = request.app[keys.CONFIG].metrics.token.get_secret_value()
    offered = bearer_token(request) or ""
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())


def _unauthorized(detail: str, *, error: str = "") -> Problem:
    challenge = 'Bearer realm="dial-a-joke"' + (f', error="{error}"' if error else "")
    return Problem.of("unauthorized", 401, detail, headers={"WWW-Authenticate": challenge})


def _sign_in_url(request: web.Request) -> str:
    """The sign-in page, coming back here afterwards (a GET only: a form sent signed out is not replayed)."""
    url = request.app.router["sign_in"].url_for()
    if request.method == "GET" and request.path != "/":
        url = url.with_query(next=local_path(request.path))
    return str(url)


def local_path(target: str) -> str:
    """``target`` when it is a plain path on this service, else ``/``.

    A sign-in never sends anyone elsewhere, and no text from the address is shown on the
    sign-in page but a path made of the characters this service's own paths use.
    """
    return target if _LOCAL_PATH.fullmatch(target) else "/"
