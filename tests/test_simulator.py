"""The simulator behaves as Telnyx: webhooks the service does not take are delivered again."""

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
from dialajoke.simulator import TelnyxSimulator

from .clock import ManualClock
from .sleeps import RecordedSleep

WAIT_S = 5.0
CALLEE = "+12025550142"


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

    async def dial(self, command_id: str = "call-1:dial") -> dict[str, Any]:
        body = {"connection_id": "c", "to": CALLEE, "from": "+13125550100", "command_id": command_id}
        status, document = await self.post("/v2/calls", body)
        assert status == 200, document
        return document["data"]

    async def action(self, call_control_id: str, action: str, **body: Any) -> tuple[int, dict[str, Any]]:
        return await self.post(f"/v2/calls/{call_control_id}/actions/{action}", body)

    async def speak(self, call_control_id: str, command_id: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        """A speak with a basic female voice, but for ``fields`` (None leaves a field out)."""
        voice = {"voice": "female", "service_level": "basic", "language": "en-US", **fields}
        sent = {name: value for name, value in voice.items() if value is not None}
        return await self.action(call_control_id, "speak", payload="A joke", command_id=command_id, **sent)

    async def answered_call(self) -> str:
        call_control_id = str((await self.dial())["call_control_id"])
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
