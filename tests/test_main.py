"""`python -m dialajoke`: a bad setting or a port in use stops start-up with one line; a likely slip is warned."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from dialajoke.__main__ import listen, webhook_port_warning
from dialajoke.config import Config, HttpConfig

from .service import PROJECT

START_UP_TIMEOUT_S = 30


def run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dialajoke", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_bad_setting_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"http": {"port": "eighty"}}))

    result = run_main("--config", str(config))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dialajoke: configuration error: http.port must be a whole number, not 'eighty'"
    ]


def test_a_secret_is_not_echoed_when_its_neighbours_are_wrong(tmp_path: Path) -> None:
    env = {"DIALAJOKE_TELNYX__API_KEY": "KEYsupersecret", "PATH": "/usr/bin:/bin"}

    result = run_main("--config", "config.dev.json", env=env)

    assert result.returncode == 2
    assert "telnyx.connection_id must be set" in result.stderr
    assert "supersecret" not in result.stdout + result.stderr


async def start_up_log(tmp_path: Path, **settings: str) -> list[str]:
    """The service's log lines up to "serving on", as it starts with ``settings`` from the environment."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")}
    env["DIALAJOKE_DATABASE__PATH"] = str(tmp_path / "calls.sqlite3")
    env["DIALAJOKE_LOG_FORMAT"] = "console"  # the lines a person reads, although stderr is a pipe here
    env.update({f"DIALAJOKE_{key.upper()}": value for key, value in settings.items()})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialajoke", cwd=PROJECT, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not any("serving on" in line for line in lines):
            line = await asyncio.wait_for(process.stderr.readline(), timeout=START_UP_TIMEOUT_S)
            assert line, f"the service exited during start-up: {lines}"
            lines.append(line.decode())
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=START_UP_TIMEOUT_S)
    return lines


async def test_changing_the_port_alone_warns_once_where_webhooks_will_go(tmp_path: Path) -> None:
    port = unused_port()

    log = await start_up_log(tmp_path, http__port=str(port))

    warnings = [line for line in log if "WARNING" in line]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .rstrip()
        .endswith(
            "webhooks will go to http://127.0.0.1:8080/webhook, which is not this service's port: set public_url too"
        )
    )


async def test_a_port_changed_with_public_url_starts_without_a_warning(tmp_path: Path) -> None:
    port = unused_port()

    log = await start_up_log(tmp_path, http__port=str(port), public_url=f"http://127.0.0.1:{port}")

    assert [line for line in log if "WARNING" in line] == []
    assert f"serving on http://127.0.0.1:{port}" in log[-1]


@pytest.mark.parametrize(
    ("public_url", "port", "warned"),
    [
        pytest.param("http://127.0.0.1:8080", 8080, False, id="defaults"),
        pytest.param("http://127.0.0.1:8080", 9090, True, id="port-changed-alone"),
        pytest.param("http://localhost/", 80, False, id="scheme-default-port"),
        pytest.param("http://[::1]:8080", 9090, True, id="ipv6-loopback"),
        pytest.param("https://jokes.example.com", 9090, False, id="behind-a-proxy"),
    ],
)
def test_only_a_loopback_public_url_on_another_port_is_warned_about(public_url: str, port: int, warned: bool) -> None:
    config = Config(public_url=public_url, http=HttpConfig(port=port))

    assert (webhook_port_warning(config) is not None) == warned


def test_a_port_in_use_stops_start_up_before_anything_is_restored(tmp_path: Path) -> None:
    database = tmp_path / "var" / "calls.sqlite3"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")},
            "DIALAJOKE_HTTP__PORT": str(port),
            "DIALAJOKE_DATABASE__PATH": str(database),
        }

        result = run_main("--config", "config.dev.json", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"dialajoke: port {port} is in use: set DIALAJOKE_HTTP__PORT or http.port"
    ]
    assert not database.parent.exists()


def test_a_database_that_cannot_be_opened_stops_start_up_with_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    port = unused_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")},
        "DIALAJOKE_HTTP__PORT": str(port),
        "DIALAJOKE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DIALAJOKE_DATABASE__PATH": str(not_a_folder / "calls.sqlite3"),
    }

    result = run_main("--config", "config.dev.json", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"dialajoke: cannot open the database {not_a_folder / 'calls.sqlite3'} (File exists: {not_a_folder}):"
        " set database.path to a file this user can write"
    ]


def test_an_empty_host_listens_on_every_address_ipv4_and_ipv6() -> None:
    with listen("", 0) as server:
        port = server.getsockname()[1]
        for address in ("127.0.0.1", "::1"):
            with socket.create_connection((address, port), timeout=5):
                pass
