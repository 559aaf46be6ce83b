"""README's curl examples of the JSON API, run as written against the service on its port."""

from __future__ import annotations

import asyncio
import re
import shutil
import time

import pytest

from .clock import ManualClock
from .service import PROJECT, Service

EXAMPLES = re.compile(r"## The JSON API\n.*?```sh\n(.*?)```", re.S)
STATUS_OF_EACH_CURL = 'curl() { command curl -sS -o /dev/null -w "%{http_code}\\n" "$@"; }\n'
"""Each example prints only the status it was answered with, one line each."""


@pytest.fixture
def clock() -> ManualClock:
    """The wall clock's time, held still: the examples book a call a few minutes from the real now."""
    return ManualClock(time.time())


def readme_examples() -> str:
    found = EXAMPLES.search((PROJECT / "README.md").read_text(encoding="utf-8"))
    assert found, "README has no sh block under 'The JSON API'"
    return found.group(1)


async def test_the_json_api_examples_run_as_written(service: Service) -> None:
    assert shutil.which("curl"), "curl is missing (make test installs it)"
    script = readme_examples().replace("127.0.0.1:8080", f"127.0.0.1:{service.config.http.port}")
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-eu",
        "-c",
        STATUS_OF_EACH_CURL + script,
        env={"KEY": service.admin_key, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0, err.decode()
    # Booked, booked with an idempotency key, read, listed twice (by status, by due time),
    # cancelled; then /health, /info and /metrics with the admin's key.
    assert out.decode().split() == ["201", "201", "200", "200", "200", "200", "200", "200", "200"]
    assert (await service.call(1))["status"] == "cancelled"
