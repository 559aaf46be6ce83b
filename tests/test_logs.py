"""Phone numbers never reach a log line whole."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from dialajoke import logs
from dialajoke.logs import LOG_FORMAT, AddContext, JsonFormatter, MaskPhoneNumbers, mask_number, mask_numbers

from .processes import ServiceProcess, Telnyx
from .waiting import wait_until


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+12025550142", "+1202555****42"),
        ("+442079460958", "+4420794****58"),
        ("+3531234567", "+353123****67"),
        ("+1234567", "+123****67"),
    ],
)
def test_a_number_keeps_its_start_and_last_two_digits(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_every_number_in_a_text_is_masked_and_nothing_else() -> None:
    text = "call 7 to +12025550142 from +13125550100 at 2030-01-31T09:30:00+00:00, ref 1234567890"

    assert mask_numbers(text) == (
        "call 7 to +1202555****42 from +1312555****00 at 2030-01-31T09:30:00+00:00, ref 1234567890"
    )


def test_a_number_in_a_url_with_its_plus_percent_encoded_is_masked() -> None:
    line = '"POST /do-not-call/%2B12025550142/remove HTTP/1.1" and ?owner=%2b13125550100'

    assert mask_numbers(line) == '"POST /do-not-call/%2B12025****42/remove HTTP/1.1" and ?owner=%2b13125****00'


def test_a_number_already_masked_is_left_as_it_is() -> None:
    assert mask_numbers("call to +1202555****42") == "call to +1202555****42"


def test_a_number_followed_by_stars_that_are_not_a_mask_is_masked() -> None:
    assert mask_numbers("*+12025550142* and +13125550100****") == "*+1202555****42* and +1312555****00****"


def test_a_number_in_any_part_of_a_console_line_is_masked() -> None:
    record = logging.LogRecord("dialajoke", logging.INFO, __file__, 1, "booked", (), None)
    record.request_id = "+12025550142"
    record.stack_info = "Stack (most recent call last):\n  dialing +13125550100"

    line = formatted(record, logs.formatter_for("console"))

    assert "[req +1202555****42]" in line
    assert "dialing +1312555****00" in line


def formatted(record: logging.LogRecord, formatter: logging.Formatter | None = None) -> str:
    """The line the service's handler writes for ``record``: its filters, then the formatter."""
    assert MaskPhoneNumbers().filter(record)
    assert AddContext().filter(record)
    return (formatter or logging.Formatter(LOG_FORMAT)).format(record)


def as_json(record: logging.LogRecord) -> dict[str, Any]:
    line = formatted(record, JsonFormatter())
    assert "\n" not in line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_number_passed_as_an_argument_is_masked_in_the_line() -> None:
    record = logging.LogRecord(
        "dialajoke", logging.INFO, __file__, 1, "call %s to %s booked", (7, "+12025550142"), None
    )

    line = formatted(record)

    assert "call 7 to +1202555****42 booked" in line
    assert "0142" not in line


def test_a_malformed_log_call_is_left_to_loggings_own_error_report() -> None:
    record = logging.LogRecord("dialajoke", logging.INFO, __file__, 1, "two %s %s", ("one",), None)

    assert MaskPhoneNumbers().filter(record)


def test_a_number_in_a_traceback_is_masked() -> None:
    try:
        raise ValueError("Telnyx refused +12025550142")
    except ValueError as exc:
        record = logging.LogRecord("dialajoke", logging.ERROR, __file__, 1, "dial failed", (), (ValueError, exc, None))

    line = formatted(record)

    assert "Telnyx refused +1202555****42" in line
    assert "+12025550142" not in line


def test_a_json_line_is_one_object_with_the_time_in_utc_and_the_number_masked() -> None:
    record = logging.LogRecord(
        "dialajoke.calls", logging.WARNING, __file__, 1, "call %s to %s refused", (7, "+12025550142"), None
    )
    record.created = 1_900_000_000.25

    line = as_json(record)

    assert line == {
        "time": "2030-03-17T17:46:40.250+00:00",
        "level": "WARNING",
        "logger": "dialajoke.calls",
        "message": "call 7 to +1202555****42 refused",
    }


def test_a_json_line_carries_its_traceback_masked() -> None:
    try:
        raise ValueError("Telnyx refused +12025550142")
    except ValueError as exc:
        record = logging.LogRecord("dialajoke", logging.ERROR, __file__, 1, "dial failed", (), (ValueError, exc, None))

    line = as_json(record)

    assert "ValueError: Telnyx refused +1202555****42" in line["exc_info"]
    assert "+12025550142" not in json.dumps(line)


