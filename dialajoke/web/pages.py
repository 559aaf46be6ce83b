"""Drawing a page: each template also gets who is signed in and the token for its forms.

Pages are drawn by their handlers, and only they read the session: the API, /webhook
and /health never make one, and answer without a cookie.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from .. import keys
from .sessions import csrf_token

CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """Text whose `quoted` words are code, as the problem types' descriptions write them: escaped, then
    each quoted word in ``<code>``, so a page shows the word and not the backticks around it."""
    return Markup(CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


async def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200, form: bool = False
) -> web.Response:
    """Draw ``template``; a signed-in user's page (its Sign out button) or a ``form`` gets the CSRF token.

    A page of neither kind makes no session, so reading it sets no cookie.
    """
    principal = request.get(keys.PRINCIPAL)
    token = await csrf_token(request) if principal is not None or form else ""
    page = {"principal": principal, "csrf_token": token}
    return aiohttp_jinja2.render_template(template, request, {**page, **context}, status=status)
