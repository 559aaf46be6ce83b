"""TelnyxClient against a local server that records what it was sent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from pytest_aiohttp import AiohttpServer

from dialajoke.retries import RetryPolicy
from dialajoke.telnyx.client import MAX_RATE_LIMITED, DialedCall, TelnyxClient, TelnyxError

from .clock import ManualClock
from .sleeps import RecordedSleep

API_KEY = "KEY0123456789ABCDEF"
SINGLE_ATTEMPT = RetryPolicy(max_attempts=1)
ODD_ID = "v3:abc/def+="

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]
Retries = Callable[..., RetryPolicy]
StartTelnyx = Callable[..., Awaitable[tuple["FakeTelnyx", TelnyxClient]]]


@dataclass(frozen=True)
class Sent:
    method: str
    raw_path: str
    call_control_id: str | None
    action: str | None
    headers: dict[str, str]
    body: dict[str, Any]


def ok(data: dict[str, Any] | None = None) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response({"data": data if data is not None else {"result": "ok"}})

    return reply


def answer(status: int, body: str, content_type: str = "application/json", retry_after: str = "") -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        headers = {"Retry-After": retry_after} if retry_after else None
        return web.Response(status=status, text=body, content_type=content_type, headers=headers)

    return reply


def telnyx_error(status: int, code: str, title: str, detail: str = "") -> Reply:
    error = {"code": code, "title": title, "detail": detail, "source": {"pointer": "/to"}, "meta": {}}
    return answer(status, json.dumps({"errors": [error]}))


class FakeTelnyx:
    """Answers every command with ``reply`` and keeps each request it got."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.sent: list[Sent] = []
        self.app = web.Application()
        self.app.router.add_post("/v2/calls", self._command)
        self.app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", self._command)

    async def _command(self, request: web.Request) -> web.StreamResponse:
        self.sent.append(
            Sent(
                method=request.method,
                raw_path=request.raw_path,
                call_control_id=request.match_info.get("call_control_id"),
                action=request.match_info.get("action"),
                headers=dict(request.headers),
                body=json.loads(await request.read()),
            )
        )
        return await self.reply(request)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def naps(clock: ManualClock) -> RecordedSleep:
    return RecordedSleep(clock)


@pytest.fixture
def retries(naps: RecordedSleep, clock: ManualClock) -> Retries:
    """Retry policies that sleep on ``naps`` and measure time on the test's clock."""

    def policy(**settings: Any) -> RetryPolicy:
        return RetryPolicy(**{"max_attempts": 3, **settings}, sleep=naps, now=clock.time)

    return policy


@pytest.fixture
def start_telnyx(aiohttp_server: AiohttpServer, session: aiohttp.ClientSession, retries: Retries) -> StartTelnyx:
    """A fake Telnyx and a client of it; by default the client tries once, and 429s (which
    never use up the one try) are retried on ``naps``, not on the wall clock."""

    async def start(
        reply: Reply | None = None,
        timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        on_rate_limited: Callable[[float], None] | None = None,
    ) -> tuple[FakeTelnyx, TelnyxClient]:
        fake = FakeTelnyx(reply or ok())
        server = await aiohttp_server(fake.app)
        base_url = str(server.make_url("/v2/"))
        policy = retry or retries(max_attempts=1)
        client = TelnyxClient(session, base_url, API_KEY, timeout_s, retry=policy, on_rate_limited=on_rate_limited)
        return fake, client

    return start


async def dial(client: TelnyxClient) -> DialedCall:
    return await client.dial(
        to="+12025550142",
        from_="+13125550100",
        connection_id="1494404757140276705",
        webhook_url="https://jokes.example/webhook",
        client_state="Y2FsbC0x",
        command_id="call-1:dial:1",
        timeout_secs=30,
    )


# What each command sends