def test_a_number_in_any_field_of_a_json_line_is_masked() -> None:
    record = logging.LogRecord("dialajoke", logging.INFO, __file__, 1, "booked", (), None)
    record.request_id = "+12025550142"

    assert as_json(record)["request_id"] == "+1202555****42"


def test_lines_logged_about_a_call_in_a_request_carry_both_ids_in_either_format() -> None:
    def record() -> logging.LogRecord:
        return logging.LogRecord("dialajoke", logging.INFO, __file__, 1, "ringing", (), None)

    token = logs.request_id.set("1a2b")
    try:
        with logs.about_call(7):
            console, json_line = formatted(record()), as_json(record())
        after_the_call = as_json(record())
    finally:
        logs.request_id.reset(token)

    assert "dialajoke [req 1a2b] [call 7]: ringing" in console
    assert (json_line["request_id"], json_line["call_id"]) == ("1a2b", 7)
    assert "call_id" not in after_the_call
    assert "request_id" not in as_json(record())


async def inbound_call_id(service: ServiceProcess) -> int:
    """The id of the first call someone rang in on, once the service has stored it."""
    found: list[int] = []

    async def stored() -> bool:
        _, listing = await service.request("GET", "/api/calls")
        found.extend(call["id"] for call in listing["calls"] if call["direction"] == "inbound")
        return bool(found)

    await wait_until(stored, timeout_s=30, what="the incoming call to be stored", poll_s=0.05)
    return found[0]


async def test_the_running_service_and_simulator_never_log_a_whole_number(tmp_path: Path) -> None:
    service_port = unused_port()
    telnyx = Telnyx(tmp_path, service_port, time_scale=0.1)
    await telnyx.process.ready()
    service = ServiceProcess(tmp_path, service_port, telnyx)
    try:
        await service.start()
        call_id = await service.book("+12025550142", in_s=1)
        call = await service.wait_for(call_id, {"completed"})
        async with aiohttp.ClientSession() as session:
            await session.post(f"{telnyx.url}/inbound-calls", json={"from": "+353861234567"})
        inbound = await service.wait_for(await inbound_call_id(service), {"completed"})
    finally:
        if service.process is not None:
            service.process.stop()
        telnyx.process.kill()

    logs = (tmp_path / "service.log").read_text() + (tmp_path / "simulator.log").read_text()
    assert (call["to"], inbound["from"]) == ("+12025550142", "+353861234567")
    assert "+1202555****42" in logs
    assert "+12025550142" not in logs
    assert "+13125550100" not in logs
    assert "+3538612****67" in logs
    assert "+353861234567" not in logs


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of a json-format log, each of which must be one JSON object."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_json_logs_follow_one_request_and_one_call_and_leave_out_health_checks(tmp_path: Path) -> None:
    service_port = unused_port()
    telnyx = Telnyx(tmp_path, service_port, time_scale=0.1)
    await telnyx.process.ready()
    service = ServiceProcess(tmp_path, service_port, telnyx, log_format="json")
    try:
        await service.start()
        status, booked = await service.request(
            "POST",
            "/api/calls",
            headers={"X-Request-ID": "booking-1"},
            json={"to": "+12025550142", "at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
        )
        assert status == 201, booked
        await service.wait_for(booked["id"], {"completed"})
        async with aiohttp.ClientSession() as session, session.get(f"{service.url}/health") as health:
            assert health.status == 200
    finally:
        if service.process is not None:
            service.process.stop()
        telnyx.process.kill()

    lines = json_lines(tmp_path / "service.log")
    about_the_call = [line for line in lines if re.match(rf"call {booked['id']}\b", line["message"])]
    booking = [line for line in lines if line.get("request_id") == "booking-1"]
    access = [line for line in lines if line["logger"] == "aiohttp.access"]
    assert len(about_the_call) >= 2
    assert all(line.get("call_id") == booked["id"] for line in about_the_call)
    assert any("booked" in line["message"] for line in booking)
    assert any("POST /api/calls" in line["message"] for line in access if line.get("request_id") == "booking-1")
    assert not [line for line in access if "/health" in line["message"]]
    assert "+12025550142" not in (tmp_path / "service.log").read_text()
