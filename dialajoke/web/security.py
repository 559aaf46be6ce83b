"""What keeps the pages safe on the open internet: the headers every response carries, and
the refusal of requests another site makes a visitor's browser send.

The headers are set in ``on_response_prepare``, so they reach every answer: pages, problem
details, aiohttp's own 404s and 405s, static files and the embedded simulator's routes.
The Content-Security-Policy allows scripts and styles from the service itself only (no
inline ones), and no framing; the page loads nothing from anywhere else.

A browser says where a request comes from (``Origin``, and ``Sec-Fetch-Site`` in the
browsers of the last few years). A change (POST, PUT, PATCH, DELETE) that another site
made the browser send is refused before its body is read, whatever else the request
carries; ``/webhook`` is exempt, as Telnyx posts it from its own servers. ``/api`` answers
no cross-origin request at all, but from the origins ``cors.origins`` allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..config import Config
from .problems import Problem

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
SERVER_NAME = "Dial-A-Joke"
"""In place of aiohttp's own, which names the aiohttp and Python versions."""

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OTHER_SITE_FETCHES = frozenset({"cross-site", "same-site"})
"""Sec-Fetch-Site values saying the request was started by a page of another origin."""
EXEMPT_PATHS = frozenset({"/webhook"})
API_PREFIX = "/api/"
CROSS_SITE_DETAIL = (
    "This request came from a page of another site (its Origin or Sec-Fetch-Site header says so), and the"
    " service takes it only from its own pages. Use the service's own page; a browser app on another origin"
    " calling /api needs that origin in cors.origins."
)

ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def security_headers(public_url: str) -> ResponseHook:
    """An ``on_response_prepare`` hook setting the security headers; HSTS only when served over https."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Server": SERVER_NAME,
    }
    if urlsplit(public_url).scheme == "https":
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY

    async def set_security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(headers)
        # Pages and answers hold people's numbers: no cache (a shared one above all) keeps them.
        response.headers.setdefault("Cache-Control", "no-store")

    return set_security_headers


def refuse_cross_site(config: Config) -> Middleware:
    """A middleware answering 403 ``cross-site-request`` to what another site's page made a browser send."""
    public_origin = origin_of(config.public_url)
    cors_origins = frozenset(config.cors.origins)

    @web.middleware
    async def cross_site_refusal(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_refused(request, public_origin, cors_origins):
            raise Problem.of("cross-site-request", 403, CROSS_SITE_DETAIL)
        return await handler(request)

    return cross_site_refusal


def is_refused(request: web.Request, public_origin: str | None, cors_origins: Collection[str]) -> bool:
    if request.path in EXEMPT_PATHS:
        return False
    origin = request.headers.get("Origin")
    is_api = request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")
    if is_api and origin is not None and ("*" in cors_origins or origin in cors_origins):
        return False
    if not _from_another_site(request, origin, public_origin):
        return False
    return is_api or request.method in UNSAFE_METHODS


def _from_another_site(request: web.Request, origin: str | None, public_origin: str | None) -> bool:
    if request.headers.get("Sec-Fetch-Site") in OTHER_SITE_FETCHES:
        return True
    if origin is None:
        return False
    own = {public_origin, origin_of(f"{request.scheme}://{request.host}")} - {None}
    return origin_of(origin) not in own


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` as a browser writes it in an Origin header; None for anything else
    (such as the ``null`` origin of a sandboxed page or a local file)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default_port) else f"{scheme}://{host}:{port}"
