"""Telnyx webhook events as values: parsed once, tolerant of fields we do not use.

The wire format is the wrapped envelope ``{"data": {"event_type", "id", "payload": {...}}}``
(reference section 5.1). Only what Dial-A-Joke acts on is kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

CLIENT_STATE_PREFIX = "dialajoke:"


class EventError(Exception):
    """The body is not a Telnyx event; ``pointer`` names the part that is wrong."""

    def __init__(self, detail: str, pointer: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer


@dataclass(frozen=True)
class TelnyxEvent:
    id: str
    event_type: str
    call_control_id: str | None = None
    client_state: str | None = None
    direction: str | None = None
    from_: str | None = None
    to: str | None = None
    hangup_cause: str | None = None
    status: str | None = None
    digit: str | None = None
    """The key pressed, for ``call.dtmf.received``: ``0``-``9``, ``*``, ``#`` (or ``A``-``D``)."""

    @property
    def ref(self) -> str | None:
        """Our call's ref, when the event carries client_state that we set."""
        return decode_client_state(self.client_state)

    @property
    def is_incoming(self) -> bool:
        return self.direction == "incoming"


def parse_event(body: bytes) -> TelnyxEvent:
    """:raises EventError: when the body is not JSON or lacks the envelope's required parts."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise EventError("the body is not valid JSON") from None
    data = _object(document, "data", "/data") if isinstance(document, dict) else None
    if data is None:
        raise EventError("an event is a JSON object with a 'data' object", "/data")
    payload = _object(data, "payload", "/data/payload") or {}
    return TelnyxEvent(
        id=_text(data, "id", "/data/id", required=True) or "",
        event_type=_text(data, "event_type", "/data/event_type", required=True) or "",
        call_control_id=_text(payload, "call_control_id", "/data/payload/call_control_id"),
        client_state=_text(payload, "client_state", "/data/payload/client_state"),
        direction=_text(payload, "direction", "/data/payload/direction"),
        from_=_text(payload, "from", "/data/payload/from"),
        to=_text(payload, "to", "/data/payload/to"),
        hangup_cause=_text(payload, "hangup_cause", "/data/payload/hangup_cause"),
        status=_text(payload, "status", "/data/payload/status"),
        digit=_text(payload, "digit", "/data/payload/digit"),
    )


def _object(parent: dict[str, Any], name: str, pointer: str) -> dict[str, Any] | None:
    value = parent.get(name)
    if value is not None and not isinstance(value, dict):
        raise EventError(f"{name} must be an object", pointer)
    return value


def _text(parent: dict[str, Any], name: str, pointer: str, *, required: bool = False) -> str | None:
    value = parent.get(name)
    if value is None or value == "":
        if required:
            raise EventError(f"{name} is required", pointer)
        return None
    if not isinstance(value, str):
        raise EventError(f"{name} must be a string", pointer)
    return value


def encode_client_state(ref: str) -> str:
    """Base64 on one line, as Telnyx requires (it truncates state at a newline)."""
    return base64.b64encode((CLIENT_STATE_PREFIX + ref).encode()).decode()


def decode_client_state(client_state: str | None) -> str | None:
    if not client_state:
        return None
    try:
        text = base64.b64decode(client_state, validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text.removeprefix(CLIENT_STATE_PREFIX) if text.startswith(CLIENT_STATE_PREFIX) else None
