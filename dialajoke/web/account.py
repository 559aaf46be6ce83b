"""Signing in and out, and the Account page: a user's password and API keys."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from .. import keys
from ..accounts import InvalidName, KeyNotFound, SignInRefused, TooManySignIns, UserDisabled, WeakPassword
from ..accounts.accounts import MAX_KEY_NAME
from . import sessions
from .access import local_path
from .clients import client_address
from .csrf import read_form
from .pages import render
from .problems import Problem

NOTICES = {"password": "Your password is changed; every other sign-in has ended.", "revoked": "The key is revoked."}
"""The only notices ``?done=`` may show: no text from the address reaches the page."""


async def sign_in_page(request: web.Request) -> web.Response:
    if await sessions.signed_in(request) is not None:
        raise web.HTTPSeeOther(location=local_path(request.query.get("next", "/")))
    next_path = local_path(request.query.get("next", "/"))
    return await _render_sign_in(request, name="", error="", status=200, next_path=next_path)


async def sign_in(request: web.Request) -> web.Response:
    form = await read_form(request)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    next_path = local_path(str(form.get("next", "/")))
    try:
        user = await request.app[keys.ACCOUNTS].sign_in(name, password, client_address(request))
    except TooManySignIns as exc:
        response = await _render_sign_in(request, name=name, error=_try_later(exc), status=429, next_path=next_path)
        return _with_retry_after(response, exc)
    except SignInRefused:
        return await _render_sign_in(
            request, name=name, error="The name or the password is wrong.", status=400, next_path=next_path
        )
    await sessions.sign_in(request, user)
    raise web.HTTPSeeOther(location=next_path)


async def sign_out(request: web.Request) -> web.Response:
    await sessions.sign_out(request)
    raise web.HTTPSeeOther(location=request.app.router["sign_in"].url_for())


async def account_page(request: web.Request) -> web.Response:
    notice = NOTICES.get(request.query.get("done", ""), "")
    return await _render_account(request, notice=notice)


async def change_password(request: web.Request) -> web.Response:
    form = await read_form(request)
    current, new, again = (str(form.get(field, "")) for field in ("current", "new", "again"))
    principal = request[keys.PRINCIPAL]
    if new != again:
        return await _render_account(request, errors={"again": "The two new passwords differ."}, status=400)
    try:
        user = await request.app[keys.ACCOUNTS].change_password(
            principal.user_id, current, new, client_address(request)
        )
    except TooManySignIns as exc:
        response = await _render_account(request, errors={"current": _try_later(exc)}, status=429)
        return _with_retry_after(response, exc)
    except SignInRefused:
        return await _render_account(request, errors={"current": "The current password is wrong."}, status=400)
    except WeakPassword as exc:
        return await _render_account(request, errors={"new": str(exc)}, status=400)
    await sessions.restamp(request, user)
    request.app[keys.FOLLOWERS].end(user.id)  # the other sessions' pages stop at once; this one's reconnect
    raise web.HTTPSeeOther(location=request.app.router["account"].url_for().with_query(done="password"))


async def add_key(request: web.Request) -> web.Response:
    """The new key is on this answer and nowhere else, ever: it is not redirected to a page that could be reloaded."""
    form = await read_form(request)
    name = str(form.get("name", "")).strip()
    try:
        key, secret = await request.app[keys.ACCOUNTS].add_key(request[keys.PRINCIPAL].user_id, name)
    except InvalidName:
        error = f"Name the key (1 to {MAX_KEY_NAME} characters), e.g. after the script that will use it."
        return await _render_account(request, errors={"key_name": error}, status=400)
    except UserDisabled:
        # Disabled from the command line a moment ago, while this session was still trusted.
        await sessions.sign_out(request)
        raise web.HTTPSeeOther(location=request.app.router["sign_in"].url_for()) from None
    return await _render_account(request, new_key=(key.id, key.name, secret), status=201)


async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    try:
        await request.app[keys.ACCOUNTS].revoke_key(request[keys.PRINCIPAL].user_id, key_id)
    except KeyNotFound:
        raise Problem.of("key-not-found", 404) from None
    raise web.HTTPSeeOther(location=request.app.router["account"].url_for().with_query(done="revoked"))


async def _render_sign_in(request: web.Request, *, name: str, error: str, status: int, next_path: str) -> web.Response:
    """The sign-in form; ``next_path`` (already checked by local_path) is where signing in leads."""
    context = {"name": name, "error": error, "next": next_path}
    return await render(request, "login.html", context, status=status, form=True)


async def _render_account(
    request: web.Request,
    *,
    notice: str = "",
    errors: dict[str, str] | None = None,
    new_key: tuple[str, str, str] | None = None,
    status: int = 200,
) -> web.Response:
    principal = request[keys.PRINCIPAL]
    accounts = request.app[keys.ACCOUNTS]
    context: dict[str, Any] = {
        "user": await accounts.find_user(principal.name),
        "api_keys": await accounts.list_keys(principal.user_id),
        "notice": notice,
        "errors": errors or {},
        "new_key": new_key,
    }
    return await render(request, "account.html", context, status=status)


def _try_later(refusal: TooManySignIns) -> str:
    return f"{refusal.reason.capitalize()}: try again in {_how_long(_retry_after_s(refusal))}."


def _with_retry_after(response: web.Response, refusal: TooManySignIns) -> web.Response:
    response.headers["Retry-After"] = str(_retry_after_s(refusal))
    return response


def _retry_after_s(refusal: TooManySignIns) -> int:
    return max(1, math.ceil(refusal.retry_after_s))


def _how_long(seconds: int) -> str:
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
