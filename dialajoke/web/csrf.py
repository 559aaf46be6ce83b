"""CSRF: a form that changes anything must carry its session's token.

A page on another site can make a visitor's browser post a form here, cookies and all;
it cannot read the token from our pages, so a form without it is refused before the
handler runs. The cross-site request check (security.py) already refuses most such
posts by their Origin; the token also covers browsers that send neither Origin nor
Sec-Fetch-Site. The API is not concerned: it accepts only API keys, never cookies.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from .. import keys
from ..models import Access
from .problems import Problem
from .sessions import expected_csrf_token

FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_RULES = frozenset({Access.ANYONE, Access.SIGNED_IN, Access.ADMIN})
"""Routes a browser reaches with its cookies; the API, /webhook and the simulator take no cookies."""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in SAFE_METHODS and _takes_cookies(request):
        form = await read_form(request)
        offered = form.get(FIELD)
        expected = await expected_csrf_token(request)
        if not (isinstance(offered, str) and expected and hmac.compare_digest(offered.encode(), expected.encode())):
            raise Problem.of("csrf-token-invalid", 403)
    return await handler(request)


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """The posted form (read once, then cached by aiohttp), or a 400 saying how to send it."""
    try:
        return await request.post()
    except (ValueError, LookupError):
        raise Problem(
            400, "Unreadable form", "Send the form as the page does: application/x-www-form-urlencoded in UTF-8."
        ) from None


def _takes_cookies(request: web.Request) -> bool:
    route = request.match_info.route
    rule = request.config_dict[keys.ACCESS_RULES].get(route) if route.resource is not None else None
    return rule in _FORM_RULES
