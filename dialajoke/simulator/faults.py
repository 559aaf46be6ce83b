"""Faults the simulator can be told to have, so every failure path can be tried.

Tests set them directly; a person (or a test driving a simulator in another process)
sets them with ``POST /faults``.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .wire import ApiError

MAX_PENDING_FAILURES = 1000
API_FAILURES: dict[str, tuple[int, str, str] | None] = {
    "500": (500, "10007", "Unexpected error"),
    "503": (503, "10007", "Service unavailable"),
    "429": (429, "90103", "Too many dials"),
    "timeout": None,
    "disconnect": None,
}


@dataclass
class Faults:
    """Ways to make the simulator misbehave as Telnyx sometimes does.

    :ivar duplicate_webhooks: deliver every webhook twice.
    :ivar webhooks_before_dial_response: send call.initiated before answering the dial request.
    :ivar held_events: event types kept back until released (out-of-order or late delivery).
    :ivar dropped_events: event types never delivered.
    :ivar api_failures: how each of the next API requests fails, one entry per request:
        ``"500"``, ``"503"`` or ``"429"`` refuse it; ``"timeout"`` carries it out but answers only
        after ``hang_s``; ``"disconnect"`` carries it out and drops the connection unanswered.
    :ivar response_delay_s: added before every API answer.
    """

    duplicate_webhooks: bool = False
    webhooks_before_dial_response: bool = False
    held_events: set[str] = field(default_factory=set)
    dropped_events: set[str] = field(default_factory=set)
    api_failures: deque[str] = field(default_factory=deque)
    response_delay_s: float = 0.0
    hang_s: float = 30.0

    def fail_next(self, count: int, how: str) -> None:
        if how not in API_FAILURES:
            raise ValueError(f"unknown failure {how!r}; use one of {sorted(API_FAILURES)}")
        if not 0 <= count <= MAX_PENDING_FAILURES - len(self.api_failures):
            raise ValueError(f"at most {MAX_PENDING_FAILURES} failures can be pending at once")
        self.api_failures.extend([how] * count)

    def update(self, settings: dict[str, Any]) -> None:
        """Apply ``POST /faults`` settings, e.g. ``{"fail_next": {"count": 2, "how": "503"}}``."""
        for name, value in settings.items():
            if name == "fail_next" and isinstance(value, dict):
                self.fail_next(_whole_number("fail_next.count", value.get("count", 1)), str(value.get("how")))
            elif name in ("duplicate_webhooks", "webhooks_before_dial_response") and isinstance(value, bool):
                setattr(self, name, value)
            elif name in ("dropped_events",) and isinstance(value, list):
                self.dropped_events = {str(item) for item in value}
            elif name in ("response_delay_s", "hang_s"):
                setattr(self, name, _seconds(name, value))
            else:
                raise ValueError(f"cannot set {name!r} to {value!r}")


def _whole_number(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    """A number of seconds; NaN and Infinity, which Python's JSON reader accepts, are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds, 0 or more (not NaN or Infinity), not {value!r}")
    return float(value)


def inject_faults(faults: Faults) -> Middleware:
    """Middleware making the Telnyx API routes (under /v2/) fail as ``faults`` says."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "/v2/" not in request.path:
            return await handler(request)
        if faults.response_delay_s:
            await asyncio.sleep(faults.response_delay_s)
        failure = faults.api_failures.popleft() if faults.api_failures else None
        refusal = API_FAILURES.get(failure or "")
        if refusal is not None:
            status, code, title = refusal
            raise ApiError(status, code, title, f"injected {failure}", retry_after="0" if status == 429 else "")
        response = await handler(request)
        if failure == "timeout":
            await asyncio.sleep(faults.hang_s)
        elif failure == "disconnect" and request.transport is not None:
            request.transport.abort()
        return response

    return middleware
