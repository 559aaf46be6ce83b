"""kill -9 the service at the worst moments: every accepted call is placed exactly once, or missed by policy.

The service runs as a real process against a stand-in Telnyx in another process, which
outlives each crash and remembers every call placed on it.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from .processes import ServiceProcess, Telnyx
from .waiting import wait_until

FINAL = {"completed", "no_answer", "busy", "failed", "cancelled", "missed"}
MISFIRE_GRACE_S = 2


@pytest.fixture
async def telnyx(tmp_path: Path) -> AsyncIterator[Telnyx]:
    service_port = unused_port()
    telnyx = Telnyx(tmp_path, service_port, time_scale=0.5)
    telnyx.service_port = service_port  # type: ignore[attr-defined]
    await telnyx.process.ready()
    yield telnyx
    telnyx.process.kill()


@pytest.fixture
def service_process(tmp_path: Path, telnyx: Telnyx) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path, telnyx.service_port, telnyx)  # type: ignore[attr-defined]
    yield service
    if service.process is not None:
        service.kill()


async def placed(telnyx: Telnyx) -> Counter[str]:
    return Counter(call["to"] for call in await telnyx.calls() if call["direction"] == "outgoing")


async def restart(service: ServiceProcess) -> ServiceProcess:
    service.kill()
    return await service.start()


async def test_a_crash_before_calls_are_due_loses_none(service_process: ServiceProcess, telnyx: Telnyx) -> None:
    service = await service_process.start()
    numbers = ["+12025550142", "+12025550143", "+12025550144"]
    call_ids = [await service.book(number, in_s=2) for number in numbers]

    await restart(service)
    calls = [await service.wait_for(call_id, FINAL) for call_id in call_ids]

    assert [call["status"] for call in calls] == ["completed"] * 3
    assert await placed(telnyx) == Counter(numbers)


async def test_a_crash_while_dialing_places_the_call_once(service_process: ServiceProcess, telnyx: Telnyx) -> None:
    service = await service_process.start()
    await telnyx.set_faults(response_delay_s=1.5)
    call_id = await service.book("+12025550142", in_s=0.5)
    await service.wait_for(call_id, {"dialing"})

    service.kill()
    await telnyx.set_faults(response_delay_s=0)
    await service.start()
    call = await service.wait_for(call_id, FINAL)

    assert call["status"] == "completed"
    assert await placed(telnyx) == Counter({"+12025550142": 1})


async def test_a_crash_mid_call_still_ends_the_call_once(service_process: ServiceProcess, telnyx: Telnyx) -> None:
    service = await service_process.start()
    call_id = await service.book("+12025550142", in_s=0.5)
    await service.wait_for(call_id, {"ringing", "answered", "speaking"})

    await restart(service)
    call = await service.wait_for(call_id, FINAL)

    assert call["status"] == "completed"
    assert call["joke"]
    assert await placed(telnyx) == Counter({"+12025550142": 1})


async def test_calls_due_while_down_ring_within_the_grace_or_are_missed(
    service_process: ServiceProcess, telnyx: Telnyx
) -> None:
    service_process.env["DIALAJOKE_SCHEDULER__MISFIRE_GRACE_S"] = str(MISFIRE_GRACE_S)
    service = await service_process.start()
    late = await service.book("+12025550142", in_s=0.5)
    on_time = await service.book("+12025550143", in_s=4)
    late_due = datetime.fromisoformat((await service.call(late))["at"]).timestamp()
    service.kill()
    # The service stays down until the first call is later than the grace; the second is
    # due 3.5 s after it, so it is still within the grace when the service is back.
    await wait_until(
        lambda: time.time() > late_due + MISFIRE_GRACE_S,
        10,
        "the first call to be more than the grace late",
        poll_s=0.05,
    )

    await service.start()

    missed, completed = await service.wait_for(late, FINAL), await service.wait_for(on_time, FINAL)
    assert (missed["status"], completed["status"]) == ("missed", "completed")
    assert await placed(telnyx) == Counter({"+12025550143": 1})


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_stops_cleanly_and_keeps_the_schedule(
    service_process: ServiceProcess, signal_number: int
) -> None:
    service = await service_process.start()
    call_id = await service.book("+12025550142", in_s=120)
    assert service.process is not None

    exit_code = service.process.stop(signal_number)
    said_on_stopping = service.process.log_text()
    await service.start()

    assert exit_code == 0
    assert f"{signal.Signals(signal_number).name} received: stopping; calls not yet dialed stay scheduled" in (
        said_on_stopping
    )
    assert (await service.call(call_id))["status"] == "scheduled"
    assert (await service.request("GET", "/info"))[1]["pending_calls"] == 1
