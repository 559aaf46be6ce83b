"""An embedded Telnyx: the Call Control endpoints Dial-A-Joke uses, over real HTTP.

Mounted under /simulator when no API key is configured, it accepts dial, answer,
speak and hangup commands as Telnyx does (same paths, bodies, error shapes and codes),
and plays each call by POSTing Ed25519-signed webhooks to the call's webhook_url,
signed with a key pair generated at start-up. The service verifies them with the
simulator's public key through the same code path it uses for Telnyx.

Any valid number answers; the RESERVED numbers below behave badly on purpose so every
path can be tried by hand. ``time_scale`` stretches or shrinks every simulated pause
(1 is real time; 0 plays a call as fast as the event loop allows).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import secrets
import uuid
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import nacl.signing
import phonenumbers
from aiohttp import web
from aiohttp.typedefs import Handler

from .background import BackgroundTasks
from .clock import Clock
from .signing import public_key_b64, sign

logger = logging.getLogger(__name__)

SIMULATOR_NUMBER = "+12025550100"
RING_S = 2.0
SPEAK_CHARS_PER_S = 15.0
COMMAND_ID_WINDOW_S = 60.0


class Behaviour(enum.Enum):
    ANSWERS = "answers, hears the joke, and is hung up on"
    BUSY = "is busy (hangup_cause user_busy)"
    NEVER_ANSWERS = "rings until timeout_secs, then hangup_cause timeout"
    UNREACHABLE = "cannot be reached (hangup_cause not_found)"
    HANGS_UP_MID_JOKE = "answers and hangs up in the middle of the joke"
    INVALID = "is refused by the dial request itself (422, code 10002)"


RESERVED: dict[str, Behaviour] = {
    "+12025550101": Behaviour.BUSY,
    "+12025550102": Behaviour.NEVER_ANSWERS,
    "+12025550103": Behaviour.UNREACHABLE,
    "+12025550104": Behaviour.HANGS_UP_MID_JOKE,
    "+12025550105": Behaviour.INVALID,
}


@dataclass
class Faults:
    """Ways to make the simulator misbehave as Telnyx sometimes does, for tests and by hand.

    :ivar duplicate_webhooks: deliver every webhook twice.
    :ivar webhooks_before_dial_response: send call.initiated before answering the dial request.
    :ivar held_events: event types kept back until :meth:`TelnyxSimulator.release` (out-of-order delivery).
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
        self.api_failures.extend([how] * count)


API_FAILURES = {
    "500": (500, "10007", "Unexpected error"),
    "503": (503, "10007", "Service unavailable"),
    "429": (429, "90103", "Too many dials"),
    "timeout": None,
    "disconnect": None,
}


@dataclass
class SimulatedCall:
    call_control_id: str
    direction: str
    to: str
    from_: str
    webhook_url: str
    client_state: str | None
    timeout_secs: int = 30
    command_id: str | None = None
    state: str = "ringing"
    heard: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    @property
    def behaviour(self) -> Behaviour:
        return RESERVED.get(self.to, Behaviour.ANSWERS) if self.direction == "outgoing" else Behaviour.ANSWERS

    def summary(self) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "direction": self.direction,
            "to": self.to,
            "from": self.from_,
            "state": self.state,
            "heard": self.heard,
            "commands": self.commands,
        }


class TelnyxError(Exception):
    """A Telnyx-shaped error answer: ``{"errors": [{"code", "title", "detail"}]}``."""

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


