"""The whole service on a real port, talking over real HTTP to its embedded simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from dialajoke import keys
from dialajoke.app import create_app
from dialajoke.config import Config, DatabaseConfig, HttpConfig, SimulatorConfig, TelnyxConfig
from dialajoke.simulator import TelnyxSimulator

from .clock import ManualClock
from .waiting import let_loop_run, wait_until

PROJECT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
FINAL = frozenset({"completed", "no_answer", "busy", "failed", "cancelled", "missed"})
SETTLE_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 30.0


def service_config(database: Path, **changes: Any) -> Config:
    port = unused_port()
    config = Config(
        public_url=f"http://127.0.0.1:{port}",
        templates_dir=str(PROJECT / "templates"),
        static_dir=str(PROJECT / "static"),
        http=HttpConfig(host="127.0.0.1", port=port),
        database=DatabaseConfig(path=str(database)),
        simulator=SimulatorConfig(time_scale=0.0),
        telnyx=quick_telnyx(),
    )
    return config.model_copy(update=changes)


def quick_telnyx(**changes: Any) -> TelnyxConfig:
    """Telnyx settings whose retries take milliseconds, not seconds."""
    quick = {"retry_base_delay_s": 0.001, "retry_max_delay_s": 0.005, "request_timeout_s": 5.0}
    return TelnyxConfig(**{**quick, **changes})


class Service:
    """A running service, its HTTP client, its simulator and the clock it believes."""

    def __init__(self, config: Config, clock: ManualClock, telnyx: TelnyxSimulator | None = None) -> None:
        self.config = config
        self.clock = clock
        self.app: web.Application = create_app(config, clock=clock)
        self._telnyx = telnyx
        self.server = TestServer(self.app, host=config.http.host, port=config.http.port)
        self.client = TestClient(self.server)

    async def start(self) -> Service:
        await self.client.start_server()
        return self

    async def stop(self) -> None:
        await self.client.close()

    @property
    def simulator(self) -> TelnyxSimulator:
        """The Telnyx the service talks to: its embedded simulator, or the one it was given."""
        return self._telnyx or self.app[keys.SIMULATOR]

    def iso_in(self, seconds: float) -> str:
        return datetime.fromtimestamp(self.clock.time() + seconds, UTC).isoformat()

    async def book(self, to: str, in_s: float = 60) -> dict[str, Any]:
        response = await self.client.post("/api/calls", json={"to": to, "at": self.iso_in(in_s)})
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def call(self, call_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/api/calls/{call_id}")
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def settle(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Let everything already set in motion run to its end: the dials the gate has admitted,
        the calls the simulator plays, the webhooks they send and the commands those cause.

        The clock stands still, so the service comes to rest: rounds of waiting repeat until
        one in which nothing happened. Fails, naming what it was waiting for, if the service
        has not come to rest within ``timeout_s``.
        """
        waiting_for = ""

        async def rounds() -> None:
            nonlocal waiting_for
            while True:
                before = self._progress()
                waiting_for = "the clock's alarms to reach the queue, the dial gate and the dialer"
                await let_loop_run()
                waiting_for = "the dials the gate has admitted"
                await self.app[keys.CALL_CONTROL].dials_finished()
                waiting_for = "the simulator to play its calls"
                await self.simulator.wait_idle()
                waiting_for = "the webhook inbox to process its events"
                await self.app[keys.INBOX].drain()
                if self._progress() == before:
                    return

        try:
            await asyncio.wait_for(rounds(), timeout_s)
        except TimeoutError:
            pending = self.app[keys.INBOX].pending
            raise AssertionError(
                f"the service did not come to rest within {timeout_s:g} s: still waiting for {waiting_for}"
                f" ({pending} webhook events unprocessed)"
            ) from None

    def _progress(self) -> tuple[float, int, int]:
        """Counts that move whenever anything happens: HTTP requests answered (webhooks, and the
        embedded simulator's API), calls the simulator placed and what they heard, events held."""
        answered = sum(
            sample.value
            for metric in self.app[keys.METRICS].http_requests.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
        played = sum(1 + len(call.commands) + len(call.heard) for call in self.simulator.calls.values())
        return answered, played, self.app[keys.INBOX].pending

    async def run_until_final(
        self, call_id: int, advance_s: float = 0, timeout_s: float = RUN_TIMEOUT_S
    ) -> dict[str, Any]:
        """Move the clock, let the call play out, and return it once it has ended."""
        self.clock.advance(advance_s)
        call: dict[str, Any] = {}

        async def ended() -> bool:
            nonlocal call
            await self.settle()
            call = await self.call(call_id)
            return call["status"] in FINAL

        await wait_until(ended, timeout_s, lambda: f"call {call_id} to end; it is {call.get('status')!r}: {call}")
        return call