async def test_dial_posts_the_call_and_returns_its_call_control_id(start_telnyx: StartTelnyx) -> None:
    data = {"call_control_id": "v3:new-call", "call_leg_id": "leg-1", "call_session_id": "session-1"}
    fake, client = await start_telnyx(ok(data))

    dialed = await dial(client)

    assert dialed == DialedCall("v3:new-call")
    [sent] = fake.sent
    assert (sent.method, sent.raw_path) == ("POST", "/v2/calls")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.headers["Accept"] == "application/json"
    assert sent.body["connection_id"] == "1494404757140276705"
    assert sent.body["to"] == "+12025550142"
    assert sent.body["from"] == "+13125550100"
    assert sent.body["webhook_url"] == "https://jokes.example/webhook"
    assert sent.body["client_state"] == "Y2FsbC0x"
    assert sent.body["command_id"] == "call-1:dial:1"
    assert sent.body["timeout_secs"] == 30


async def test_dial_without_a_call_control_id_in_the_answer_is_an_error(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(ok({"call_leg_id": "leg-1"}))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert "call_control_id" in str(caught.value)


async def test_speak_posts_the_joke_to_the_calls_speak_action(start_telnyx: StartTelnyx) -> None:
    fake, client = await start_telnyx()

    await client.speak(
        "v3:call-1", payload="Why did the chicken...", voice="female", language="en-US", command_id="call-1:speak"
    )

    [sent] = fake.sent
    assert (sent.method, sent.call_control_id, sent.action) == ("POST", "v3:call-1", "speak")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.body["payload"] == "Why did the chicken..."
    assert sent.body["payload_type"] == "text"
    assert sent.body["voice"] == "female"
    assert sent.body["language"] == "en-US"
    assert sent.body["command_id"] == "call-1:speak"
    assert "stop" not in sent.body


async def test_a_speak_may_stop_the_speech_playing(start_telnyx: StartTelnyx) -> None:
    fake, client = await start_telnyx()

    await client.speak(
        "v3:call-1", payload="Goodbye.", voice="female", language="en-US", command_id="call-1:opt-out", stop="current"
    )

    [sent] = fake.sent
    assert (sent.body["stop"], sent.body["payload"]) == ("current", "Goodbye.")


@pytest.mark.parametrize(
    ("voice", "service_level"),
    [
        ("female", "basic"),
        ("male", "basic"),
        ("AWS.Polly.Joanna-Neural", "premium"),
        ("Telnyx.KokoroTTS.af", "premium"),
    ],
)
async def test_speak_sends_the_service_level_its_voice_belongs_to(
    start_telnyx: StartTelnyx, voice: str, service_level: str
) -> None:
    fake, client = await start_telnyx()

    await client.speak("v3:call-1", payload="A joke", voice=voice, language="en-US", command_id="c")

    [sent] = fake.sent
    assert (sent.body["voice"], sent.body["service_level"]) == (voice, service_level)


async def test_hangup_posts_to_the_calls_hangup_action(start_telnyx: StartTelnyx) -> None:
    fake, client = await start_telnyx()

    await client.hangup("v3:call-1", command_id="call-1:hangup")

    [sent] = fake.sent
    assert (sent.method, sent.call_control_id, sent.action) == ("POST", "v3:call-1", "hangup")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.body["command_id"] == "call-1:hangup"


async def test_reject_posts_the_cause_to_the_calls_reject_action(start_telnyx: StartTelnyx) -> None:
    fake, client = await start_telnyx()

    await client.reject("v3:in-1", client_state="aW4tMQ==", command_id="in-1:reject")

    [sent] = fake.sent
    assert (sent.method, sent.call_control_id, sent.action) == ("POST", "v3:in-1", "reject")
    assert sent.body == {"cause": "USER_BUSY", "client_state": "aW4tMQ==", "command_id": "in-1:reject"}


@pytest.mark.parametrize("action", ["speak", "hangup"])
async def test_a_call_control_id_with_slashes_and_pluses_is_percent_encoded(
    start_telnyx: StartTelnyx, action: str
) -> None:
    fake, client = await start_telnyx()

    if action == "speak":
        await client.speak(ODD_ID, payload="A joke", voice="female", language="en-US", command_id="c")
    else:
        await client.hangup(ODD_ID, command_id="c")

    [sent] = fake.sent
    assert (sent.call_control_id, sent.action) == (ODD_ID, action)
    segment = sent.raw_path.removeprefix("/v2/calls/").removesuffix(f"/actions/{action}")
    assert "/" not in segment
    assert "+" not in segment
    assert "%2F" in segment.upper()
    assert "%2B" in segment.upper()


@pytest.mark.parametrize("call_control_id", ["v3:a b%c?d#e", "v3:ünïcode", "plain-id"])
async def test_any_call_control_id_reaches_telnyx_unchanged(start_telnyx: StartTelnyx, call_control_id: str) -> None:
    fake, client = await start_telnyx()

    await client.hangup(call_control_id, command_id="c")

    [sent] = fake.sent
    assert (sent.call_control_id, sent.action) == (call_control_id, "hangup")


async def test_a_base_url_with_or_without_a_trailing_slash_reaches_the_same_path(
    aiohttp_server: AiohttpServer, session: aiohttp.ClientSession
) -> None:
    fake = FakeTelnyx(ok())
    server = await aiohttp_server(fake.app)

    for base in (str(server.make_url("/v2")), str(server.make_url("/v2/"))):
        await TelnyxClient(session, base, API_KEY, timeout_s=5).hangup("v3:call-1", command_id="c")

    assert [(sent.call_control_id, sent.action) for sent in fake.sent] == [("v3:call-1", "hangup")] * 2


# What each failure becomes


async def test_a_call_that_has_ended_is_a_422_telnyx_error_with_its_code(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(
        telnyx_error(
            422, "90018", "Call has already ended", "This call is no longer active and can't receive commands."
        )
    )

    with pytest.raises(TelnyxError) as caught:
        await client.hangup("v3:gone", command_id="c")

    error = caught.value
    assert error.status == 422
    assert error.code == "90018"
    assert error.call_has_ended is True
    assert error.is_retryable is False
    assert "Call has already ended" in str(error)
    assert "no longer active" in str(error)


async def test_another_422_is_not_a_call_that_has_ended(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(telnyx_error(422, "10016", "Number not in +E.164"))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.status == 422
    assert caught.value.code == "10016"
    assert caught.value.call_has_ended is False
    assert caught.value.is_retryable is False
    assert "Number not in +E.164" in str(caught.value)


async def test_a_500_with_an_html_body_is_a_retryable_error(start_telnyx: StartTelnyx) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    _, client = await start_telnyx(answer(500, html, content_type="text/html"))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.status == 500
    assert caught.value.is_retryable is True
    assert caught.value.call_has_ended is False
    assert "500" in str(caught.value)
    assert "Internal Server Error" in str(caught.value)


async def test_a_429_is_retryable(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(telnyx_error(429, "90103", "Too many dials"))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert (caught.value.status, caught.value.code) == (429, "90103")
    assert caught.value.is_retryable is True


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (404, False), (408, True), (503, True)])
async def test_retryable_follows_the_status(start_telnyx: StartTelnyx, status: int, retryable: bool) -> None:
    _, client = await start_telnyx(answer(status, '{"errors": []}'))

    with pytest.raises(TelnyxError) as caught:
        await client.speak("v3:call-1", payload="joke", voice="female", language="en-US", command_id="c")

    assert caught.value.status == status
    assert caught.value.is_retryable is retryable


async def test_a_server_slower_than_the_timeout_is_an_error_without_a_status(
    start_telnyx: StartTelnyx,
) -> None:
    release = asyncio.Event()

    async def slow_reply(request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), timeout=1)
        return web.json_response({"data": {"result": "ok"}})

    _, client = await start_telnyx(slow_reply, timeout_s=0.05)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TelnyxError) as caught:
        await client.hangup("v3:call-1", command_id="c")
    waited = loop.time() - started
    release.set()

    assert caught.value.status is None
    assert caught.value.is_retryable is True
    assert "timed out" in str(caught.value)
    assert "0.05 s" in str(caught.value)
    assert waited < 0.5


async def test_a_success_that_is_not_json_is_an_error(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(answer(200, "<html>OK</html>", content_type="text/html"))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.status == 200
    assert "JSON" in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        answer(200, "<html>OK</html>", content_type="text/html"),
        answer(201, "not json", content_type="text/plain"),
        answer(200, '{"result": "ok"}'),
        ok({"call_leg_id": "leg-1"}),
        ok({"call_control_id": ""}),
        ok({"call_control_id": 42}),
    ],
    ids=["html", "text-201", "no-data", "no-call-control-id", "empty-call-control-id", "numeric-call-control-id"],
)
async def test_a_dial_accepted_without_a_usable_answer_may_be_ringing(
    start_telnyx: StartTelnyx, retries: Retries, reply: Reply
) -> None:
    """Telnyx took the dial, so the callee may be ringing: the call must wait for webhooks, not fail."""
    fake, client = await start_telnyx(reply, retry=retries())

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.outcome_unknown is True
    assert caught.value.is_retryable is False
    assert len(fake.sent) == 1


EMPTY_ID_COMMANDS: dict[str, Callable[[TelnyxClient], Awaitable[None]]] = {
    "answer": lambda client: client.answer("", client_state="Y2FsbC0x", command_id="c"),
    "speak": lambda client: client.speak("", payload="A joke", voice="female", language="en-US", command_id="c"),
    "hangup": lambda client: client.hangup("", command_id="c"),
}


