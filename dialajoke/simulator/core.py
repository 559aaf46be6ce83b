"""The simulated Telnyx account: its keys, its calls, and how each call plays out."""

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
from typing import Any

import aiohttp
import nacl.signing
from aiohttp import web
from tenacity import RetryCallState, RetryError, retry_if_result

from ..background import BackgroundTasks
from ..clock import Clock
from ..retries import RetryPolicy
from ..telnyx.client import COMMAND_ID_WINDOW_S
from ..telnyx.signing import public_key_b64, sign
from ..telnyx.voices import speak_problems
from .faults import Faults, inject_faults
from .wire import ApiError, call_data, e164, envelope, json_body, telnyx_errors

logger = logging.getLogger(__name__)

SIMULATOR_NUMBER = "+12025550100"
RING_S = 2.0
SPEAK_CHARS_PER_S = 15.0
KEY_REACTION_S = 5.0
"""The rest of a speech during which the callee pressed a key lasts at least this long, in
real time whatever ``time_scale`` says, so that the service's answer to the key (a speak
that stops it, say) arrives while it still plays, as it would on a real call."""
DTMF_KEYS = frozenset("0123456789*#ABCD")
MAX_PRESSES = 16
STOPS = ("current", "all")
LOOPBACK = frozenset({"127.0.0.1", "::1"})
MAX_CALLS = 1000
"""Calls the simulator remembers; past this, the oldest ended ones are forgotten first."""
REJECT_CAUSES = ("CALL_REJECTED", "USER_BUSY")
WEBHOOK_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.2, max_delay_s=4.0)
"""Telnyx's own schedule is not published (reference section 6.2); a few seconds' worth."""


class Behaviour(enum.Enum):
    ANSWERS = "answers, hears the joke, and is hung up on"
    BUSY = "is busy (hangup_cause user_busy)"
    NEVER_ANSWERS = "rings until timeout_secs, then hangup_cause timeout"
    UNREACHABLE = "cannot be reached (hangup_cause not_found)"
    HANGS_UP_MID_JOKE = "answers and hangs up in the middle of the joke"
    INVALID = "is refused by the dial request itself (422, code 10002)"
    PRESSES_9 = "answers and presses 9 in the middle of the joke"


RESERVED: dict[str, Behaviour] = {
    "+12025550101": Behaviour.BUSY,
    "+12025550102": Behaviour.NEVER_ANSWERS,
    "+12025550103": Behaviour.UNREACHABLE,
    "+12025550104": Behaviour.HANGS_UP_MID_JOKE,
    "+12025550105": Behaviour.INVALID,
    "+12025550106": Behaviour.PRESSES_9,
}


@dataclass
class Speech:
    """One speak command's text, queued, then played until it ends or a later speak stops it."""

    text: str
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    spoken_chars: int = 0
    """How much of the text had been heard when it was stopped."""


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
    call_session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    call_leg_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "ringing"
    presses: str = ""
    """The keys the person will press in the middle of the first speech they hear."""
    pressed: list[str] = field(default_factory=list)
    speeches: deque[Speech] = field(default_factory=deque)
    """Speeches queued behind the one playing (Telnyx plays consecutive speaks in turn)."""
    speaking: Speech | None = None
    playing: bool = False
    heard: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    command_ids: dict[str, float] = field(default_factory=dict)
    """When each command_id carried out on this call was first seen."""

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
            "command_id": self.command_id,
            "call_session_id": self.call_session_id,
            "call_leg_id": self.call_leg_id,
            "heard": self.heard,
            "pressed": self.pressed,
            "commands": self.commands,
        }

    def stop_speaking(self, *, clear_queue: bool) -> None:
        if clear_queue:
            self.speeches.clear()
        if self.speaking is not None:
            self.speaking.stopped.set()


