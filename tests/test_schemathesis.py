"""Schemathesis fuzzes every operation of the OpenAPI document against the live service.

The service runs as a real process on the simulator (nobody real is rung), with an admin's
API key so /info answers too. Schemathesis generates requests from the document, valid and
not, and checks each answer: never a 5xx, and its status, content type, headers and body as
the document says. Its own report is the failure message.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from .processes import ServiceProcess, Telnyx

SEED = 20261203
"""Fixed, so a run is repeatable: the same requests in the same order."""

MAX_EXAMPLES = 40
"""Requests per operation and phase: enough to reach every status, well inside the test's timeout."""

RUN_TIMEOUT_S = 90
"""About 12 s on an idle machine; more is a run gone wrong, stopped before pytest's own timeout."""

NUMBERS = [f"+1202555{line:04d}" for line in range(140, 160)]
"""Numbers the simulator answers; Schemathesis picks them for bookings half of the time."""

BOOKING_TIMES = [timedelta(hours=1), timedelta(hours=6), timedelta(days=2), timedelta(days=20)]
"""In the future and within max_days_ahead, so some generated bookings get past validation."""


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    """The service started on its port, with the simulator as Telnyx, both stopped afterwards."""
    port = unused_port()
    telnyx = Telnyx(tmp_path, port, time_scale=0.5)
    await telnyx.process.ready()
    service = ServiceProcess(tmp_path, port, telnyx)
    try:
        yield await service.start()
    finally:
        if service.process is not None:
            service.kill()
        telnyx.process.kill()


def schemathesis_config(call_ids: list[int]) -> str:
    """schemathesis.toml: real numbers, times and call ids to draw from, and the checks that do not fit.

    Every check is on unless turned off here (``--checks all`` on the command line would
    override these exceptions):

    - positive_data_acceptance expects every schema-valid request to be accepted. A booking's
      rules (a number that exists, a time still ahead, the protection limits) and a list's
      cursor (only one the list gave) are not expressible in JSON Schema, so schema-valid
      requests to those two operations are rightly refused with a documented 400, 422 or 429.
    - use_after_free expects 404 for a resource after its DELETE. DELETE /api/calls/{id}
      cancels a booking; the call stays readable, with status ``cancelled`` and its timeline.
    """
    now = datetime.now(UTC)
    times = [(now + ahead).isoformat() for ahead in BOOKING_TIMES]
    return f"""
[dictionaries.numbers]
values = {json.dumps(NUMBERS)}

[dictionaries.times]
values = {json.dumps(times)}

[dictionaries.calls]
values = {json.dumps(call_ids)}

[parameters]
"body.to" = {{ dictionary = "numbers", probability = 0.5 }}
"body.at" = {{ dictionary = "times", probability = 0.5 }}
"path.call_id" = {{ dictionary = "calls", probability = 0.5 }}

[checks]
use_after_free.enabled = false

[[operations]]
include-operation-id = ["createCall", "listCalls"]
checks.positive_data_acceptance.enabled = false
"""


def run_schemathesis(service: ServiceProcess, config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``st run`` as a person runs it, with the operator's key; its files (if any) go to ``cwd``."""
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run"]
    args += [f"{service.url}/api/openapi.json", "--header", f"Authorization: Bearer {service.key}"]
    args += ["--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1"]
    args += ["--generation-database", "none", "--output-sanitize", "true"]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


async def test_every_operation_answers_as_the_document_says(service: ServiceProcess, tmp_path: Path) -> None:
    call_ids = [await service.book(number, in_s=3600) for number in NUMBERS[:3]]
    config = tmp_path / "schemathesis.toml"
    config.write_text(schemathesis_config(call_ids), encoding="utf-8")

    done = await asyncio.to_thread(run_schemathesis, service, config, tmp_path)

    if done.returncode != 0:
        pytest.fail(f"Schemathesis found answers that break the document:\n{done.stdout}{done.stderr}", pytrace=False)
