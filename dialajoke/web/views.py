"""The pages: the booking form with the signed-in user's calls, each call's own page, and the problem-type pages."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .. import keys
from ..calls.bookings import CallNotCancellable, CallNotFound
from ..calls.outcomes import outcome_in_words
from ..calls.refusals import BookingRefused
from ..calls.validation import InvalidRequest, parse_form
from ..models import FINAL_STATUSES, Call, CallStatus, User
from ..store import MAX_ID
from .csrf import read_form
from .formats import wall_time
from .pages import render
from .problems import PROBLEM_TYPES, Problem

TABLE_ROWS = 50
BOOKED_ID = re.compile(r"[1-9][0-9]{0,18}")
FORM_FIELDS = ("to", "date", "time", "timezone")
FORM_FIELD_OF = {"at": "time"}
"""The form's field for each API field a refusal may name; the form asks for ``at`` as a date and a time."""


async def index(request: web.Request) -> web.Response:
    return await _render_index(request, values={}, errors={}, status=200)


async def book_call(request: web.Request) -> web.Response:
    form = await read_form(request)
    values = {name: str(form.get(name, "")) for name in FORM_FIELDS}
    bookings = request.app[keys.BOOKINGS]
    try:
        call_request = parse_form(values, bookings.rules())
    except InvalidRequest as exc:
        return await _render_index(request, values=values, errors=exc.errors, status=400)
    try:
        call = await bookings.book(call_request, request[keys.PRINCIPAL])
    except BookingRefused as refused:
        field = FORM_FIELD_OF.get(refused.field, refused.field)
        response = await _render_index(request, values=values, errors={field: refused.message}, status=refused.status)
        if refused.retry_after_s is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(refused.retry_after_s)))
        return response
    location = request.app.router["index"].url_for().with_query(booked=str(call.id))
    raise web.HTTPSeeOther(location=location)


async def cancel_call(request: web.Request) -> web.Response:
    """The Cancel button of a call not yet dialed; back to the page, which shows it cancelled."""
    call_id = int(request.match_info["call_id"])
    try:
        if call_id > MAX_ID:
            raise CallNotFound(call_id)
        await request.app[keys.BOOKINGS].cancel(call_id, by=request[keys.PRINCIPAL])
    except CallNotFound:
        raise Problem.of("call-not-found", 404, f"You have no call {call_id}.") from None
    except CallNotCancellable as exc:
        raise Problem.of("call-not-cancellable", 409, str(exc)) from None
    raise web.HTTPSeeOther(location=request.app.router["index"].url_for())


async def call_page(request: web.Request) -> web.Response:
    """One call with its whole timeline; another user's call is not found, exactly as an unknown one."""
    call_id = int(request.match_info["call_id"])
    call = await request.app[keys.STORE].get_call(call_id) if call_id <= MAX_ID else None
    if call is None or not request[keys.PRINCIPAL].may_see(call):
        raise Problem.of("call-not-found", 404, f"You have no call {call_id}.")
    context = {
        "call": call,
        "reason": reasons(request, [call]).get(call.id),
        "timeline": [(wall_time(entry.at, call.timezone), entry) for entry in call.events],
    }
    return await render(request, "call.html", context)


async def calls_table(request: web.Request) -> web.Response:
    """Just the lists of calls, for the live page to draw again when a call arrives in a list that was empty."""
    context = {**await _calls_context(request), "booked": booked_id(request)}
    return await render(request, "_calls.html", context)


async def problem_type(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    if slug not in PROBLEM_TYPES:
        raise web.HTTPNotFound()
    title, description = PROBLEM_TYPES[slug]
    context = {"slug": slug, "title": title, "description": description}
    return await render(request, "problem_type.html", context)


def booked_id(request: web.Request) -> int | None:
    """``?booked=``, the id of the call just booked, when it is one; anything else is ignored, never shown."""
    value = request.query.get("booked", "")
    return int(value) if BOOKED_ID.fullmatch(value) else None


async def _render_index(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int
) -> web.Response:
    app = request.app
    context = {
        **await _calls_context(request),
        "values": values,
        "errors": errors,
        "default_timezone": app[keys.BOOKINGS].rules().default_timezone,
        "live": app[keys.CONFIG].telnyx.is_live,
        "booked": booked_id(request),
    }
    return await render(request, "index.html", context, status=status)


async def _calls_context(request: web.Request) -> dict[str, Any]:
    store = request.app[keys.STORE]
    owner, owner_id = await owner_shown(request)
    # Read before the lists: the live stream starts from here, so a change made while they
    # are read is sent again rather than lost.
    after = await store.last_change()
    in_progress = set(CallStatus) - FINAL_STATUSES
    recent = await store.list_calls(statuses=FINAL_STATUSES, limit=TABLE_ROWS, owner_id=owner_id)
    return {
        "upcoming": await store.list_calls(statuses=in_progress, limit=TABLE_ROWS, upcoming=True, owner_id=owner_id),
        "recent": recent,
        "reasons": reasons(request, recent),
        "positions": queue_positions(request),
        "owner": owner.name if owner else "",
        "owners": await owner_names(request),
        "refresh": _refresh_url(request, owner),
        "after": after,
    }


async def owner_shown(request: web.Request) -> tuple[User | None, int | None]:
    """Whose calls the page shows: the user an admin chose (or None), and the owner id to list by
    (None: every call, for an admin who chose no one)."""
    principal = request[keys.PRINCIPAL]
    owner = await _owner_chosen(request)
    return owner, owner.id if owner else None if principal.is_admin else principal.user_id


def queue_positions(request: web.Request) -> dict[int, int]:
    """Due calls waiting for a free line: call id -> how many go before it."""
    return request.app[keys.CALL_CONTROL].queue_positions()


def reasons(request: web.Request, calls: Iterable[Call]) -> dict[int, str]:
    """Why each finished call ended as it did, by id; a call with nothing to say has no entry."""
    ring_timeout_s = request.app[keys.CONFIG].telnyx.ring_timeout_s
    reasons = {call.id: outcome_in_words(call, ring_timeout_s=ring_timeout_s) for call in calls}
    return {call_id: reason for call_id, reason in reasons.items() if reason is not None}


async def _owner_chosen(request: web.Request) -> User | None:
    """Whose calls an admin chose to see (``?owner=NAME`` naming a user); None: everyone's.

    Always None for a user who is not an admin: they see their own calls, whatever the address says.
    """
    name = request.query.get("owner", "")
    if not request[keys.PRINCIPAL].is_admin or not name:
        return None
    return await request.app[keys.ACCOUNTS].find_user(name)


async def owner_names(request: web.Request) -> dict[int, str]:
    """For an admin's page, who booked each call; nothing for anyone else's."""
    if not request[keys.PRINCIPAL].is_admin:
        return {}
    return {user.id: user.name for user in await request.app[keys.ACCOUNTS].list_users()}


def _refresh_url(request: web.Request, owner: User | None) -> str:
    """Where the live page fetches its lists again: the same calls, the same call highlighted."""
    query = {}
    if (booked := booked_id(request)) is not None:
        query["booked"] = str(booked)
    if owner is not None:
        query["owner"] = owner.name
    return str(request.app.router["calls_table"].url_for().with_query(query))