@pytest.mark.parametrize("action", list(EMPTY_ID_COMMANDS))
async def test_a_command_to_an_empty_call_control_id_is_refused_before_it_is_sent(
    start_telnyx: StartTelnyx, action: str
) -> None:
    fake, client = await start_telnyx()
    command = EMPTY_ID_COMMANDS[action](client)

    with pytest.raises(ValueError, match=f"cannot {action} a call without a call_control_id"):
        await command

    assert fake.sent == []


async def test_a_refused_connection_is_an_error_without_a_status(session: aiohttp.ClientSession) -> None:
    client = TelnyxClient(session, f"http://127.0.0.1:{unused_port()}/v2", API_KEY, timeout_s=5, retry=SINGLE_ATTEMPT)

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.status is None
    assert caught.value.is_retryable is True
    assert "could not be reached" in str(caught.value)


# Retries


def in_turn(*replies: Reply) -> Reply:
    """Answer with each reply in turn, then keep answering with the last."""
    remaining = list(replies)

    async def reply(request: web.Request) -> web.StreamResponse:
        return await (remaining.pop(0) if len(remaining) > 1 else remaining[0])(request)

    return reply


def rate_limited(retry_after: str) -> Reply:
    body = {"errors": [{"code": "90103", "title": "Too many dials"}]}
    return answer(429, json.dumps(body), retry_after=retry_after)


def unavailable(retry_after: str = "") -> Reply:
    return answer(503, "<html>down</html>", "text/html", retry_after=retry_after)


