"""POST /webhook: only Telnyx gets in, each event counts once, and order does not matter."""

from __future__ import annotations

import logging
from typing import Any

import nacl.signing
import pytest
from aiohttp import ClientResponse

from dialajoke import keys
from dialajoke.telnyx.events import encode_client_state
from dialajoke.telnyx.signing import sign

from .service import Service
from .webhooks import envelope, post_webhook


async def problem(response: ClientResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return dict(await response.json())


async def test_a_well_signed_event_is_acknowledged(service: Service) -> None:
    response = await post_webhook(service, envelope("call.cost", call_control_id="v3:nobody"))

    assert response.status == 200
    assert (await response.json())["duplicate"] is False


@pytest.mark.parametrize(
    ("signer", "age_s", "why"),
    [
        ("other", 0, "does not match"),
        ("simulator", 301, "300 s"),
        ("simulator", -301, "300 s"),
    ],
)
async def test_events_not_provably_from_telnyx_are_refused(service: Service, signer: str, age_s: int, why: str) -> None:
    key = nacl.signing.SigningKey.generate() if signer == "other" else None

    response = await post_webhook(service, envelope("call.hangup"), key=key, timestamp=service.clock.time() - age_s)

    assert response.status == 401
    body = await problem(response)
    assert body["type"] == "/problems/invalid-signature"
    assert why in body["detail"]


async def test_an_unsigned_event_is_refused(service: Service) -> None:
    response = await service.client.post("/webhook", json=envelope("call.hangup"))

    assert response.status == 401
    assert "telnyx-signature-ed25519" in (await problem(response))["detail"]


async def test_a_body_changed_after_signing_is_refused(service: Service) -> None:
    raw = b'{"data": {"id": "1", "event_type": "call.hangup"}}'
    headers = {"Content-Type": "application/json"}
    headers.update(sign(service.simulator.signing_key, raw, int(service.clock.time())))
    response = await service.client.post("/webhook", data=raw.replace(b"hangup", b"answered"), headers=headers)

    assert response.status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (b"[1, 2]", "data"),
        (b'{"data": {"event_type": "call.hangup"}}', "data.id"),
        (b'{"data": {"id": "e1"}}', "data.event_type"),
        (b'{"data": {"id": "e1", "event_type": "call.hangup", "payload": []}}', "data.payload"),
        (b'{"data": {"id": 7, "event_type": "call.hangup"}}', "data.id"),
    ],
)
async def test_signed_but_malformed_events_are_a_400_naming_the_part(
    service: Service, body: bytes, field: str | None
) -> None:
    response = await post_webhook(service, body)

    assert response.status == 400
    document = await problem(response)
    assert document["type"] == "/problems/malformed-event"
    if field is None:
        assert "JSON" in document["detail"]
    else:
        assert [error["field"] for error in document["errors"]] == [field]


async def test_a_repeated_event_changes_nothing(service: Service) -> None:
    service.simulator.faults.held_events.add("call.speak.ended")
    booked = await service.book("+12025550142")
    service.clock.advance(60)
    await service.settle()
    [simulated] = service.simulator.dialed()
    speak_ended = envelope(
        "call.speak.ended", event_id="evt-1", call_control_id=simulated.call_control_id, status="completed"
    )

    first = await post_webhook(service, speak_ended)
    call = await service.run_until_final(booked["id"])
    again = await post_webhook(service, speak_ended)
    await service.settle()

    assert (await first.json())["duplicate"] is False
    assert (await again.json())["duplicate"] is True
    assert await service.call(booked["id"]) == call
    assert [event["detail"] for event in call["events"]].count("joke spoken; hanging up") == 1
    assert simulated.commands == ["speak", "hangup"]


async def test_simulator_duplicates_are_absorbed(service: Service) -> None:
    service.simulator.faults.duplicate_webhooks = True
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)

    assert call["status"] == "completed"
    [simulated] = service.simulator.dialed()
    assert simulated.commands == ["speak", "hangup"]
    assert [event["status"] for event in call["events"]].count("answered") == 1


async def test_answered_before_initiated_still_ends_right(service: Service) -> None:
    service.simulator.faults.held_events.add("call.initiated")
    booked = await service.book("+12025550142")

    call = await service.run_until_final(booked["id"], advance_s=60)
    await service.simulator.release("call.initiated")
    await service.settle()
    after = await service.call(booked["id"])

    assert call["status"] == "completed"
    assert after == call
    assert "ringing" not in [event["status"] for event in call["events"]]


async def test_events_before_the_dial_response_find_their_call(service: Service) -> None:
    """call.initiated comes before Telnyx answers the dial, so only its client_state names the call.

    call.answered is held back until then: the inbox's workers may act on events out of
    order (which the call flow allows), and this test is about the early event alone.
    """
    service.simulator.faults.webhooks_before_dial_response = True
    service.simulator.faults.held_events.add("call.answered")
    booked = await service.book("+12025550142")

    service.clock.advance(60)
    await service.settle()
    early = await service.call(booked["id"])
    await service.simulator.release("call.answered")
    call = await service.run_until_final(booked["id"])

    assert early["status"] == "ringing"
    assert call["status"] == "completed"


async def test_events_for_unknown_calls_are_acknowledged_and_logged(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dialajoke"):
        response = await post_webhook(service, envelope("call.answered", call_control_id="v3:stranger"))
        await service.settle()

    assert response.status == 200
    assert "v3:stranger" in caplog.text
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


@pytest.mark.parametrize(
    ("event_type", "status", "cannot"),
    [("call.answered", "answered", "speak the joke"), ("call.speak.ended", "scheduled", "hang up")],
)
async def test_an_event_for_a_call_with_no_call_control_id_sends_no_command_and_says_why(
    service: Service, caplog: pytest.LogCaptureFixture, event_type: str, status: str, cannot: str
) -> None:
    booked = await service.book("+12025550142")
    stored = await service.app[keys.STORE].get_call(booked["id"])
    assert stored is not None
    assert stored.call_control_id is None
    event = envelope(event_type, client_state=encode_client_state(stored.ref), status="completed")

    with caplog.at_level(logging.WARNING, logger="dialajoke"):
        response = await post_webhook(service, event)
        await service.settle()

    assert response.status == 200
    call = await service.call(booked["id"])
    why = f"{event_type} came without a call_control_id, so the service cannot {cannot}"
    assert (call["status"], call["events"][-1]["detail"]) == (status, why)
    assert why in caplog.text
    assert service.simulator.calls == {}


async def test_an_incoming_call_with_no_call_control_id_is_logged_and_not_answered(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    event = envelope("call.initiated", direction="incoming", state="parked", **{"from": "+353861234567"})

    with caplog.at_level(logging.WARNING, logger="dialajoke"):
        response = await post_webhook(service, event)
        await service.settle()

    assert response.status == 200
    assert f"an incoming call (event {event['data']['id']}) came without a call_control_id" in caplog.text
    assert "cannot be answered" in caplog.text
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []
