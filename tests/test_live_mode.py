"""With an API key the service talks to the Telnyx it is configured for, not to its own simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from dialajoke.config import ProtectionConfig, TelnyxConfig
from dialajoke.simulator import TelnyxSimulator

from .clock import ManualClock
from .service import Service, service_config, spoken


@contextlib.asynccontextmanager
async def live(database: Path, clock: ManualClock, **settings: Any) -> AsyncIterator[Service]:
    """The service configured for a Telnyx account; a stand-alone simulator plays Telnyx,
    with its own key pair and API key, on its own port."""
    # Live mode keeps calling hours, and the clock starts at 04:00 in New York: these tests
    # are about which account places the call, so the hours are off.
    config = service_config(database, protection=ProtectionConfig(calling_hours=""))
    telnyx = TelnyxSimulator(clock, config.webhook_url, time_scale=0)
    account = TelnyxConfig(
        api_key=SecretStr(telnyx.api_key),
        connection_id="1234567890",
        from_number="+13125550100",
        public_key=telnyx.public_key,
        **settings,
    )
    async with TestServer(telnyx.app()) as telnyx_server, aiohttp.ClientSession() as session:
        await telnyx.start(session)
        account = account.model_copy(update={"api_base_url": str(telnyx_server.make_url("/v2"))})
        service = await Service(config.model_copy(update={"telnyx": account}), clock, telnyx=telnyx).start()
        yield service
        await service.stop()
        await telnyx.close()


@pytest.fixture
async def live_service(database: Path, clock: ManualClock) -> AsyncIterator[Service]:
    async with live(database, clock) as service:
        yield service


async def test_the_configured_account_places_the_call(live_service: Service) -> None:
    booked = await live_service.book("+12025550142")

    call = await live_service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    assert call["from"] == "+13125550100"
    [placed] = live_service.simulator.dialed()
    assert (placed.from_, placed.heard) == ("+13125550100", [spoken(call)])


async def test_no_simulator_is_mounted_and_info_says_live(live_service: Service) -> None:
    assert (await live_service.client.get("/simulator/calls")).status == 404
    assert (await (await live_service.admin_client.get("/info")).json())["telnyx"] == "live"


@pytest.mark.parametrize(("voice", "language"), [("AWS.Polly.Celine", "fr-FR"), ("male", "en-US")])
async def test_the_configured_voice_tells_the_joke(
    database: Path, clock: ManualClock, voice: str, language: str
) -> None:
    async with live(database, clock, voice=voice, language=language) as service:
        booked = await service.book("+12025550142")

        call = await service.run_until_final(booked["id"], advance_s=60)

        assert call["status"] == "completed"
        [placed] = service.simulator.dialed()
        assert placed.heard == [spoken(call)]
