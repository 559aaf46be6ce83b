"""The Users page, for admins: every user, adding one, disabling one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import keys
from ..accounts import InvalidName, LastAdmin, UserNotFound, WeakPassword
from ..store import UserExists
from .csrf import read_form
from .pages import render
from .problems import Problem


async def users_page(request: web.Request) -> web.Response:
    return await _render(request)


async def add_user(request: web.Request) -> web.Response:
    form = await read_form(request)
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    admin = form.get("admin") == "on"
    try:
        user = await request.app[keys.ACCOUNTS].create_user(name, password or None, admin=admin)
    except (InvalidName, UserExists) as exc:
        return await _render(request, values={"name": name}, errors={"name": str(exc)}, status=400)
    except WeakPassword as exc:
        return await _render(request, values={"name": name}, errors={"password": str(exc)}, status=400)
    return await _render(request, notice=f"User {user.name} is added.", status=201)


async def disable_user(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name.casefold() == request[keys.PRINCIPAL].name.casefold():
        raise Problem(409, "Cannot disable yourself", "Another admin must disable your user, so one always remains.")
    try:
        disabled = await request.app[keys.ACCOUNTS].disable_user(name)
    except UserNotFound:
        raise Problem(404, "User not found", f"There is no user named {name}.") from None
    except LastAdmin:
        raise Problem(
            409, "Last admin", f"{name} is the last admin who is not disabled: make another admin first."
        ) from None
    request.app[keys.FOLLOWERS].end(disabled.id)
    raise web.HTTPSeeOther(location=request.app.router["users"].url_for())


async def _render(
    request: web.Request,
    *,
    notice: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    context: dict[str, Any] = {
        "users": await request.app[keys.ACCOUNTS].list_users(),
        "notice": notice,
        "values": values or {},
        "errors": errors or {},
    }
    return await render(request, "users.html", context, status=status)
