"""The JSON API under /api: book, list, inspect and cancel calls."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from .. import keys
from ..calls.bookings import CallNotCancellable, CallNotFound
from ..calls.payloads import shortened
from ..calls.refusals import BookingRefused
from ..calls.validation import InvalidRequest, parse_json_request
from ..models import Call, CallStatus
from ..store import MAX_ID, AlreadyBooked, Idempotency, IdempotencyKeyReused
from .paging import BadCursor, decode_cursor, encode_cursor
from .problems import Problem

MAX_LIST_LIMIT = 200
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
_STATUS_NAMES = frozenset(status.value for status in CallStatus)


async def create_call(request: web.Request) -> web.Response:
    """Book a call: 201 with it, or, for an Idempotency-Key that booked one already, 200 with that call.

    A client that timed out may send the same request again with the same key and be sure
    it books once: the answer says ``Idempotent-Replayed: true``, even when the call's time has
    passed since, as the key is looked up before the request is checked. The same key with
    another request is refused (422), since the client has mixed up its keys.
    """
    key = _idempotency_key(request)
    document = await _json_body(request)
    bookings = request.app[keys.BOOKINGS]
    principal = request[keys.PRINCIPAL]
    idempotency = None if key is None else Idempotency(key, request_fingerprint(document))
    try:
        if idempotency is not None and (booked := await bookings.booked_before(principal, idempotency)):
            return _replayed(request, booked)
        call_request = parse_json_request(document, bookings.rules())
        call = await bookings.book(call_request, principal, idempotency=idempotency)
    except InvalidRequest as exc:
        raise _invalid(exc.errors) from None
    except BookingRefused as refused:
        raise refused_problem(refused) from None
    except AlreadyBooked as replay:
        return _replayed(request, replay.call)
    except IdempotencyKeyReused:
        raise Problem.of(
            "idempotency-key-reused",
            422,
            f"The {IDEMPOTENCY_KEY_HEADER} {key!r} booked a call already, from a different request;"
            " send each new booking with a new key.",
        ) from None
    return _call_created(request, call, status=201)


def _replayed(request: web.Request, call: Call) -> web.Response:
    """The call an earlier request with the same key and body booked, marked as a replay."""
    return _call_created(request, call, status=200, headers={"Idempotent-Replayed": "true"})


def request_fingerprint(document: Any) -> str:
    """SHA-256 of the JSON document in one canonical spelling: the same request however its keys and spaces fall."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key, None without one; a 400 problem for one no client should send."""
    values = request.headers.getall(IDEMPOTENCY_KEY_HEADER, [])
    if not values:
        return None
    key = values[0]
    if len(values) > 1 or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not _is_printable_ascii(key):
        raise Problem.of(
            "invalid-request",
            400,
            f"The {IDEMPOTENCY_KEY_HEADER} header must be sent once, as 1 to {MAX_IDEMPOTENCY_KEY_LENGTH}"
            " printable ASCII characters (a UUID will do); leave it out to book without one.",
        )
    return key


def _is_printable_ascii(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


def _call_created(
    request: web.Request, call: Call, *, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    location = str(request.app.router["api_call"].url_for(call_id=str(call.id)))
    return web.json_response(call_json(call), status=status, headers={"Location": location, **(headers or {})})


def refused_problem(refused: BookingRefused) -> Problem:
    """A refused booking as a problem: its type, its field in ``errors``, and Retry-After for a rate."""
    headers = {}
    if refused.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(refused.retry_after_s)))
    errors = {refused.field: refused.message} if refused.field else None
    return Problem.of(refused.slug, refused.status, refused.message, errors=errors, headers=headers)


async def list_calls(request: web.Request) -> web.Response:
    """The caller's calls; an admin's list holds everyone's, or one user's with ``?owner=NAME``.

    Newest due first, a page at a time: ``next`` (and the ``Link`` header) is the URL of the
    page after this one, its filters kept and a cursor added; null on the last page.
    """
    filters = _list_filters(request.query)
    owner_id = await _owner_filter(request)
    calls = await request.app[keys.STORE].list_calls(
        statuses=filters.statuses,
        limit=filters.limit + 1,
        owner_id=owner_id,
        due_from=filters.due_from,
        due_until=filters.due_until,
        after=filters.after,
    )
    page = calls[: filters.limit]
    next_url = _next_page(request, page[-1]) if len(calls) > filters.limit else None
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return web.json_response({"calls": [call_json(call) for call in page], "next": next_url}, headers=headers)


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


@dataclass(frozen=True)
class _ListFilters:
    statuses: list[CallStatus] | None
    limit: int
    due_from: float | None
    due_until: float | None
    after: tuple[float, int] | None


def _list_filters(query: Mapping[str, str]) -> _ListFilters:
    errors: dict[str, str] = {}
    statuses = None
    if query.get("status"):
        names = query["status"].split(",")
        unknown = [name for name in names if name not in _STATUS_NAMES]
        if unknown:
            errors["status"] = f"unknown status {shortened(unknown[0])!r}; use one of {', '.join(CallStatus)}"
        statuses = [CallStatus(name) for name in names if not unknown]
    limit = query.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_LIST_LIMIT:
        errors["limit"] = f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}"
    due_from = _time_filter(query, "from", errors)
    due_until = _time_filter(query, "until", errors)
    if due_from is not None and due_until is not None and due_from >= due_until:
        errors["until"] = "until must be later than from (from is included, until is not)"
    after = None
    if "cursor" in query:
        try:
            after = decode_cursor(query["cursor"])
        except BadCursor:
            errors["cursor"] = "this cursor is not one the list gave; follow the list's next link, or leave cursor out"
    if errors:
        raise _invalid(errors)
    return _ListFilters(statuses, int(limit), due_from, due_until, after)


def _time_filter(query: Mapping[str, str], name: str, errors: dict[str, str]) -> float | None:
    """The epoch seconds of an ISO 8601 time with its offset; a field error (in ``errors``) otherwise."""
    if name not in query:
        return None
    try:
        value = datetime.fromisoformat(query[name])
        if value.tzinfo is not None:
            return value.timestamp()
    except (ValueError, OverflowError):
        pass
    errors[name] = (
        f"{name} must be an ISO 8601 time with its offset, e.g. 2030-01-31T09:30:00Z"
        " (in a URL, write the + of an offset as %2B)"
    )
    return None


def _next_page(request: web.Request, last: Call) -> str:
    """This request's URL, every filter kept, with the cursor past ``last``."""
    return str(request.rel_url.update_query(cursor=encode_cursor(last.at.timestamp(), last.id)))


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
