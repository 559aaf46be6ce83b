"""The JSON API under /api: book, list, inspect and cancel calls."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from .. import keys
from ..calls.bookings import CallNotCancellable, CallNotFound
from ..calls.refusals import BookingRefused
from ..calls.validation import InvalidRequest, parse_json_request
from ..models import Call, CallStatus
from ..store import MAX_ID
from .problems import Problem

MAX_LIST_LIMIT = 200
_STATUS_NAMES = frozenset(status.value for status in CallStatus)


async def create_call(request: web.Request) -> web.Response:
    document = await _json_body(request)
    bookings = request.app[keys.BOOKINGS]
    try:
        call_request = parse_json_request(document, bookings.rules())
    except InvalidRequest as exc:
        raise _invalid(exc.errors) from None
    try:
        call = await bookings.book(call_request, request[keys.PRINCIPAL])
    except BookingRefused as refused:
        raise refused_problem(refused) from None
    location = str(request.app.router["api_call"].url_for(call_id=str(call.id)))
    return web.json_response(call_json(call), status=201, headers={"Location": location})


def refused_problem(refused: BookingRefused) -> Problem:
    """A refused booking as a problem: its type, its field in ``errors``, and Retry-After for a rate."""
    headers = {}
    if refused.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(refused.retry_after_s)))
    errors = {refused.field: refused.message} if refused.field else None
    return Problem.of(refused.slug, refused.status, refused.message, errors=errors, headers=headers)


async def list_calls(request: web.Request) -> web.Response:
    """The caller's calls; an admin's list holds everyone's, or one user's with ``?owner=NAME``."""
    statuses, limit = _list_filters(request.query)
    owner_id = await _owner_filter(request)
    calls = await request.app[keys.STORE].list_calls(statuses=statuses, limit=limit, owner_id=owner_id)
    return web.json_response({"calls": [call_json(call) for call in calls]})


async def get_call(request: web.Request) -> web.Response:
    """Another user's call answers exactly as a call that does not exist."""
    call_id = _call_id(request)
    call = await request.app[keys.STORE].get_call(call_id)
    if call is None or not request[keys.PRINCIPAL].may_see(call):
        raise _not_found(call_id)
    return web.json_response(call_json(call))


async def cancel_call(request: web.Request) -> web.Response:
    call_id = _call_id(request)
    try:
        call = await request.app[keys.BOOKINGS].cancel(call_id, by=request[keys.PRINCIPAL])
    except CallNotFound:
        raise _not_found(call_id) from None
    except CallNotCancellable as exc:
        raise Problem.of("call-not-cancellable", 409, str(exc)) from None
    return web.json_response(call_json(call))


def call_json(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "direction": call.direction,
        "to": call.to,
        "from": call.from_,
        "at": call.at.isoformat(),
        "timezone": call.timezone,
        "status": call.status,
        "owner_id": call.owner_id,
        "joke": call.joke,
        "hangup_cause": call.hangup_cause,
        "created_at": call.created_at.isoformat(),
        "updated_at": call.updated_at.isoformat(),
        "events": [
            {"at": entry.at.isoformat(), "status": entry.status, "detail": entry.detail} for entry in call.events
        ],
    }


async def _json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        sent = request.content_type or "no Content-Type"
        raise Problem.of("unsupported-media-type", 415, f"Send the body as application/json (got {sent}).")
    try:
        return json.loads(await request.read())
    except (ValueError, RecursionError) as exc:
        raise Problem.of(
            "malformed-json", 400, f"The body could not be read as JSON ({exc}); send a JSON object."
        ) from None


def _list_filters(query: Any) -> tuple[list[CallStatus] | None, int]:
    errors = {}
    statuses = None
    if query.get("status"):
        names = query["status"].split(",")
        unknown = [name for name in names if name not in _STATUS_NAMES]
        if unknown:
            errors["status"] = f"unknown status {unknown[0]!r}; use one of {', '.join(CallStatus)}"
        statuses = [CallStatus(name) for name in names if not unknown]
    limit = query.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_LIST_LIMIT:
        errors["limit"] = f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}"
    if errors:
        raise _invalid(errors)
    return statuses, int(limit)


async def _owner_filter(request: web.Request) -> int | None:
    principal = request[keys.PRINCIPAL]
    name = request.query.get("owner")
    if not principal.is_admin:
        if name is not None and name.casefold() != principal.name.casefold():
            raise _invalid({"owner": "only an admin may list another user's calls; leave owner out"})
        return principal.user_id
    if name is None:
        return None
    user = await request.app[keys.ACCOUNTS].find_user(name)
    if user is None:
        raise _invalid({"owner": f"there is no user named {name[:64]!r}"})
    return user.id


def _call_id(request: web.Request) -> int:
    call_id = int(request.match_info["call_id"])
    if call_id > MAX_ID:
        raise _not_found(call_id)
    return call_id


def _invalid(errors: dict[str, str]) -> Problem:
    return Problem.of("invalid-request", 400, errors=errors)


def _not_found(call_id: int) -> Problem:
    return Problem.of("call-not-found", 404, f"There is no call {call_id}; list calls with GET /api/calls.")
