"""What Telnyx's API and webhooks look like on the wire: error bodies, call data, events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
from aiohttp import web
from aiohttp.typedefs import Handler

if TYPE_CHECKING:
    from .core import SimulatedCall


class ApiError(Exception):
    """A Telnyx-shaped error answer: ``{"errors": [{"code", "title", "detail", "source"}]}``."""

    def __init__(
        self, status: int, code: str, title: str, detail: str = "", pointer: str = "", retry_after: str = ""
    ) -> None:
        super().__init__(title)
        self.status, self.code, self.title, self.detail, self.pointer = status, code, title, detail, pointer
        self.retry_after = retry_after

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail or self.title}
        if self.pointer:
            error["source"] = {"pointer": self.pointer}
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        return web.json_response({"errors": [error]}, status=self.status, headers=headers)


@web.middleware
async def telnyx_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as Telnyx does, so the service's client meets the real shapes."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return ApiError(exc.status, "10005" if exc.status == 404 else "10015", exc.reason).response()


def envelope(call: SimulatedCall, event_type: str, now: float, extra: dict[str, str]) -> dict[str, Any]:
    """A webhook body in the wrapped form Telnyx delivers (reference section 5.1)."""
    occurred_at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    payload = {
        "call_control_id": call.call_control_id,
        "call_leg_id": call.call_leg_id,
        "call_session_id": call.call_session_id,
        "connection_id": "simulator",
        "client_state": call.client_state,
        "from": call.from_,
        "to": call.to,
        **extra,
    }
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": occurred_at,
            "payload": payload,
        },
        "meta": {"attempt": 1, "delivered_to": call.webhook_url},
    }


def call_data(call: SimulatedCall, *, is_alive: bool) -> web.Response:
    """The answer to a dial (``is_alive`` always false: dialing is asynchronous) or to a
    call lookup, reference section 2.2."""
    return web.json_response(
        {
            "data": {
                "call_control_id": call.call_control_id,
                "call_leg_id": call.call_leg_id,
                "call_session_id": call.call_session_id,
                "is_alive": is_alive,
                "record_type": "call",
                "client_state": call.client_state,
            }
        }
    )


def e164(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    try:
        parsed = phonenumbers.parse(str(value))
    except phonenumbers.NumberParseException:
        parsed = None
    valid = parsed is not None and phonenumbers.is_valid_number(parsed)
    if not isinstance(value, str) or not value.startswith("+") or not valid:
        raise ApiError(422, "10016", "Invalid phone number format", f"{name} must be +E.164", f"/{name}")
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "10015", "Bad request", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "10015", "Bad request", "the body must be a JSON object")
    return body