class TelnyxSimulator:
    """The simulated account: its API key, its webhook signing key, and the calls on it.

    :param webhook_url: the Call Control App's webhook URL, used for inbound calls.
    """

    def __init__(self, clock: Clock, webhook_url: str, time_scale: float = 1.0, number: str = SIMULATOR_NUMBER) -> None:
        self.api_key = "SIM" + secrets.token_urlsafe(24)
        self.signing_key = nacl.signing.SigningKey.generate()
        self.public_key = public_key_b64(self.signing_key)
        self.number = number
        self.calls: dict[str, SimulatedCall] = {}
        self._clock = clock
        self._webhook_url = webhook_url
        self._time_scale = time_scale
        self.faults = Faults()
        self.most_live = 0
        """The most outbound calls that were in progress at once."""
        self._dial_commands: dict[str, tuple[float, str]] = {}
        self._tasks = BackgroundTasks()
        self._held_back = BackgroundTasks()
        self._held = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_telnyx_errors, self._inject_faults])
        app.router.add_post("/v2/calls", self._dial)
        app.router.add_get("/v2/calls/{call_control_id}", self._get_call)
        app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", self._action)
        app.router.add_post("/inbound-calls", self._ring_inbound)
        app.router.add_get("/calls", self._list_calls)
        return app

    @web.middleware
    async def _inject_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if "/v2/" not in request.path:
            return await handler(request)
        if self.faults.response_delay_s:
            await asyncio.sleep(self.faults.response_delay_s)
        failure = self.faults.api_failures.popleft() if self.faults.api_failures else None
        refusal = API_FAILURES.get(failure or "")
        if refusal is not None:
            status, code, title = refusal
            raise TelnyxError(status, code, title, f"injected {failure}", retry_after="0" if status == 429 else "")
        response = await handler(request)
        if failure == "timeout":
            await asyncio.sleep(self.faults.hang_s)
        elif failure == "disconnect" and request.transport is not None:
            request.transport.abort()
        return response

    async def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def close(self) -> None:
        await self._tasks.close(timeout_s=0)
        await self._held_back.close(timeout_s=0)

    async def wait_idle(self) -> None:
        """Wait until every call being played has sent its last webhook, but for held-back ones."""
        await self._tasks.wait()

    async def release(self, event_type: str) -> None:
        """Deliver the held-back events of this type, and stop holding it."""
        async with self._held:
            self.faults.held_events.discard(event_type)
            self._held.notify_all()

    @property
    def live(self) -> int:
        """Outbound calls placed and not yet hung up."""
        return sum(1 for call in self.dialed() if call.state != "ended")

    def dialed(self, to: str | None = None) -> list[SimulatedCall]:
        return [call for call in self.calls.values() if call.direction == "outgoing" and to in (None, call.to)]

    async def _dial(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await _json_body(request)
        command_id = body.get("command_id")
        repeated = self._repeated_dial(command_id)
        if repeated is not None:
            return _call_data(repeated)
        call = self._new_outbound_call(body)
        if command_id:
            self._dial_commands[str(command_id)] = (self._clock.time(), call.call_control_id)
        self.calls[call.call_control_id] = call
        self.most_live = max(self.most_live, self.live)
        logger.info("simulator: dialing %s (%s)", call.to, call.behaviour.value)
        if self.faults.webhooks_before_dial_response:
            await self._send(call, "call.initiated", direction="outgoing", state="bridging")
        self._play(self._play_outbound(call))
        return _call_data(call)

    def _repeated_dial(self, command_id: object) -> SimulatedCall | None:
        seen = self._dial_commands.get(str(command_id)) if command_id else None
        if seen is None or self._clock.time() - seen[0] > COMMAND_ID_WINDOW_S:
            return None
        return self.calls[seen[1]]

    def _new_outbound_call(self, body: dict[str, Any]) -> SimulatedCall:
        for name in ("connection_id", "to", "from"):
            if not body.get(name):
                raise TelnyxError(422, "10004", "Missing required parameter", f"{name} is required", f"/{name}")
        to, from_ = _e164(body, "to"), _e164(body, "from")
        if RESERVED.get(to) is Behaviour.INVALID:
            raise TelnyxError(422, "10002", "Invalid phone number", f"{to} cannot be called", "/to")
        timeout_secs = body.get("timeout_secs", 30)
        if not isinstance(timeout_secs, int) or not 5 <= timeout_secs <= 600:
            raise TelnyxError(422, "10033", "Value out of range", "timeout_secs must be 5 to 600", "/timeout_secs")
        return SimulatedCall(
            call_control_id="v3:" + secrets.token_urlsafe(18),
            direction="outgoing",
            to=to,
            from_=from_,
            webhook_url=str(body.get("webhook_url") or self._webhook_url),
            client_state=body.get("client_state"),
            timeout_secs=timeout_secs,
            command_id=body.get("command_id"),
        )

    async def _get_call(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return _call_data(self._find(request))

    async def _action(self, request: web.Request) -> web.Response:
        self._authorize(request)
        call = self._find(request)
        body = await _json_body(request)
        action = request.match_info["action"]
        handlers = {"answer": self._answer, "speak": self._speak, "hangup": self._hangup}
        if action not in handlers:
            raise TelnyxError(404, "10005", "Resource not found", f"the simulator does not implement {action}")
        if call.state == "ended":
            raise TelnyxError(422, "90018", "Call has already ended", "This call is no longer active")
        call.commands.append(action)
        if "client_state" in body:
            call.client_state = body["client_state"]
        handlers[action](call, body)
        return web.json_response({"data": {"result": "ok"}})

    def _answer(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        if call.direction != "incoming" or call.state != "ringing":
            raise TelnyxError(422, "90015", "Invalid Call Control ID", "only a ringing inbound call can be answered")
        call.state = "answered"
        self._play(self._send(call, "call.answered", state="answered"))

    def _speak(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        payload, voice = body.get("payload"), body.get("voice")
        if not isinstance(payload, str) or not payload or len(payload) > 3000:
            raise TelnyxError(422, "10033", "Invalid value", "payload must be 1 to 3,000 characters", "/payload")
        if not isinstance(voice, str) or not voice:
            raise TelnyxError(422, "10004", "Missing required parameter", "voice is required", "/voice")
        if call.state != "answered":
            raise TelnyxError(422, "90034", "Call not answered yet", "speak needs an answered call")
        self._play(self._play_speech(call, payload))

    def _hangup(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        cause = "normal_clearing" if call.state == "answered" else "originator_cancel"
        self._play(self._end(call, cause, source="caller"))

    async def _ring_inbound(self, request: web.Request) -> web.Response:
        """Not a Telnyx endpoint: someone rings the service's number (``{"from": "+1..."}``)."""
        body = await _json_body(request)
        call = SimulatedCall(
            call_control_id="v3:" + secrets.token_urlsafe(18),
            direction="incoming",
            to=self.number,
            from_=_e164(body, "from"),
            webhook_url=self._webhook_url,
            client_state=None,
        )
        self.calls[call.call_control_id] = call
        self._play(self._send(call, "call.initiated", direction="incoming", state="parked"))
        return web.json_response({"data": call.summary()}, status=201)

    async def _list_calls(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [call.summary() for call in self.calls.values()]})

    async def _play_outbound(self, call: SimulatedCall) -> None:
        if not self.faults.webhooks_before_dial_response:
            await self._send(call, "call.initiated", direction="outgoing", state="bridging")
        behaviour = call.behaviour
        if behaviour is Behaviour.NEVER_ANSWERS:
            await self._pause(call.timeout_secs)
            await self._end(call, "timeout", source="unknown")
            return
        await self._pause(RING_S / 2 if behaviour in (Behaviour.BUSY, Behaviour.UNREACHABLE) else RING_S)
        if behaviour is Behaviour.BUSY:
            await self._end(call, "user_busy", source="callee")
        elif behaviour is Behaviour.UNREACHABLE:
            await self._end(call, "not_found", source="unknown")
        elif call.state == "ringing":
            call.state = "answered"
            await self._send(call, "call.answered", state="answered")

    async def _play_speech(self, call: SimulatedCall, text: str) -> None:
        await self._send(call, "call.speak.started")
        if call.behaviour is Behaviour.HANGS_UP_MID_JOKE:
            await self._pause(len(text) / SPEAK_CHARS_PER_S / 2)
            call.heard.append(text[: len(text) // 2])
            await self._send(call, "call.speak.ended", status="call_hangup")
            await self._end(call, "normal_clearing", source="callee")
            return
        await self._pause(len(text) / SPEAK_CHARS_PER_S)
        if call.state == "answered":
            call.heard.append(text)
            logger.info("simulator: %s heard: %s", call.to if call.direction == "outgoing" else call.from_, text)
            await self._send(call, "call.speak.ended", status="completed")

    async def _end(self, call: SimulatedCall, cause: str, source: str) -> None:
        if call.state == "ended":
            return
        call.state = "ended"
        await self._send(call, "call.hangup", hangup_cause=cause, hangup_source=source, state="hangup")

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self._time_scale)

    def _play(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro, name="simulated call")

    async def _send(self, call: SimulatedCall, event_type: str, **extra: str) -> None:
        if event_type in self.faults.dropped_events:
            logger.info("simulator: dropping %s for %s", event_type, call.call_control_id)
            return
        envelope = _envelope(call, event_type, self._clock.time(), extra)
        if event_type in self.faults.held_events:
            self._held_back.spawn(self._send_when_released(call, envelope), name=f"held {event_type}")
            return
        for _ in range(2 if self.faults.duplicate_webhooks else 1):
            await self._post_event(call, envelope)

    async def _send_when_released(self, call: SimulatedCall, envelope: dict[str, Any]) -> None:
        async with self._held:
            await self._held.wait_for(lambda: envelope["data"]["event_type"] not in self.faults.held_events)
        await self._post_event(call, envelope)

    async def _post_event(self, call: SimulatedCall, envelope: dict[str, Any]) -> None:
        """POST one signed webhook, as Telnyx would: a few attempts, then give up."""
        body = json.dumps(envelope).encode()
        event_type = envelope["data"]["event_type"]
        for attempt in range(3):
            try:
                if await self._deliver(call.webhook_url, body):
                    return
            except (TimeoutError, aiohttp.ClientError) as exc:
                logger.warning("simulator: %s to %s failed: %s", event_type, call.webhook_url, exc)
            await asyncio.sleep(0.2 * (attempt + 1) * self._time_scale)
        logger.error("simulator: gave up delivering %s for %s", event_type, call.call_control_id)

    async def _deliver(self, url: str, body: bytes) -> bool:
        assert self._session is not None, "start() the simulator before playing calls"
        headers = {"Content-Type": "application/json", "User-Agent": "telnyx-webhooks"}
        headers.update(sign(self.signing_key, body, int(self._clock.time())))
        async with self._session.post(url, data=body, headers=headers) as response:
            return 200 <= response.status < 300

    def _authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise TelnyxError(401, "10009", "Authentication failed", "send Authorization: Bearer <API key>")

    def _find(self, request: web.Request) -> SimulatedCall:
        call = self.calls.get(request.match_info["call_control_id"])
        if call is None:
            raise TelnyxError(422, "90015", "Invalid Call Control ID", "no call has this call_control_id")
        return call


def _envelope(call: SimulatedCall, event_type: str, now: float, extra: dict[str, str]) -> dict[str, Any]:
    occurred_at = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    payload = {
        "call_control_id": call.call_control_id,
        "call_leg_id": str(uuid.uuid4()),
        "call_session_id": str(uuid.uuid4()),
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


def _call_data(call: SimulatedCall) -> web.Response:
    return web.json_response(
        {
            "data": {
                "call_control_id": call.call_control_id,
                "call_leg_id": str(uuid.uuid4()),
                "call_session_id": str(uuid.uuid4()),
                "is_alive": call.state != "ended",
                "record_type": "call",
                "client_state": call.client_state,
            }
        }
    )


def _e164(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    try:
        parsed = phonenumbers.parse(str(value))
    except phonenumbers.NumberParseException:
        parsed = None
    if (
        not isinstance(value, str)
        or not value.startswith("+")
        or parsed is None
        or not phonenumbers.is_valid_number(parsed)
    ):
        raise TelnyxError(422, "10016", "Invalid phone number format", f"{name} must be +E.164", f"/{name}")
    return value


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise TelnyxError(400, "10015", "Bad request", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise TelnyxError(400, "10015", "Bad request", "the body must be a JSON object")
    return body


@web.middleware
async def _telnyx_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as Telnyx does, so the service's client meets the real shapes."""
    try:
        return await handler(request)
    except TelnyxError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return TelnyxError(exc.status, "10005" if exc.status == 404 else "10015", exc.reason).response()
