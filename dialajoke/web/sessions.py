"""Signing in on the page: an encrypted, signed session cookie (aiohttp-session, Fernet).

The cookie holds the user's id, when they signed in, a stamp of their password (so
changing it ends every other sign-in), a random id of the session and the CSRF token of
their forms. It is HttpOnly, SameSite=Lax, and Secure when the service is reached over
https. Nothing in it is trusted beyond what the key proves: the user is looked up again
(through the accounts' short cache) on every request, so a disabled user is signed out.

The cookie alone is the session, so forgetting it in the browser would not end it: a copy
taken before would still work until it expires. Signing out therefore writes the
session's id down as ended (until it would have expired), and a cookie without an id is
refused.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from .. import keys
from ..config import Config
from ..models import Access, Principal, User

COOKIE_NAME = "dialajoke_session"
_USER = "uid"
_STAMP = "stamp"
_SIGNED_IN_AT = "at"
_CSRF = "csrf"
_SESSION_ID = "sid"
SESSION_ID_BYTES = 16
NO_SESSIONS = frozenset({Access.API_KEY, Access.TELNYX, Access.THIS_MACHINE})
"""Routes that take no cookies: an API key, Telnyx's signature, or this machine is who they trust."""


def cookie_sessions(config: Config, key: bytes) -> Middleware:
    """aiohttp-session's own middleware over the encrypted cookie, as this service sets it."""
    https = urlsplit(config.public_url).scheme == "https"
    storage = EncryptedCookieStorage(
        key,
        # Over https, the __Host- prefix makes browsers refuse the cookie from a sibling subdomain.
        cookie_name=("__Host-" if https else "") + COOKIE_NAME,
        max_age=config.auth.session_max_age_s,
        httponly=True,
        samesite="Lax",
        secure=https,
    )
    return aiohttp_session.session_middleware(storage)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions as set up at start-up (``keys.SESSIONS``), for the routes that take cookies.

    The cookie key may be a file made beside the database on first start, so it is read
    once the database is open, not when the app is built: a start-up refused earlier
    (a port in use) must leave nothing behind. The API, /webhook and the simulator never
    look at a session, so they skip the machinery altogether.
    """
    route = request.match_info.route
    if route.resource is not None and request.config_dict[keys.ACCESS_RULES].get(route) in NO_SESSIONS:
        return await handler(request)
    return await request.config_dict[keys.SESSIONS](request, handler)


async def signed_in(request: web.Request) -> Principal | None:
    """Who the session says is signed in, if they still may be."""
    session = await aiohttp_session.get_session(request)
    user_id, stamp, session_id = session.get(_USER), session.get(_STAMP), session.get(_SESSION_ID)
    expires_at = _expires_at(request, session)
    if not isinstance(user_id, int) or not isinstance(stamp, str) or not isinstance(session_id, str):
        return None
    if expires_at is None or request.app[keys.CLOCK].time() > expires_at:
        return None
    return await request.app[keys.ACCOUNTS].principal_for_session(user_id, stamp, session_id)


async def sign_in(request: web.Request, user: User) -> None:
    """A new session for ``user``: the one before it is ended, and nothing of it (or its CSRF token) is kept."""
    await _end(request, await aiohttp_session.get_session(request))
    session = await aiohttp_session.new_session(request)
    session[_USER] = user.id
    session[_STAMP] = request.app[keys.ACCOUNTS].session_stamp(user)
    session[_SIGNED_IN_AT] = request.app[keys.CLOCK].time()
    session[_SESSION_ID] = secrets.token_urlsafe(SESSION_ID_BYTES)
    session[_CSRF] = secrets.token_urlsafe(32)


async def restamp(request: web.Request, user: User) -> None:
    """Keep this session signed in after its user changed their password (the others end)."""
    session = await aiohttp_session.get_session(request)
    session[_STAMP] = request.app[keys.ACCOUNTS].session_stamp(user)


async def sign_out(request: web.Request) -> None:
    """End the session for good, then forget the cookie: a copy of it is refused from now on."""
    session = await aiohttp_session.get_session(request)
    await _end(request, session)
    session.invalidate()


async def _end(request: web.Request, session: aiohttp_session.Session) -> None:
    """Write the session's id down as ended until it would have expired (nothing to do for a session without one),
    and end its user's live streams: those of other sessions still good reconnect at once."""
    session_id, expires_at = session.get(_SESSION_ID), _expires_at(request, session)
    if isinstance(session_id, str) and expires_at is not None and expires_at > request.app[keys.CLOCK].time():
        await request.app[keys.ACCOUNTS].end_session(session_id, until=expires_at)
    if isinstance(user_id := session.get(_USER), int):
        request.app[keys.FOLLOWERS].end(user_id)


def _expires_at(request: web.Request, session: aiohttp_session.Session) -> float | None:
    """When a session signed in runs out (``auth.session_max_age_s`` after signing in); None for no sign-in."""
    signed_in_at = session.get(_SIGNED_IN_AT)
    if not isinstance(signed_in_at, (int, float)):
        return None
    return float(signed_in_at) + request.app[keys.CONFIG].auth.session_max_age_s


async def csrf_token(request: web.Request) -> str:
    """The token this session's forms carry; made on first need, kept for the session's life.

    Empty for a page drawn before sessions were read (an error refused early): it has no forms to send.
    """
    if aiohttp_session.STORAGE_KEY not in request:
        return ""
    session = await aiohttp_session.get_session(request)
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = session[_CSRF] = secrets.token_urlsafe(32)
    return token


async def expected_csrf_token(request: web.Request) -> str | None:
    """The token a form sent with this session must carry; None when the session has none."""
    session = await aiohttp_session.get_session(request)
    token = session.get(_CSRF)
    return token if isinstance(token, str) else None
