"""The simulator speaks as Telnyx: one session per call, command_id repeats ignored, speaks checked."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dialajoke.retries import RetryPolicy
from dialajoke.simulator import TelnyxSimulator, core

from .clock import ManualClock
from .sleeps import RecordedSleep
from .waiting import wait_until

WAIT_S = 5.0
CALLEE = "+12025550142"
PRESSES_9 = "+12025550106"
JOKE = "Why do programmers prefer dark mode? Because light attracts bugs."


@dataclass
class Receiver:
    """The service's /webhook as the simulator sees it: refuses the first ``refusals`` deliveries."""

    refusals: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0

    async def webhook(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.refusals:
            self.refusals -= 1
            return web.Response(status=503)
        self.events.append(json.loads(await request.read())["data"])
        return web.Response()

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event_type"] == event_type]

    def story(self) -> list[str]:
        """The events after the answer, with the key of a DTMF event and the status of an ended speech."""
        told = []
        for event in self.events:
            payload = event["payload"]
            detail = payload.get("digit") or payload.get("status")
            told.append(f"{event['event_type']} {detail}" if detail else event["event_type"])
        return told[told.index("call.answered") + 1 :] if "call.answered" in told else told


@dataclass
class Telnyx:
    simulator: TelnyxSimulator
    receiver: Receiver
    session: aiohttp.ClientSession
    base_url: str

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.simulator.api_key}"}
        async with self.session.post(self.base_url + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def dial(self, command_id: str = "call-1:dial", to: str = CALLEE) -> dict[str, Any]:
        body = {"connection_id": "c", "to": to, "from": "+13125550100", "command_id": command_id}
        status, document = await self.post("/v2/calls", body)
        assert status == 200, document
        return dict(document["data"])

    async def action(self, call_control_id: str, action: str, **body: Any) -> tuple[int, dict[str, Any]]:
        return await self.post(f"/v2/calls/{call_control_id}/actions/{action}", body)

    async def speak(
        self, call_control_id: str, command_id: str, payload: str = "A joke", **fields: Any
    ) -> tuple[int, dict[str, Any]]:
        """A speak with a basic female voice, but for ``fields`` (None leaves a field out)."""
        voice = {"voice": "female", "service_level": "basic", "language": "en-US", **fields}
        sent = {name: value for name, value in voice.items() if value is not None}
        return await self.action(call_control_id, "speak", payload=payload, command_id=command_id, **sent)

    async def answered_call(self, to: str = CALLEE) -> str:
        call_control_id = str((await self.dial(to=to))["call_control_id"])
        await self.idle()
        assert self.receiver.of("call.answered"), self.receiver.events
        return call_control_id

    async def idle(self) -> None:
        await asyncio.wait_for(self.simulator.wait_idle(), WAIT_S)


@pytest.fixture
def naps(clock: ManualClock) -> RecordedSleep:
    return RecordedSleep(clock)


@pytest.fixture
async def telnyx(clock: ManualClock, naps: RecordedSleep) -> AsyncIterator[Telnyx]:
    receiver = Receiver()
    service = web.Application()
    service.router.add_post("/webhook", receiver.webhook)
    async with TestServer(service) as service_server, aiohttp.ClientSession() as session:
        retry = RetryPolicy(max_attempts=4, base_delay_s=0.2, sleep=naps, now=clock.time)
        simulator = TelnyxSimulator(clock, str(service_server.make_url("/webhook")), 0, webhook_retry=retry)
        async with TestServer(simulator.app()) as server:
            await simulator.start(session)
            yield Telnyx(simulator, receiver, session, str(server.make_url("")).rstrip("/"))
            await simulator.close()


# One call, one session


async def test_every_event_of_a_call_carries_the_dial_responses_session_and_leg(telnyx: Telnyx) -> None:
    dialed = await telnyx.dial()
    await telnyx.idle()
    await telnyx.speak(dialed["call_control_id"], "call-1:speak")
    await telnyx.idle()
    await telnyx.action(dialed["call_control_id"], "hangup", command_id="call-1:hangup")
    await telnyx.idle()

    types = [event["event_type"] for event in telnyx.receiver.events]
    assert types == ["call.initiated", "call.answered", "call.speak.started", "call.speak.ended", "call.hangup"]
    ids = {(event["payload"]["call_session_id"], event["payload"]["call_leg_id"]) for event in telnyx.receiver.events}
    assert ids == {(dialed["call_session_id"], dialed["call_leg_id"])}


async def test_two_calls_have_two_sessions(telnyx: Telnyx) -> None:
    first = await telnyx.dial("call-1:dial")
    second = await telnyx.dial("call-2:dial")

    assert first["call_session_id"] != second["call_session_id"]
    assert first["call_leg_id"] != second["call_leg_id"]


async def test_a_dial_answers_that_the_call_is_not_alive_yet(telnyx: Telnyx) -> None:
    dialed = await telnyx.dial()
    repeated = await telnyx.dial()

    assert dialed["is_alive"] is False
    assert repeated == dialed


# A repeated command_id is ignored for 60 s


async def test_a_repeated_speak_is_answered_ok_and_spoken_once(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call()

    answers = [await telnyx.speak(call_control_id, "call-1:speak") for _ in range(2)]
    await telnyx.idle()

    assert answers == [(200, {"data": {"result": "ok"}})] * 2
    [call] = telnyx.simulator.dialed()
    assert call.commands == ["speak"]
    assert call.heard == ["A joke"]
    assert len(telnyx.receiver.of("call.speak.started")) == 1


async def test_a_command_id_repeated_after_60_s_is_carried_out_again(telnyx: Telnyx, clock: ManualClock) -> None:
    call_control_id = await telnyx.answered_call()
    await telnyx.speak(call_control_id, "call-1:speak")
    await telnyx.idle()

    clock.advance(61)
    status, _ = await telnyx.speak(call_control_id, "call-1:speak")
    await telnyx.idle()

    assert status == 200
    [call] = telnyx.simulator.dialed()
    assert call.heard == ["A joke", "A joke"]


async def test_another_command_id_is_another_command(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call()

    await telnyx.speak(call_control_id, "call-1:speak")
    await telnyx.speak(call_control_id, "call-1:speak-again")
    await telnyx.idle()

    [call] = telnyx.simulator.dialed()
    assert call.commands == ["speak", "speak"]


async def test_a_repeated_hangup_is_ok_even_once_the_call_has_ended(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call()

    first = await telnyx.action(call_control_id, "hangup", command_id="call-1:hangup")
    await telnyx.idle()
    again = await telnyx.action(call_control_id, "hangup", command_id="call-1:hangup")
    other = await telnyx.action(call_control_id, "hangup", command_id="call-1:hangup-2")

    assert first == again == (200, {"data": {"result": "ok"}})
    assert other[0] == 422
    assert other[1]["errors"][0]["code"] == "90018"
    assert len(telnyx.receiver.of("call.hangup")) == 1


async def test_a_repeated_answer_of_an_inbound_call_is_ignored(telnyx: Telnyx) -> None:
    async with telnyx.session.post(f"{telnyx.base_url}/inbound-calls", json={"from": "+353861234567"}) as response:
        call_control_id = (await response.json())["data"]["call_control_id"]
    await telnyx.idle()

    answers = [await telnyx.action(call_control_id, "answer", command_id="in-1:answer") for _ in range(2)]
    await telnyx.idle()

    assert [status for status, _ in answers] == [200, 200]
    assert telnyx.simulator.calls[call_control_id].commands == ["answer"]
    assert len(telnyx.receiver.of("call.answered")) == 1


async def ring_inbound(telnyx: Telnyx) -> str:
    async with telnyx.session.post(f"{telnyx.base_url}/inbound-calls", json={"from": "+353861234567"}) as response:
        call_control_id = str((await response.json())["data"]["call_control_id"])
    await telnyx.idle()
    return call_control_id


async def test_a_rejected_inbound_call_ends_with_call_rejected_and_cannot_be_answered(telnyx: Telnyx) -> None:
    call_control_id = await ring_inbound(telnyx)

    rejected = await telnyx.action(call_control_id, "reject", cause="USER_BUSY", command_id="in-1:reject")
    await telnyx.idle()
    answered = await telnyx.action(call_control_id, "answer", command_id="in-1:answer")

    assert rejected[0] == 200
    [hangup] = telnyx.receiver.of("call.hangup")
    assert hangup["payload"]["hangup_cause"] == "call_rejected"
    assert hangup["payload"]["direction"] == "incoming"
    assert answered[0] == 422
    assert not telnyx.receiver.of("call.answered")


async def test_only_a_ringing_inbound_call_can_be_rejected_and_only_for_a_documented_cause(telnyx: Telnyx) -> None:
    outbound = str((await telnyx.dial())["call_control_id"])
    inbound = await ring_inbound(telnyx)

    of_outbound = await telnyx.action(outbound, "reject", cause="USER_BUSY")
    no_cause = await telnyx.action(inbound, "reject")
    await telnyx.action(inbound, "answer", command_id="in-1:answer")
    await telnyx.idle()
    once_answered = await telnyx.action(inbound, "reject", cause="CALL_REJECTED")

    assert (of_outbound[0], of_outbound[1]["errors"][0]["code"]) == (422, "90015")
    assert (no_cause[0], no_cause[1]["errors"][0]["source"]["pointer"]) == (422, "/cause")
    assert (once_answered[0], once_answered[1]["errors"][0]["code"]) == (422, "90015")
    assert not [event for event in telnyx.receiver.of("call.hangup") if event["payload"]["to"] != CALLEE]


async def test_a_refused_command_is_not_remembered_as_carried_out(telnyx: Telnyx) -> None:
    call_control_id = str((await telnyx.dial())["call_control_id"])
    telnyx.simulator.faults.held_events.add("call.answered")
    early = await telnyx.speak(call_control_id, "call-1:speak")
    await telnyx.simulator.release("call.answered")
    await telnyx.idle()

    later = await telnyx.speak(call_control_id, "call-1:speak")
    await telnyx.idle()

    assert early[0] == 422
    assert early[1]["errors"][0]["code"] == "90034"
    assert later[0] == 200
    assert telnyx.simulator.dialed()[0].heard == ["A joke"]


# Voices as Telnyx documents them


@pytest.mark.parametrize(
    "fields",
    [
        {"voice": "female", "service_level": "basic", "language": "en-US"},
        {"voice": "male", "service_level": "basic"},
        {"voice": "AWS.Polly.Joanna-Neural", "service_level": None, "language": "en-US"},
        {"voice": "AWS.Polly.Celine", "service_level": "premium", "language": "fr-FR"},
        {"voice": "Azure.en-US-AvaMultilingualNeural", "service_level": "premium"},
        {"voice": "Telnyx.KokoroTTS.af", "service_level": None, "language": None},
        {"voice": "ElevenLabs.eleven_multilingual_v2.Rachel", "service_level": None, "voice_settings": {
            "type": "elevenlabs", "api_key_ref": "my-key"}},
    ],
)  # fmt: skip
async def test_a_speak_telnyx_documents_is_carried_out(telnyx: Telnyx, fields: dict[str, Any]) -> None:
    call_control_id = await telnyx.answered_call()

    status, document = await telnyx.speak(call_control_id, "c", **fields)
    await telnyx.idle()

    assert (status, document) == (200, {"data": {"result": "ok"}})
    assert telnyx.simulator.dialed()[0].heard == ["A joke"]


@pytest.mark.parametrize(
    ("fields", "pointer", "says"),
    [
        ({"voice": "female", "service_level": None}, "/voice", "service_level basic"),
        ({"voice": "female", "service_level": "premium"}, "/voice", "service_level basic"),
        ({"voice": "female", "language": "fr-FR"}, "/language", "must be en-US"),
        ({"voice": "female", "payload_type": "ssml"}, "/payload_type", "must be text"),
        ({"voice": "AWS.Polly.Joanna", "service_level": "basic"}, "/voice", "male or female"),
        ({"voice": "robot", "service_level": None}, "/voice", "not a Telnyx voice"),
        ({"voice": "AWS.Polly.Joanna", "service_level": "gold"}, "/service_level", "neither basic nor premium"),
        (
            {"voice": "Azure.en-US-JennyNeural", "service_level": None, "language": "xx-XX"},
            "/language",
            "not a language",
        ),
        ({"voice": "ElevenLabs.eleven_multilingual_v2.Rachel", "service_level": None}, "/voice", "api_key_ref"),
    ],
)
async def test_a_speak_telnyx_would_refuse_is_a_422_in_its_error_shape(
    telnyx: Telnyx, fields: dict[str, Any], pointer: str, says: str
) -> None:
    call_control_id = await telnyx.answered_call()

    status, document = await telnyx.speak(call_control_id, "c", **fields)
    await telnyx.idle()

    assert status == 422
    [error] = document["errors"]
    assert error["code"] == "10032"
    assert error["source"] == {"pointer": pointer}
    assert says in error["detail"]
    assert telnyx.simulator.dialed()[0].heard == []


# Webhooks the service does not take


async def test_a_refused_webhook_is_delivered_again_after_a_growing_delay(telnyx: Telnyx, naps: RecordedSleep) -> None:
    telnyx.receiver.refusals = 2

    await telnyx.dial()
    await telnyx.idle()

    assert [event["event_type"] for event in telnyx.receiver.events] == ["call.initiated", "call.answered"]
    first, second = naps.delays
    assert 0.15 <= first <= 0.2
    assert 0.3 <= second <= 0.4


async def test_a_webhook_refused_every_time_is_given_up_and_logged(
    telnyx: Telnyx, naps: RecordedSleep, caplog: pytest.LogCaptureFixture
) -> None:
    telnyx.receiver.refusals = 4

    with caplog.at_level(logging.ERROR, logger="dialajoke.simulator"):
        dialed = await telnyx.dial()
        await telnyx.idle()

    assert telnyx.receiver.attempts == 4 + 1
    assert len(naps.delays) == 3
    assert [event["event_type"] for event in telnyx.receiver.events] == ["call.answered"]
    assert f"gave up delivering call.initiated for {dialed['call_control_id']}" in caplog.text


# Its memory is capped


async def test_past_its_cap_the_simulator_forgets_the_oldest_ended_calls_first(telnyx: Telnyx) -> None:
    telnyx.simulator.max_calls = 2
    ended = await telnyx.dial("call-1:dial")
    await telnyx.idle()
    await telnyx.action(ended["call_control_id"], "hangup", command_id="call-1:hangup")
    await telnyx.idle()
    oldest_live = await telnyx.dial("call-2:dial")

    third = await telnyx.dial("call-3:dial")
    kept_after_third = list(telnyx.simulator.calls)
    fourth = await telnyx.dial("call-4:dial")

    assert kept_after_third == [oldest_live["call_control_id"], third["call_control_id"]]
    assert list(telnyx.simulator.calls) == [third["call_control_id"], fourth["call_control_id"]]
    status, _ = await telnyx.action(oldest_live["call_control_id"], "hangup", command_id="call-2:hangup")
    assert status == 422


# Keys pressed, and speeches stopped


async def key_pressed(telnyx: Telnyx) -> None:
    await wait_until(lambda: bool(telnyx.receiver.of("call.dtmf.received")), WAIT_S, "the callee to press a key")


async def test_the_reserved_callee_presses_9_halfway_through_the_joke(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call(to=PRESSES_9)
    await telnyx.speak(call_control_id, "c:speak", JOKE)
    await key_pressed(telnyx)

    status, _ = await telnyx.speak(call_control_id, "c:bye", "Goodbye.", stop="current")
    await telnyx.idle()

    assert status == 200
    assert telnyx.receiver.story() == [
        "call.speak.started",
        "call.dtmf.received 9",
        "call.speak.ended completed",
        "call.speak.started",
        "call.speak.ended completed",
    ]
    [dtmf] = telnyx.receiver.of("call.dtmf.received")
    assert (dtmf["payload"]["from"], dtmf["payload"]["to"]) == ("+13125550100", PRESSES_9)
    [call] = telnyx.simulator.dialed()
    assert call.heard == [JOKE[: len(JOKE) // 2], "Goodbye."]
    assert call.summary()["pressed"] == ["9"]


async def test_stop_all_also_drops_the_speeches_queued_behind(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call(to=PRESSES_9)
    await telnyx.speak(call_control_id, "c:1", JOKE)
    await key_pressed(telnyx)

    await telnyx.speak(call_control_id, "c:2", "Queued.")
    await telnyx.speak(call_control_id, "c:3", "Instead.", stop="all")
    await telnyx.idle()

    [call] = telnyx.simulator.dialed()
    assert call.heard == [JOKE[: len(JOKE) // 2], "Instead."]


async def test_a_joke_nobody_stops_after_the_key_is_heard_to_its_end(
    telnyx: Telnyx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "KEY_REACTION_S", 0.0)
    call_control_id = await telnyx.answered_call(to=PRESSES_9)

    await telnyx.speak(call_control_id, "c:speak", JOKE)
    await telnyx.idle()

    [call] = telnyx.simulator.dialed()
    assert call.heard == [JOKE]
    assert telnyx.receiver.story() == ["call.speak.started", "call.dtmf.received 9", "call.speak.ended completed"]


async def test_a_stop_telnyx_does_not_know_is_refused(telnyx: Telnyx) -> None:
    call_control_id = await telnyx.answered_call()

    status, document = await telnyx.speak(call_control_id, "c", stop="everything")

    assert status == 422
    [error] = document["errors"]
    assert (error["code"], error["source"]) == ("10032", {"pointer": "/stop"})


async def test_an_inbound_caller_can_press_9_during_the_first_speech(telnyx: Telnyx) -> None:
    body = {"from": "+353861234567", "press": "9"}
    async with telnyx.session.post(f"{telnyx.base_url}/inbound-calls", json=body) as response:
        call_control_id = (await response.json())["data"]["call_control_id"]
    await telnyx.idle()
    await telnyx.action(call_control_id, "answer", command_id="in-1:answer")
    await telnyx.idle()

    await telnyx.speak(call_control_id, "in-1:speak", JOKE)
    await key_pressed(telnyx)
    await telnyx.action(call_control_id, "hangup", command_id="in-1:hangup")
    await telnyx.idle()

    [dtmf] = telnyx.receiver.of("call.dtmf.received")
    assert (dtmf["payload"]["digit"], dtmf["payload"]["from"]) == ("9", "+353861234567")
    assert telnyx.simulator.calls[call_control_id].pressed == ["9"]


@pytest.mark.parametrize("press", ["x", 9, "9" * 17])
async def test_an_inbound_caller_presses_only_keys_of_a_keypad(telnyx: Telnyx, press: object) -> None:
    body = {"from": "+353861234567", "press": press}
    async with telnyx.session.post(f"{telnyx.base_url}/inbound-calls", json=body) as response:
        status, document = response.status, await response.json()

    assert status == 422
    assert document["errors"][0]["source"] == {"pointer": "/press"}
    assert telnyx.simulator.calls == {}
