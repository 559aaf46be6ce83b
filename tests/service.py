"""The whole service on a real port, talking over real HTTP to its embedded simulator."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from dialajoke import keys
from dialajoke.accounts import Accounts
from dialajoke.app import create_app
from dialajoke.calls.opt_out import with_offer
from dialajoke.config import AuthConfig, Config, DatabaseConfig, HttpConfig, SimulatorConfig, TelnyxConfig
from dialajoke.models import Direction, User
from dialajoke.simulator import TelnyxSimulator
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .waiting import let_loop_run, wait_until

PROJECT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
FINAL = frozenset({"completed", "no_answer", "busy", "failed", "cancelled", "missed"})
SETTLE_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 30.0
ADMIN = "admin"
"""The admin the service makes on its first start on this machine."""


PASSWORD = "a test password, not a default"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


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
        auth=AuthConfig(login_failure_delay_s=0.0),
    )
    return config.model_copy(update=changes)


def quick_telnyx(**changes: Any) -> TelnyxConfig:
    """Telnyx settings whose retries take milliseconds, not seconds."""
    quick = {"retry_base_delay_s": 0.001, "retry_max_delay_s": 0.005, "request_timeout_s": 5.0}
    return TelnyxConfig(**{**quick, **changes})


class Service:
    """A running service, its simulator and the clock it believes, with clients signed in.

    ``client`` calls the API with the key of ``alice``, a user (not an admin); ``pages``
    is a browser-like client signed in as her on the page (cookies, CSRF token);
    ``admin_client`` calls with an admin's key. ``anonymous`` presents nothing.
    """

    def __init__(self, config: Config, clock: ManualClock, telnyx: TelnyxSimulator | None = None) -> None:
        self.config = config
        self.clock = clock
        self.app: web.Application = create_app(config, clock=clock)
        self._telnyx = telnyx
        self.server = TestServer(self.app, host=config.http.host, port=config.http.port)
        self.anonymous = TestClient(self.server)
        self._clients: list[TestClient[web.Request, web.Application]] = [self.anonymous]

    async def start(self) -> Service:
        if self.config.is_public:
            await self._make_first_admin()
        await self.anonymous.start_server()
        self.user = await self.add_user("alice", PASSWORD)
        self.key = await self.add_key("alice")
        self.client = await self.new_client(self.key)
        self.admin_key = await self.add_key(ADMIN)
        self.admin_client = await self.new_client(self.admin_key)
        self.pages = await self.new_client()
        self.csrf = await self.sign_in(self.pages, "alice", PASSWORD)
        return self

    async def _make_first_admin(self) -> None:
        """What an operator does before starting a service others can reach (it refuses to start with no user)."""
        store = await SqliteCallStore.open(self.config.database.path, self.clock, exclusive=False)
        try:
            if await store.find_user(ADMIN) is None:
                await store.add_user(name=ADMIN, password_hash=None, is_admin=True)
        finally:
            await store.close()

    async def stop(self) -> None:
        for client in self._clients:
            await client.close()

    @property
    def accounts(self) -> Accounts:
        return self.app[keys.ACCOUNTS]

    async def add_user(self, name: str, password: str | None = None, *, admin: bool = False) -> User:
        """The user of that name, made unless it exists (a restarted service keeps its users)."""
        return await self.accounts.find_user(name) or await self.accounts.create_user(name, password, admin=admin)

    async def add_key(self, name: str) -> str:
        user = await self.accounts.find_user(name)
        assert user is not None, f"no user {name}"
        _, key = await self.accounts.add_key(user.id, "tests")
        return key

    async def new_client(self, key: str | None = None) -> TestClient[web.Request, web.Application]:
        """A client of its own cookie jar, presenting ``key`` (if given) as its bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # As a browser behind a TLS proxy would, it sends back cookies marked Secure.
        cookies = CookieJar(unsafe=True, treat_as_secure_origin=[f"http://{self.server.host}:{self.server.port}"])
        client = TestClient(self.server, headers=headers, cookie_jar=cookies)
        await client.start_server()
        self._clients.append(client)
        return client

    async def sign_in(self, client: TestClient[web.Request, web.Application], name: str, password: str) -> str:
        """Sign ``client`` in on the page, as a browser does; returns its session's CSRF token."""
        token = csrf_token(await (await client.get("/login")).text())
        form = {"name": name, "password": password, "csrf_token": token}
        response = await client.post("/login", data=form, allow_redirects=False)
        assert response.status == 303, await response.text()
        return csrf_token(await (await client.get("/")).text())

    async def post_form(
        self, path: str, form: dict[str, str], client: TestClient[web.Request, web.Application] | None = None
    ) -> ClientResponse:
        """Post a form as the page does (with the CSRF token), not following the redirect."""
        return await (client or self.pages).post(path, data={**form, "csrf_token": self.csrf}, allow_redirects=False)

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
        """The call as an admin sees it: every call, inbound ones (which no user owns) included."""
        response = await self.admin_client.get(f"/api/calls/{call_id}")
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


def spoken(call: dict[str, Any]) -> str:
    """What the person on a call heard, as the API shows the call: its joke, then the offer to press 9."""
    return with_offer(call["joke"], Direction(call["direction"]))


def csrf_token(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(page)
    assert found, f"no CSRF token in the page: {page[:300]}"
    return found.group(1)
