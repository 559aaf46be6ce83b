"""The do-not-call page, for admins: the numbers that are never rung, adding one, removing one.

A number comes onto the list when its callee presses 9, or when an admin puts it there
(someone asked by mail or phone); adding it cancels every call still scheduled to it.
Each change is logged with who made it, the number masked as every log line's is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from .. import keys
from ..calls.validation import phone_number
from ..models import DoNotCallEntry
from .csrf import read_form
from .formats import for_people
from .pages import render
from .problems import Problem

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")
"""``?page=``: 1 to 999999, enough for a hundred million entries and never an offset SQLite cannot hold."""
NOTICES = {"removed": "The number is off the list: it can be booked again."}
"""The only notices ``?done=`` may show: no text from the address reaches the page."""


async def do_not_call_page(request: web.Request) -> web.Response:
    notice = NOTICES.get(request.query.get("done", ""), "")
    return await _render(request, page=_page_number(request), notice=notice)


async def add_number(request: web.Request) -> web.Response:
    form = await read_form(request)
    typed = str(form.get("number", "")).strip()
    try:
        number = phone_number(typed, request.app[keys.CONFIG].scheduler.default_region)
    except ValueError as exc:
        return await _render(request, values={"number": typed}, errors={"number": str(exc)}, status=400)
    store = request.app[keys.STORE]
    if (known := await store.do_not_call_entry(number)) is not None:
        notice = f"{for_people(number)} is on the list already (added by {known.added_by})."
        return await _render(request, notice=notice)
    admin = request[keys.PRINCIPAL].name
    _, cancelled = await store.add_to_do_not_call(number, added_by=admin)
    logger.info("do-not-call: %s added by %s; %d scheduled calls cancelled", number, admin, len(cancelled))
    notice = f"{for_people(number)} is on the list: it is never rung. {_cancelled_in_words(len(cancelled))}"
    return await _render(request, notice=notice, status=201)


async def remove_number(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    if await request.app[keys.STORE].remove_from_do_not_call(number) is None:
        raise Problem(404, "Not on the list", f"{number} is not on the do-not-call list: there is nothing to remove.")
    logger.info("do-not-call: %s removed by %s", number, request[keys.PRINCIPAL].name)
    raise web.HTTPSeeOther(location=request.app.router["do_not_call"].url_for().with_query(done="removed"))


def _cancelled_in_words(count: int) -> str:
    if count == 0:
        return "No call to it was scheduled."
    return f"{count} scheduled call{'s' if count > 1 else ''} to it {'were' if count > 1 else 'was'} cancelled."


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not PAGE_NUMBER.fullmatch(raw):
        raise Problem(400, "No such page", "Give ?page= as a whole number from 1, as the page's own links do.")
    return int(raw)


async def _render(
    request: web.Request,
    *,
    page: int = 1,
    notice: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    found = await request.app[keys.STORE].list_do_not_call(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    entries: list[DoNotCallEntry] = found[:PAGE_SIZE]
    context: dict[str, Any] = {
        "entries": [(entry, for_people(entry.number)) for entry in entries],
        "page": page,
        "has_next": len(found) > PAGE_SIZE,
        "notice": notice,
        "values": values or {},
        "errors": errors or {},
    }
    return await render(request, "do_not_call.html", context, status=status, form=True)