class TelnyxSimulator:
    """The simulated account: its API key, its webhook signing key, and the calls on it.

    :param webhook_url: the Call Control App's webhook URL, used for inbound calls.
    :param webhook_retry: how a webhook the service does not take is delivered again.
    :ivar max_calls: how many calls are remembered (and listed by ``GET /calls``), so that a
        simulator left running does not grow without end. Past it the oldest ended calls are
        forgotten first, and only when every call is in progress the oldest of those, which
        then answers commands as an unknown call.
    """

    def __init__(
        self,
        clock: Clock,
        webhook_url: str,
        time_scale: float = 1.0,
        number: str = SIMULATOR_NUMBER,
        *,
        api_key: str | None = None,
        signing_key: nacl.signing.SigningKey | None = None,
        webhook_retry: RetryPolicy = WEBHOOK_RETRY,
    ) -> None:
        self.api_key = api_key or "SIM" + secrets.token_urlsafe(24)
        self.signing_key = signing_key or nacl.signing.SigningKey.generate()
        self.public_key = public_key_b64(self.signing_key)
        self.number = number
        self.calls: dict[str, SimulatedCall] = {}
        self.max_calls = MAX_CALLS
        self._clock = clock
        self._webhook_url = webhook_url
        self._time_scale = time_scale
        self._webhook_retry = webhook_retry
        self.faults = Faults()
        self.most_live = 0
        """The most outbound calls that were in progress at once."""
        self._dial_commands: dict[str, tuple[float, str]] = {}
        self._tasks = BackgroundTasks()
        self._held_back = BackgroundTasks()
        self._held = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[telnyx_errors, inject_faults(self.faults)])
        app.router.add_post("/v2/calls", self._dial)
        app.router.add_get("/v2/calls/{call_control_id}", self._get_call)
        app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", self._action)
        app.router.add_post("/inbound-calls", self._ring_inbound)
        app.router.add_get("/calls", self._list_calls)
        app.router.add_post("/faults", self._set_faults)
        return app

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
        body = await json_body(request)
        command_id = body.get("command_id")
        repeated = self._repeated_dial(command_id)
        if repeated is not None:
            return call_data(repeated, is_alive=False)
        call = self._new_outbound_call(body)
        if command_id:
            self._dial_commands[str(command_id)] = (self._clock.time(), call.call_control_id)
        self._remember(call)
        self.most_live = max(self.most_live, self.live)
        logger.info("simulator: dialing %s (%s)", call.to, call.behaviour.value)
        if self.faults.webhooks_before_dial_response:
            await self._send(call, "call.initiated", direction="outgoing", state="bridging")
        self._play(self._play_outbound(call))
        return call_data(call, is_alive=False)

    def _repeated_dial(self, command_id: object) -> SimulatedCall | None:
        seen = self._dial_commands.get(str(command_id)) if command_id else None
        if seen is None or self._clock.time() - seen[0] > COMMAND_ID_WINDOW_S:
            return None
        return self.calls.get(seen[1])

    def _remember(self, call: SimulatedCall) -> None:
        """Keep ``call``, forgetting the oldest others past :attr:`max_calls`: ended ones first."""
        self.calls[call.call_control_id] = call
        excess = len(self.calls) - self.max_calls
        if excess <= 0:
            return
        others = [known for known in self.calls.values() if known is not call]
        ended = [known for known in others if known.state == "ended"]
        in_progress = [known for known in others if known.state != "ended"]
        for forgotten in (ended + in_progress)[:excess]:
            del self.calls[forgotten.call_control_id]
        self._dial_commands = {
            command_id: seen for command_id, seen in self._dial_commands.items() if seen[1] in self.calls
        }

    def _new_outbound_call(self, body: dict[str, Any]) -> SimulatedCall:
        for name in ("connection_id", "to", "from"):
            if not body.get(name):
                raise ApiError(422, "10004", "Missing required parameter", f"{name} is required", f"/{name}")
        to, from_ = e164(body, "to"), e164(body, "from")
        if RESERVED.get(to) is Behaviour.INVALID:
            raise ApiError(422, "10002", "Invalid phone number", f"{to} cannot be called", "/to")
        timeout_secs = body.get("timeout_secs", 30)
        if not isinstance(timeout_secs, int) or not 5 <= timeout_secs <= 600:
            raise ApiError(422, "10033", "Value out of range", "timeout_secs must be 5 to 600", "/timeout_secs")
        return SimulatedCall(
            call_control_id="v3:" + secrets.token_urlsafe(18),
            direction="outgoing",
            to=to,
            from_=from_,
            webhook_url=str(body.get("webhook_url") or self._webhook_url),
            client_state=body.get("client_state"),
            timeout_secs=timeout_secs,
            command_id=body.get("command_id"),
            presses="9" if RESERVED.get(to) is Behaviour.PRESSES_9 else "",
        )

    async def _get_call(self, request: web.Request) -> web.Response:
        self._authorize(request)
        call = self._find(request)
        return call_data(call, is_alive=call.state != "ended")

    async def _action(self, request: web.Request) -> web.Response:
        self._authorize(request)
        call = self._find(request)
        body = await json_body(request)
        action = request.match_info["action"]
        handlers = {"answer": self._answer, "reject": self._reject, "speak": self._speak, "hangup": self._hangup}
        if action not in handlers:
            raise ApiError(404, "10005", "Resource not found", f"the simulator does not implement {action}")
        command_id = str(body.get("command_id") or "")
        if self._repeated_command(call, command_id):
            logger.info("simulator: %s %s repeats command_id %s; ignored", action, call.call_control_id, command_id)
            return web.json_response({"data": {"result": "ok"}})
        if call.state == "ended":
            raise ApiError(422, "90018", "Call has already ended", "This call is no longer active")
        call.commands.append(action)
        if "client_state" in body:
            call.client_state = body["client_state"]
        handlers[action](call, body)
        if command_id:
            call.command_ids[command_id] = self._clock.time()
        return web.json_response({"data": {"result": "ok"}})

    def _repeated_command(self, call: SimulatedCall, command_id: str) -> bool:
        """Telnyx ignores a command_id already carried out on this call in the last 60 s (reference section 7)."""
        seen_at = call.command_ids.get(command_id) if command_id else None
        return seen_at is not None and self._clock.time() - seen_at <= COMMAND_ID_WINDOW_S

    def _answer(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        if call.direction != "incoming" or call.state != "ringing":
            raise ApiError(422, "90015", "Invalid Call Control ID", "only a ringing inbound call can be answered")
        call.state = "answered"
        self._play(self._send(call, "call.answered", state="answered"))

    def _reject(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        if call.direction != "incoming" or call.state != "ringing":
            raise ApiError(422, "90015", "Invalid Call Control ID", "only a ringing inbound call can be rejected")
        if body.get("cause") not in REJECT_CAUSES:
            detail = f"cause must be one of {', '.join(REJECT_CAUSES)}"
            raise ApiError(422, "10032", "Invalid enum value", detail, "/cause")
        call.state = "ended"
        hangup = {"hangup_cause": "call_rejected", "hangup_source": "callee", "direction": "incoming"}
        self._play(self._send(call, "call.hangup", **hangup, state="hangup"))

    def _speak(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        payload, voice = body.get("payload"), body.get("voice")
        if not isinstance(payload, str) or not payload or len(payload) > 3000:
            raise ApiError(422, "10033", "Invalid value", "payload must be 1 to 3,000 characters", "/payload")
        if not isinstance(voice, str) or not voice:
            raise ApiError(422, "10004", "Missing required parameter", "voice is required", "/voice")
        _check_voice(voice, body)
        stop = body.get("stop")
        if stop is not None and stop not in STOPS:
            raise ApiError(422, "10032", "Invalid enum value", "stop must be 'current' or 'all'", "/stop")
        if call.state != "answered":
            raise ApiError(422, "90034", "Call not answered yet", "speak needs an answered call")
        if stop is not None:
            call.stop_speaking(clear_queue=stop == "all")
        call.speeches.append(Speech(payload))
        if not call.playing:
            call.playing = True
            self._play(self._play_speeches(call))

    def _hangup(self, call: SimulatedCall, body: dict[str, Any]) -> None:
        cause = "normal_clearing" if call.state == "answered" else "originator_cancel"
        self._play(self._end(call, cause, source="caller"))

    async def _ring_inbound(self, request: web.Request) -> web.Response:
        """Not a Telnyx endpoint: someone rings the service's number (``{"from": "+1..."}``).

        With ``"press": "9"`` (any keys of a phone's keypad) the caller presses those keys in
        the middle of the first speech they hear.
        """
        body = await json_body(request)
        call = SimulatedCall(
            call_control_id="v3:" + secrets.token_urlsafe(18),
            direction="incoming",
            to=self.number,
            from_=e164(body, "from"),
            webhook_url=self._webhook_url,
            client_state=None,
            presses=_keys_to_press(body),
        )
        self._remember(call)
        self._play(self._send(call, "call.initiated", direction="incoming", state="parked"))
        return web.json_response({"data": call.summary()}, status=201)

    async def _set_faults(self, request: web.Request) -> web.Response:
        """Not a Telnyx endpoint: misbehave from now on, as :meth:`Faults.update` describes.

        Only from this machine: a fault is for whoever is testing at the keyboard.
        """
        if request.remote not in LOOPBACK:
            raise ApiError(403, "10010", "Forbidden", "faults can only be set from the simulator's own machine")
        try:
            self.faults.update(await json_body(request))
        except (ValueError, TypeError) as exc:
            raise ApiError(422, "10015", "Invalid fault", str(exc)) from None
        return web.json_response({"data": {"pending_api_failures": list(self.faults.api_failures)}})

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

    async def _play_speeches(self, call: SimulatedCall) -> None:
        """Play the queued speeches in turn, as Telnyx does consecutive speaks."""
        try:
            while call.speeches and call.state == "answered":
                call.speaking = call.speeches.popleft()
                await self._play_speech(call, call.speaking)
                call.speaking = None
        finally:
            call.speaking = None
            call.playing = False

    async def _play_speech(self, call: SimulatedCall, speech: Speech) -> None:
        text = speech.text
        await self._send(call, "call.speak.started")
        if call.behaviour is Behaviour.HANGS_UP_MID_JOKE:
            await self._pause(len(text) / SPEAK_CHARS_PER_S / 2)
            call.heard.append(text[: len(text) // 2])
            await self._send(call, "call.speak.ended", status="call_hangup")
            await self._end(call, "normal_clearing", source="callee")
            return
        if await self._speak_through(call, speech) and call.state == "answered":
            call.heard.append(text)
            logger.info("simulator: %s heard: %s", _person(call), text)
            await self._send(call, "call.speak.ended", status="completed")
        elif call.state == "answered":
            call.heard.append(text[: speech.spoken_chars])
            logger.info("simulator: %s heard, before it was stopped: %s", _person(call), call.heard[-1])
            # Telnyx documents no status for a speech that a later speak's `stop` cut off
            # (only completed, call_hangup and cancelled_amd); the command did end, so the
            # simulator reports it as completed, at once.
            await self._send(call, "call.speak.ended", status="completed")

    async def _speak_through(self, call: SimulatedCall, speech: Speech) -> bool:
        """Play the speech to its end (True) or until a later speak stops it (False).

        A person who is to press keys presses them halfway through the first speech.
        """
        keys, call.presses = call.presses, ""
        if not keys:
            return await self._speak_part(speech, len(speech.text))
        half = len(speech.text) // 2
        if not await self._speak_part(speech, half):
            return False
        for key in keys:
            call.pressed.append(key)
            logger.info("simulator: %s pressed %s", _person(call), key)
            await self._send(call, "call.dtmf.received", digit=key)
        return await self._speak_part(speech, len(speech.text) - half, at_least_s=KEY_REACTION_S)

    async def _speak_part(self, speech: Speech, chars: int, at_least_s: float = 0.0) -> bool:
        """Speak ``chars`` more of the speech; False if it was stopped first."""
        seconds = max(chars / SPEAK_CHARS_PER_S * self._time_scale, at_least_s)
        if speech.stopped.is_set():
            return False
        try:
            await asyncio.wait_for(speech.stopped.wait(), seconds)
        except TimeoutError:
            speech.spoken_chars += chars
            return True
        return False

    async def _end(self, call: SimulatedCall, cause: str, source: str) -> None:
        if call.state == "ended":
            return
        call.state = "ended"
        call.stop_speaking(clear_queue=True)
        await self._send(call, "call.hangup", hangup_cause=cause, hangup_source=source, state="hangup")

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self._time_scale)

    def _play(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro, name="simulated call")

    async def _send(self, call: SimulatedCall, event_type: str, **extra: str) -> None:
        if event_type in self.faults.dropped_events:
            logger.info("simulator: dropping %s for %s", event_type, call.call_control_id)
            return
        event = envelope(call, event_type, self._clock.time(), extra)
        if event_type in self.faults.held_events:
            self._held_back.spawn(self._send_when_released(call, event), name=f"held {event_type}")
            return
        for _ in range(2 if self.faults.duplicate_webhooks else 1):
            await self._post_event(call, event)

    async def _send_when_released(self, call: SimulatedCall, event: dict[str, Any]) -> None:
        async with self._held:
            await self._held.wait_for(lambda: event["data"]["event_type"] not in self.faults.held_events)
        await self._post_event(call, event)

    async def _post_event(self, call: SimulatedCall, event: dict[str, Any]) -> None:
        """POST one signed webhook, as Telnyx would: retried for a few seconds, then given up."""
        body = json.dumps(event).encode()
        event_type = event["data"]["event_type"]

        async def attempt() -> bool:
            try:
                return await self._deliver(call.webhook_url, body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                logger.warning("simulator: %s to %s failed: %s", event_type, call.webhook_url, exc)
                return False

        retrying = self._webhook_retry.retrying(retry_if_result(_not_delivered), before_sleep=_log_redelivery)
        try:
            await retrying(attempt)
        except RetryError:
            logger.error("simulator: gave up delivering %s for %s", event_type, call.call_control_id)

    async def _deliver(self, url: str, body: bytes) -> bool:
        assert self._session is not None, "start() the simulator before playing calls"
        headers = {"Content-Type": "application/json", "User-Agent": "telnyx-webhooks"}
        headers.update(sign(self.signing_key, body, int(self._clock.time())))
        async with self._session.post(url, data=body, headers=headers) as response:
            return 200 <= response.status < 300

    def _authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "10009", "Authentication failed", "send Authorization: Bearer <API key>")

    def _find(self, request: web.Request) -> SimulatedCall:
        call = self.calls.get(request.match_info["call_control_id"])
        if call is None:
            raise ApiError(422, "90015", "Invalid Call Control ID", "no call has this call_control_id")
        return call


def _check_voice(voice: str, body: dict[str, Any]) -> None:
    """Refuse a voice, language and service level Telnyx would not pair (reference section 3)."""
    fields = {name: body.get(name) for name in ("language", "service_level", "payload_type")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "10032", "Invalid enum value", f"{name} must be a string", f"/{name}")
    settings = body.get("voice_settings")
    api_key_ref = isinstance(settings, dict) and bool(settings.get("api_key_ref"))
    problems = speak_problems(voice, **fields, api_key_ref=api_key_ref)
    if problems:
        field_name, detail = problems[0]
        raise ApiError(422, "10032", "Invalid enum value", f"{field_name} {detail}", f"/{field_name}")


def _keys_to_press(body: dict[str, Any]) -> str:
    keys = body.get("press", "")
    if not isinstance(keys, str) or len(keys) > MAX_PRESSES or not set(keys) <= DTMF_KEYS:
        detail = f"press is up to {MAX_PRESSES} keys of a phone's keypad: 0-9, *, #, A-D"
        raise ApiError(422, "10032", "Invalid value", detail, "/press")
    return keys


def _person(call: SimulatedCall) -> str:
    """The person on the far end: the callee we rang, or the caller who rang us."""
    return call.to if call.direction == "outgoing" else call.from_


def _not_delivered(delivered: bool) -> bool:
    return not delivered


def _log_redelivery(retry_state: RetryCallState) -> None:
    logger.info("simulator: webhook not taken; delivering again in %.2f s", retry_state.upcoming_sleep)
