"""Signing in on the page: an encrypted, signed session cookie (aiohttp-session, Fernet).

The cookie holds the user's id, when they signed in, a stamp of their password (so
changing it ends every other sign-in) and the CSRF token of their forms. It is HttpOnly,
SameSite=Lax, and Secure when the service is reached over https. Nothing in it is
trusted beyond what the key proves: the user is looked up again (through the accounts'
short cache) on every request, so a disabled user is signed out.
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
from ..models import Principal, User

COOKIE_NAME = "dialajoke_session"
_USER = "uid"
_STAMP = "stamp"
_SIGNED_IN_AT = "at"
_CSRF = "csrf"


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
    """Sessions as set up at start-up (``keys.SESSIONS``).

    The cookie key may be a file made beside the database on first start, so it is read
    once the database is open, not when the app is built: a start-up refused earlier
    (a port in use) must leave nothing behind.
    """
    return await request.config_dict[keys.SESSIONS](request, handler)


async def signed_in(request: web.Request) -> Principal | None:
    """Who the session says is signed in, if they still may be."""
    session = await aiohttp_session.get_session(request)
    user_id, stamp, signed_in_at = session.get(_USER), session.get(_STAMP), session.get(_SIGNED_IN_AT)
    if not isinstance(user_id, int) or not isinstance(stamp, str) or not isinstance(signed_in_at, (int, float)):
        return None
    app = request.app
    if app[keys.CLOCK].time() - signed_in_at > app[keys.CONFIG].auth.session_max_age_s:
        return None
    return await app[keys.ACCOUNTS].principal_for_session(user_id, stamp)


async def sign_in(request: web.Request, user: User) -> None:
    """A new session for ``user``: nothing of the one before it (or its CSRF token) is kept."""
    session = await aiohttp_session.new_session(request)
    session[_USER] = user.id
    session[_STAMP] = request.app[keys.ACCOUNTS].session_stamp(user)
    session[_SIGNED_IN_AT] = request.app[keys.CLOCK].time()
    session[_CSRF] = secrets.token_urlsafe(32)


async def restamp(request: web.Request, user: User) -> None:
    """Keep this session signed in after its user changed their password (the others end)."""
    session = await aiohttp_session.get_session(request)
    session[_STAMP] = request.app[keys.ACCOUNTS].session_stamp(user)


async def sign_out(request: web.Request) -> None:
    session = await aiohttp_session.get_session(request)
    session.invalidate()


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