def dropped() -> Reply:
    """Take the command, then drop the connection without answering."""

    async def reply(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.json_response({"data": {"result": "ok"}})

    return reply


async def test_transient_failures_are_retried_with_the_same_command_id(
    start_telnyx: StartTelnyx, retries: Retries
) -> None:
    fake, client = await start_telnyx(
        in_turn(unavailable(), unavailable(), ok({"call_control_id": "v3:x"})), retry=retries()
    )

    dialed = await dial(client)

    assert dialed.call_control_id == "v3:x"
    assert [sent.body["command_id"] for sent in fake.sent] == ["call-1:dial:1"] * 3


async def test_attempts_are_bounded(start_telnyx: StartTelnyx, retries: Retries) -> None:
    fake, client = await start_telnyx(answer(500, "oops", "text/plain"), retry=retries(max_attempts=3))

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 500
    assert len(fake.sent) == 3


async def test_the_backoff_doubles_with_jitter_up_to_its_cap(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    policy = retries(max_attempts=6, base_delay_s=0.5, max_delay_s=2.0)
    _, client = await start_telnyx(unavailable(), retry=policy)

    with pytest.raises(TelnyxError):
        await dial(client)

    backoffs = [0.5, 1.0, 2.0, 2.0, 2.0]
    assert len(naps.delays) == len(backoffs)
    for delay, backoff in zip(naps.delays, backoffs, strict=True):
        assert 0.75 * backoff <= delay <= backoff


async def test_retry_after_sets_the_delay(start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep) -> None:
    _, client = await start_telnyx(
        in_turn(unavailable(retry_after="3"), ok({"call_control_id": "v3:x"})), retry=retries()
    )

    await dial(client)

    assert naps.delays == [3.0]


async def test_retries_stop_inside_telnyxs_command_id_window(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    """A retry more than 60 s after the first try could place a second call: none begins after 50 s."""
    fake, client = await start_telnyx(unavailable(retry_after="20"), retry=retries(max_attempts=10))

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 503
    assert naps.delays == [20.0, 20.0]
    assert len(fake.sent) == 3


async def test_a_refusal_is_never_retried(start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep) -> None:
    fake, client = await start_telnyx(telnyx_error(422, "10016", "Invalid number"), retry=retries())

    with pytest.raises(TelnyxError):
        await dial(client)

    assert len(fake.sent) == 1
    assert naps.delays == []


async def test_a_refusal_after_a_lost_answer_says_the_command_may_have_been_carried_out(
    start_telnyx: StartTelnyx, retries: Retries
) -> None:
    refused = telnyx_error(422, "10015", "Invalid connection_id")
    fake, client = await start_telnyx(in_turn(dropped(), unavailable(), refused), retry=retries(max_attempts=5))

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert (raised.value.status, raised.value.code) == (422, "10015")
    assert raised.value.outcome_unknown is True
    assert len(fake.sent) == 3


async def test_a_refusal_without_a_lost_answer_says_nothing_was_carried_out(
    start_telnyx: StartTelnyx, retries: Retries
) -> None:
    refused = telnyx_error(422, "10015", "Invalid connection_id")
    _, client = await start_telnyx(in_turn(unavailable(), refused), retry=retries())

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.outcome_unknown is False


async def test_rate_limits_slow_down_without_using_up_attempts(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    slowed: list[float] = []
    replies = in_turn(*[rate_limited("2")] * 4, ok({"call_control_id": "v3:x"}))
    fake, client = await start_telnyx(replies, retry=retries(max_attempts=3), on_rate_limited=slowed.append)

    dialed = await dial(client)

    assert dialed.call_control_id == "v3:x"
    assert len(fake.sent) == 5
    assert slowed == [2.0] * 4
    assert naps.delays == [2.0] * 4


async def test_rate_limits_alone_cannot_keep_a_command_going_past_the_window(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    slowed: list[float] = []
    fake, client = await start_telnyx(rate_limited("10"), retry=retries(), on_rate_limited=slowed.append)

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 429
    assert naps.delays == [10.0] * 5
    assert len(fake.sent) == 6
    assert slowed == [10.0] * 6


async def test_a_rate_limit_between_failures_does_not_use_up_an_attempt(
    start_telnyx: StartTelnyx, retries: Retries
) -> None:
    replies = in_turn(unavailable(), unavailable(), rate_limited("1"), ok({"call_control_id": "v3:x"}))
    fake, client = await start_telnyx(replies, retry=retries(max_attempts=3))

    dialed = await dial(client)

    assert dialed.call_control_id == "v3:x"
    assert len(fake.sent) == 4


async def test_failures_around_rate_limits_still_end_at_max_attempts(
    start_telnyx: StartTelnyx, retries: Retries
) -> None:
    replies = in_turn(rate_limited("1"), unavailable(), rate_limited("1"), unavailable(), unavailable())
    fake, client = await start_telnyx(replies, retry=retries(max_attempts=3))

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 503
    assert len(fake.sent) == 5


async def test_rate_limits_alone_end_after_max_rate_limited_refusals(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    slowed: list[float] = []
    policy = retries(base_delay_s=0.01, max_delay_s=0.01, jitter=0.0)
    fake, client = await start_telnyx(rate_limited(""), retry=policy, on_rate_limited=slowed.append)

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 429
    assert len(fake.sent) == MAX_RATE_LIMITED + 1
    assert naps.delays == [0.01] * MAX_RATE_LIMITED
    assert slowed == [0.01] * (MAX_RATE_LIMITED + 1)


async def test_a_rate_limit_that_ends_the_command_still_pauses_the_dialer(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep
) -> None:
    """Waiting 30 s more would cross the 50 s command_id window: the command ends, the pause stands."""
    slowed: list[float] = []
    fake, client = await start_telnyx(rate_limited("30"), retry=retries(), on_rate_limited=slowed.append)

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.status == 429
    assert len(fake.sent) == 2
    assert naps.delays == [30.0]
    assert slowed == [30.0, 30.0]


@pytest.mark.parametrize("header", ["0", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "soon", "61"])
async def test_a_retry_after_of_no_time_or_out_of_range_falls_back_to_the_backoff(
    start_telnyx: StartTelnyx, retries: Retries, naps: RecordedSleep, header: str
) -> None:
    slowed: list[float] = []
    replies = in_turn(rate_limited(header), rate_limited(header), ok({"call_control_id": "v3:x"}))
    policy = retries(base_delay_s=0.5, max_delay_s=2.0)
    _, client = await start_telnyx(replies, retry=policy, on_rate_limited=slowed.append)

    await dial(client)

    [first, second] = naps.delays
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0
    assert slowed == naps.delays


async def test_each_retry_is_logged_with_its_attempt_and_delay(
    start_telnyx: StartTelnyx, retries: Retries, caplog: pytest.LogCaptureFixture
) -> None:
    replies = in_turn(unavailable(retry_after="1"), unavailable(retry_after="2"), ok({"call_control_id": "v3:x"}))
    _, client = await start_telnyx(replies, retry=retries())

    with caplog.at_level(logging.WARNING, logger="dialajoke.telnyx.client"):
        await dial(client)

    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "/calls Telnyx answered 503" in warnings[0]
    assert "(attempt 1); retrying in 1.00 s" in warnings[0]
    assert "(attempt 2); retrying in 2.00 s" in warnings[1]


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None)])
async def test_retry_after_is_read_in_both_forms(
    start_telnyx: StartTelnyx, header: str, expected: float | None
) -> None:
    _, client = await start_telnyx(rate_limited(header))

    with pytest.raises(TelnyxError) as raised:
        await dial(client)

    assert raised.value.retry_after_s == expected


async def test_an_error_of_any_size_is_kept_short_for_the_timeline_and_the_log(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(telnyx_error(422, "1" * 5000, "Invalid (" * 20000, "x)" * 50000))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    error = caught.value
    assert (len(error.title), len(error.detail), len(error.code)) == (200, 500, 20)
    assert error.title == ("Invalid (" * 23)[:199] + "\u2026"
    assert len(error.describe()) < 800


async def test_an_answer_that_is_not_telnyx_json_keeps_the_start_of_its_text(start_telnyx: StartTelnyx) -> None:
    _, client = await start_telnyx(answer(502, "<html>" + "bad gateway " * 10000, content_type="text/html"))

    with pytest.raises(TelnyxError) as caught:
        await dial(client)

    assert caught.value.detail.startswith("<html>bad gateway")
    assert len(caught.value.detail) == 500
