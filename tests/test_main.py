"""`python -m dialajoke`: a bad setting, or a port in use, stops start-up with one line naming it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from .service import PROJECT


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
