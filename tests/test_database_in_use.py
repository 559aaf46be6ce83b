"""One process per database: a second service on the same file refuses to start, naming the first.

Both are real ``python -m dialajoke`` processes, as a user would start them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from .processes import ServiceProcess, Telnyx
from .service import PROJECT


@pytest.fixture
async def telnyx(tmp_path: Path) -> AsyncIterator[Telnyx]:
    telnyx = Telnyx(tmp_path, service_port=0, time_scale=0)
    await telnyx.process.ready()
    yield telnyx
    telnyx.process.kill()


@pytest.fixture
def first(tmp_path: Path, telnyx: Telnyx) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path, unused_port(), telnyx)
    yield service
    if service.process is not None:
        service.kill()


def start_another(first: ServiceProcess) -> subprocess.CompletedProcess[str]:
    """A second service, on its own port, configured like the first in everything else."""
    port = unused_port()
    env = {
        **os.environ,
        **first.env,
        "DIALAJOKE_HTTP__PORT": str(port),
        "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "dialajoke"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=30
    )


async def test_a_second_service_on_the_same_database_refuses_to_start_naming_the_first(
    first: ServiceProcess, tmp_path: Path
) -> None:
    await first.start()
    assert first.process is not None
    call_id = await first.book("+12025550142", in_s=3600)

    second = start_another(first)

    database = tmp_path / "calls.sqlite3"
    pid = first.process.process.pid
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        f"dialajoke: database {database} is in use by process {pid} (another Dial-A-Joke); stop it or set database.path"
    ]
    assert (await first.call(call_id))["status"] == "scheduled"


async def test_a_killed_service_leaves_no_lock_behind(first: ServiceProcess) -> None:
    await first.start()
    call_id = await first.book("+12025550142", in_s=3600)
    first.kill()

    await first.start()

    assert (await first.call(call_id))["status"] == "scheduled"
