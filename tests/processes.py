"""The service and a stand-in Telnyx as real processes, for tests that kill -9 the service."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
from aiohttp.test_utils import unused_port

from dialajoke.telnyx.signing import public_key_b64

from .service import PROJECT
from .waiting import wait_until

READY_TIMEOUT_S = 20.0
POLL_S = 0.05
"""How often another process is asked again: each look is a real HTTP request."""


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, probe_url: str) -> None:
        self.name = name
        self.probe_url = probe_url
        self._log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, *args], cwd=PROJECT, env={**os.environ, **env}, stdout=out, stderr=out
            )

    async def ready(self) -> None:
        """Wait until the process answers its probe URL; fail with its log if it exits or never does."""
        async with aiohttp.ClientSession() as session:

            async def answers() -> bool:
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.name} exited: {self.log_tail()}")
                try:
                    async with session.get(self.probe_url, timeout=aiohttp.ClientTimeout(total=1)) as response:
                        return response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    return False

            await wait_until(
                answers, READY_TIMEOUT_S, lambda: f"{self.name} to answer: {self.log_tail()}", poll_s=POLL_S
            )

    def log_text(self) -> str:
        """Everything the process has written to stdout and stderr so far."""
        return self._log.read_text(errors="replace")

    def log_tail(self) -> str:
        return self.log_text()[-3000:]

    def kill(self) -> None:
        """kill -9: no cleanup, no flush, exactly what a crash does."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, signal_number: int = signal.SIGTERM) -> int:
        """SIGTERM as a service manager stops a service, or SIGINT as Ctrl-C does; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
        return self.process.wait(timeout=30)


class Telnyx:
    """``python -m dialajoke.simulator``: remembers every call placed, whatever happens to the service."""

    def __init__(self, tmp_path: Path, service_port: int, time_scale: float) -> None:
        self.port = unused_port()
        self.api_key = "KEY" + secrets.token_hex(8)
        seed = secrets.token_bytes(32)
        self.public_key = public_key_b64(nacl.signing.SigningKey(seed))
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["-m", "dialajoke.simulator", "--port", str(self.port), "--api-key", self.api_key]
        args += ["--signing-seed", base64.b64encode(seed).decode(), "--time-scale", str(time_scale)]
        args += ["--webhook-url", f"http://127.0.0.1:{service_port}/webhook"]
        self.process = Process("simulator", args, {}, tmp_path / "simulator.log", f"{self.url}/calls")

    async def calls(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/calls") as response:
            calls: list[dict[str, Any]] = (await response.json())["data"]
            return calls

    async def set_faults(self, **faults: Any) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"{self.url}/faults", json=faults) as response:
            assert response.status == 200, await response.text()


class ServiceProcess:
    """``python -m dialajoke`` configured, through the environment, for the stand-in Telnyx."""

    def __init__(self, tmp_path: Path, port: int, telnyx: Telnyx, **settings: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._tmp_path = tmp_path
        self.env = {
            "DIALAJOKE_HTTP__PORT": str(port),
            "DIALAJOKE_PUBLIC_URL": self.url,
            "DIALAJOKE_DATABASE__PATH": str(tmp_path / "calls.sqlite3"),
            "DIALAJOKE_TELNYX__API_KEY": telnyx.api_key,
            "DIALAJOKE_TELNYX__PUBLIC_KEY": telnyx.public_key,
            "DIALAJOKE_TELNYX__CONNECTION_ID": "1234567890",
            "DIALAJOKE_TELNYX__FROM_NUMBER": "+13125550100",
            "DIALAJOKE_TELNYX__API_BASE_URL": f"{telnyx.url}/v2",
            "DIALAJOKE_TELNYX__RETRY_BASE_DELAY_S": "0.05",
            "DIALAJOKE_TELNYX__MAX_CONCURRENT_CALLS": "10",
            # Live mode keeps calling hours, and these processes run on the wall clock, whose
            # hour a test cannot choose: the hours are off so a booking never depends on it.
            "DIALAJOKE_PROTECTION__CALLING_HOURS": "",
            **{f"DIALAJOKE_{key.upper()}": value for key, value in settings.items()},
        }
        self.process: Process | None = None
        self.key = ""

    async def start(self) -> ServiceProcess:
        """Start the service; on the first start, make an admin with the command line, as an operator would."""
        if not self.key:
            self.key = self.users("add", "operator", "--admin").splitlines()[-1]
        self.process = Process(
            "service", ["-m", "dialajoke"], self.env, self._tmp_path / "service.log", self.url + "/health"
        )
        await self.process.ready()
        return self

    def users(self, *args: str) -> str:
        """``python -m dialajoke users ...`` on this service's database; returns what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "dialajoke", "users", *args],
            cwd=PROJECT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A request with the operator's API key."""
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.request(method, self.url + path, **kwargs) as response,
        ):
            return response.status, await response.json()

    async def book(self, to: str, in_s: float) -> int:
        at = time.time() + in_s
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}+00:00"
        status, call = await self.request("POST", "/api/calls", json={"to": to, "at": iso})
        assert status == 201, call
        return int(call["id"])

    async def call(self, call_id: int) -> dict[str, Any]:
        status, call = await self.request("GET", f"/api/calls/{call_id}")
        assert status == 200, call
        return dict(call)

    async def wait_for(self, call_id: int, statuses: set[str], timeout_s: float = 30) -> dict[str, Any]:
        call: dict[str, Any] = {}

        async def reached() -> bool:
            nonlocal call
            call = await self.call(call_id)
            return call["status"] in statuses

        await wait_until(
            reached, timeout_s, lambda: f"call {call_id} to reach {sorted(statuses)}: {call}", poll_s=POLL_S
        )
        return call
