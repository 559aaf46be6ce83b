"""The scripts in setup/ run as the README documents them, and say what they promise.

Each script runs as a subprocess of this venv's Python from the project folder, as a
person would run it. Where a script must reach a server, the server is a local aiohttp
test server in this test's event loop, so the script runs with asyncio's subprocess
support and the loop stays free to answer it. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from pytest_aiohttp import AiohttpServer

from .service import PROJECT

SUCCESS = "Success! Your local environment is set up correctly."
API_KEY = "KEY0123456789ABCDEF_test"
CONNECTION_ID = "1494404757140276705"
PUBLIC_KEY = base64.b64encode(bytes(range(32))).decode()
SLOW_PAGE_S = 0.3
"""How long the fake slow pages take to answer. Real seconds, not a wait for anything: the
script under test times real fetches, to show that pages fetched at once take about as
long as the slowest, not the sum."""
FETCH_TIMEOUT_S = 0.5

WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """config.dev.json on a free port with the database under tmp_path, changed by sections of settings."""

    def write(**sections: dict[str, Any]) -> Path:
        settings = json.loads((PROJECT / "config.dev.json").read_text())
        settings["http"]["port"] = unused_port()
        settings["database"]["path"] = str(tmp_path / "var" / "calls.sqlite3")
        for section, changes in sections.items():
            settings[section].update(changes)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(settings))
        return path

    return write


def script_env() -> dict[str, str]:
    """This environment without DIALAJOKE_* settings, which would override the test's config file."""
    return {name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")}


def run_script(script: str, *args: str, python_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *python_options, f"setup/{script}", *args],
        cwd=PROJECT,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def run_script_async(script: str, *args: str) -> tuple[int, str, str]:
    """run_script for a script that talks to a server running in this event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        f"setup/{script}",
        *args,
        cwd=PROJECT,
        env=script_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def lines_marked(status: str, output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"[{status}]")]


@pytest.mark.parametrize("script", ["confirm_environment.py", "asyncio_example.py", "aiohttp_example.py"])
def test_every_script_explains_itself_with_help(script: str) -> None:
    result = run_script(script, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script}")


# --- confirm_environment.py ----------------------------------------------------------------------


def test_confirm_environment_succeeds_in_the_project_venv(write_config: WriteConfig) -> None:
    result = run_script("confirm_environment.py", "--config", str(write_config()))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == SUCCESS
    assert lines_marked("FAIL", result.stdout) == []
    checked = "\n".join(lines_marked(" ok ", result.stdout))
    for what in ("Python 3.", "inside the project's virtual environment", "aiohttp 3.", "is readable and valid"):
        assert what in checked
    assert re.search(r"http\.port \d+ on 127\.0\.0\.1 is free", checked)
    assert "database folder" in checked
    assert "no telnyx.api_key, so calls go to the embedded simulator" in checked


def test_confirm_environment_runs_from_invoke(write_config: WriteConfig) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "check", "--config", str(write_config())],
        cwd=PROJECT,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == SUCCESS


def test_a_broken_config_fails_naming_the_key(write_config: WriteConfig) -> None:
    config = write_config(http={"port": "eighty"})

    result = run_script("confirm_environment.py", "--config", str(config))

    assert result.returncode == 1
    [failure] = lines_marked("FAIL", result.stdout)
    assert failure.startswith(f"[FAIL] {config}: http.port must be a whole number, not 'eighty' -> fix: edit {config}")
    assert "[skip] http.port, database folder and Telnyx settings" in result.stdout
    assert SUCCESS not in result.stdout


def test_a_voice_telnyx_would_not_speak_fails_naming_the_key(write_config: WriteConfig) -> None:
    config = write_config(telnyx={"voice": "female", "language": "fr-FR"})

    result = run_script("confirm_environment.py", "--config", str(config))

    assert result.returncode == 1
    [failure] = lines_marked("FAIL", result.stdout)
    assert failure.startswith(f"[FAIL] {config}: telnyx.language must be en-US with the voice 'female'")


def test_a_port_already_taken_fails_saying_how_to_free_it(write_config: WriteConfig) -> None:
    with socket.socket() as service_already_running:
        service_already_running.bind(("127.0.0.1", 0))
        service_already_running.listen()
        port = service_already_running.getsockname()[1]

        result = run_script("confirm_environment.py", "--config", str(write_config(http={"port": port})))

    assert result.returncode == 1
    [failure] = lines_marked("FAIL", result.stdout)
    assert f"http.port {port} on 127.0.0.1 cannot be used" in failure
    assert f"ss -ltnp 'sport = :{port}'" in failure
    assert f"DIALAJOKE_HTTP__PORT={port + 1}" in failure


def test_outside_the_venv_it_says_how_to_get_in(write_config: WriteConfig) -> None:
    # Without its site module Python neither enters the venv nor sees the venv's packages: just like
    # running the script with a system python3 on a machine where only the venv has them.
    result = run_script("confirm_environment.py", "--config", str(write_config()), python_options=("-S",))

    assert result.returncode == 1
    assert result.stderr == ""
    failures = lines_marked("FAIL", result.stdout)
    assert failures[0].startswith("[FAIL] not inside the project's virtual environment (.venv)")
    assert failures[0].endswith("-> fix: make install, then .venv/bin/python setup/confirm_environment.py")
    assert any(line.startswith("[FAIL] not installed for this Python: aiohttp,") for line in failures)
    assert SUCCESS not in result.stdout


def test_malformed_telnyx_settings_are_named_and_the_key_is_not_shown(write_config: WriteConfig) -> None:
    telnyx = {
        "api_key": "supersecret",
        "connection_id": "my-app",
        "from_number": "+13125550100",
        "public_key": PUBLIC_KEY,
        "api_base_url": f"http://127.0.0.1:{unused_port()}/v2",  # never asked without --online
    }

    result = run_script("confirm_environment.py", "--config", str(write_config(telnyx=telnyx)))

    assert result.returncode == 1
    assert "supersecret" not in result.stdout + result.stderr
    failures = lines_marked("FAIL", result.stdout)
    assert [line.split(" -> fix: ")[0] for line in failures] == [
        "[FAIL] telnyx.api_key does not start with KEY, so it is not a Telnyx API v2 key",
        "[FAIL] telnyx.connection_id 'my-app' is not a Call Control Application id (digits only)",
    ]
    assert "[ ok ] telnyx.from_number +13125550100 is a valid number in E.164 form" in result.stdout
    assert "[ ok ] telnyx.public_key is the base64 of a 32-byte Ed25519 key" in result.stdout


class FakeTelnyx:
    """Answers the two read-only requests of --online, and records the Authorization header of each."""

    def __init__(self, key_accepted: bool) -> None:
        self.key_accepted = key_accepted
        self.seen: list[tuple[str, str]] = []
        self.app = web.Application()
        self.app.router.add_get("/v2/balance", self.balance)
        self.app.router.add_get("/v2/call_control_applications/{id}", self.application)

    async def balance(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization", "")))
        if not self.key_accepted:
            error = {"code": "10009", "title": "Authentication failed", "detail": "Could not understand the API key."}
            return web.json_response({"errors": [error]}, status=401)
        return web.json_response({"data": {"record_type": "balance", "balance": "300.00", "currency": "USD"}})

    async def application(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization", "")))
        if request.match_info["id"] != CONNECTION_ID:
            return web.json_response({"errors": [{"code": "10005", "title": "Resource not found"}]}, status=404)
        return web.json_response({"data": {"id": CONNECTION_ID, "record_type": "call_control_application"}})


async def check_online(aiohttp_server: AiohttpServer, write_config: WriteConfig, telnyx: FakeTelnyx) -> tuple[int, str]:
    server = await aiohttp_server(telnyx.app)
    settings = {
        "api_key": API_KEY,
        "connection_id": CONNECTION_ID,
        "from_number": "+13125550100",
        "public_key": PUBLIC_KEY,
        "api_base_url": str(server.make_url("/v2")),
    }
    config = write_config(telnyx=settings)
    returncode, stdout, _ = await run_script_async("confirm_environment.py", "--config", str(config), "--online")
    return returncode, stdout


async def test_online_asks_telnyx_whether_the_key_and_application_work(
    aiohttp_server: AiohttpServer, write_config: WriteConfig
) -> None:
    telnyx = FakeTelnyx(key_accepted=True)

    returncode, stdout = await check_online(aiohttp_server, write_config, telnyx)

    assert returncode == 0, stdout
    assert "[ ok ] Telnyx accepted telnyx.api_key" in stdout
    assert f"[ ok ] Telnyx knows the Call Control Application {CONNECTION_ID}" in stdout
    assert telnyx.seen == [
        ("/v2/balance", f"Bearer {API_KEY}"),
        (f"/v2/call_control_applications/{CONNECTION_ID}", f"Bearer {API_KEY}"),
    ]


async def test_online_reports_a_key_telnyx_refuses(aiohttp_server: AiohttpServer, write_config: WriteConfig) -> None:
    returncode, stdout = await check_online(aiohttp_server, write_config, FakeTelnyx(key_accepted=False))

    assert returncode == 1
    [failure] = lines_marked("FAIL", stdout)
    assert failure.startswith("[FAIL] Telnyx refused telnyx.api_key (401: Could not understand the API key.)")
    assert API_KEY not in stdout


# --- asyncio_example.py ------------------------------------------------------------------------------

SCALE = 0.02
"""Longest task 0.14 s, sum 0.26 s: far enough apart to tell overlap from a sum on a busy machine."""


@pytest.fixture(scope="module")
def asyncio_lesson() -> str:
    result = run_script("asyncio_example.py", "--scale", str(SCALE), "--sequential")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # in particular, no "coroutine ... was never awaited"
    return result.stdout


def summary_of(how: str, output: str) -> tuple[float, float, float]:
    """(elapsed, longest task, sum of the tasks) from the script's summary line for ``how``."""
    pattern = rf"{how}: all 4 finished in ([\d.]+) s \(longest task ([\d.]+) s, sum ([\d.]+) s\)"
    match = re.search(pattern, output)
    assert match, output
    elapsed, longest, total = map(float, match.groups())
    return elapsed, longest, total


@pytest.mark.parametrize("how", ["gather", "TaskGroup"])
def test_gathered_heavy_tasks_finish_together_in_about_the_longest(asyncio_lesson: str, how: str) -> None:
    elapsed, longest, total = summary_of(how, asyncio_lesson)

    assert longest == pytest.approx(7 * SCALE)
    assert total == pytest.approx(13 * SCALE)
    assert longest <= elapsed < total


def test_gathered_tasks_finish_shortest_first(asyncio_lesson: str) -> None:
    gather_section = asyncio_lesson.split("2. asyncio.gather")[1].split("3. asyncio.TaskGroup")[0]

    finished = re.findall(r"\] (\w) finished", gather_section)

    assert finished == ["D", "B", "C", "A"]


def test_tasks_awaited_one_after_another_take_the_sum(asyncio_lesson: str) -> None:
    elapsed, _, total = summary_of("one after another", asyncio_lesson)

    assert elapsed >= total


def test_an_unawaited_call_is_shown_to_be_a_coroutine_object(asyncio_lesson: str) -> None:
    assert re.search(r"returned <coroutine object heavy_task at 0x[0-9a-f]+>, a coroutine object", asyncio_lesson)
    assert "Its body has not run" in asyncio_lesson.split("2. asyncio.gather")[0]


# --- aiohttp_example.py ------------------------------------------------------------------------------


async def test_pages_are_fetched_at_once_and_each_failure_is_reported(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    released = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_PAGE_S)  # being slow is this page's whole job
        return web.Response(text=f"slow page {request.match_info['n']}", content_type="text/html")

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text="fast page", content_type="text/plain")

    async def hangs(request: web.Request) -> web.Response:
        await released.wait()  # until the script has given up on it
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_get("/slow/{n}", slow)
    app.router.add_get("/fast", fast)
    app.router.add_get("/hangs", hangs)
    server = await aiohttp_server(app)
    good = [str(server.make_url(f"/slow/{n}")) for n in (1, 2, 3)] + [str(server.make_url("/fast"))]
    missing, hanging = str(server.make_url("/missing")), str(server.make_url("/hangs"))
    unreachable = f"http://127.0.0.1:{unused_port()}/nobody-listens"
    out = tmp_path / "pages"

    try:
        returncode, stdout, stderr = await run_script_async(
            "aiohttp_example.py",
            *good,
            missing,
            unreachable,
            hanging,
            "--out",
            str(out),
            "--timeout",
            str(FETCH_TIMEOUT_S),
        )
    finally:
        released.set()

    assert returncode == 1, stdout + stderr
    saved = sorted(path.name for path in out.iterdir())
    assert saved == [
        f"01-127.0.0.1_{server.port}_slow_1.html",
        f"02-127.0.0.1_{server.port}_slow_2.html",
        f"03-127.0.0.1_{server.port}_slow_3.html",
        f"04-127.0.0.1_{server.port}_fast.txt",
    ]
    assert (out / saved[1]).read_text() == "slow page 2"
    assert f"{missing}: HTTP 404 Not Found" in stdout
    assert f"{unreachable}: cannot connect to 127.0.0.1" in stdout
    assert f"{hanging}: timed out after {FETCH_TIMEOUT_S:g} s" in stdout
    match = re.search(r"All 7 done in ([\d.]+) s \(the single times add up to ([\d.]+) s\): 4 saved, 3 failed", stdout)
    assert match, stdout
    total, one_by_one = map(float, match.groups())
    delays = 3 * SLOW_PAGE_S + FETCH_TIMEOUT_S
    assert one_by_one >= delays
    assert FETCH_TIMEOUT_S <= total < FETCH_TIMEOUT_S + SLOW_PAGE_S  # about the slowest (the timeout), not the sum
