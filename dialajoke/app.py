"""create_app(config): the one place where the service is wired together."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import __version__, keys
from .accounts import Accounts, session_key
from .calls import Bookings, CallControl, DialGate, HttpJokes, JokeSource, OfflineJokes, WebhookInbox, calling_hours
from .calls.destinations import Destinations
from .clock import Clock, SystemClock
from .config import Config, ConfigError, ProtectionConfig, TelnyxConfig
from .followers import Followers
from .metrics import Metrics
from .models import Access
from .retries import RetryPolicy
from .scheduler import UnifiedTimedQueue
from .simulator import TelnyxSimulator
from .store import SqliteCallStore
from .telnyx import SignatureVerifier, TelnyxClient, service_level_for, speak_problems
from .web import (
    access_middleware,
    allow,
    cookie_sessions,
    csrf_middleware,
    error_middleware,
    metrics_middleware,
    request_id_middleware,
    session_middleware,
    setup_routes,
)
from .web.formats import for_people, local_time
from .web.live import stop_streams
from .web.pages import code_spans
from .web.security import refuse_cross_site, security_headers
from .web.slow_clients import read_body_in_time

logger = logging.getLogger(__name__)


def create_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Config in, app out. ``clock`` is for tests that move time by hand."""
    check_voice(config.telnyx)
    app = web.Application(
        middlewares=[
            metrics_middleware,
            request_id_middleware,
            error_middleware,
            refuse_cross_site(config),
            read_body_in_time(config.http.body_timeout_s),
            session_middleware,
            access_middleware,
            csrf_middleware,
        ],
        client_max_size=config.http.client_max_size,
    )
    app.on_response_prepare.append(security_headers(config.public_url))
    app[keys.METRICS] = Metrics()
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.STARTED_AT] = time.monotonic()
    app[keys.FOLLOWERS] = Followers(config.http.max_event_streams_per_user)
    app.on_shutdown.append(stop_streams)
    _setup_templates(app, config)
    setup_routes(app, config.cors, Path(config.static_dir))
    if not config.telnyx.is_live:
        simulator = TelnyxSimulator(app[keys.CLOCK], config.webhook_url, config.simulator.time_scale)
        app[keys.SIMULATOR] = simulator
        simulator_app = simulator.app()
        app.add_subapp("/simulator", simulator_app)
        allow(app, Access.THIS_MACHINE, simulator_app.router)
    # The store opens first, so that a database in use by another process stops start-up
    # before anything else has started. Teardown runs in reverse: the queue stops first, then
    # the webhook inbox drains, then the HTTP session and the store close under it.
    app.cleanup_ctx.extend(
        [store_ctx, accounts_ctx, http_session_ctx, simulator_ctx, call_control_ctx, inbox_ctx, queue_ctx]
    )
    return app


def check_voice(telnyx: TelnyxConfig) -> None:
    """Refuse a voice and language Telnyx would never speak (reference section 3), before any call needs them."""
    problems = speak_problems(telnyx.voice, telnyx.language, service_level_for(telnyx.voice))
    if problems:
        field, detail = problems[0]
        raise ConfigError(f"telnyx.{field} {detail}")


def _setup_templates(app: web.Application, config: Config) -> None:
    folder = Path(config.templates_dir)
    if not (folder / "index.html").is_file():
        raise ConfigError(f"templates_dir {str(folder)!r} has no index.html: point it at the project's templates/")
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
    )
    env.filters["local_time"] = local_time
    env.filters["code_spans"] = code_spans
    env.filters["phone"] = for_people
    env.globals["version"] = __version__


class NoUserYet(Exception):
    """Listening beyond this machine with no user at all: the first one is made from the command line."""


async def accounts_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the accounts; on a first start on this machine, make the first admin (shown once on the console)."""
    config = app[keys.CONFIG]
    accounts = Accounts(app[keys.STORE], app[keys.CLOCK], config.auth)
    app[keys.ACCOUNTS] = accounts
    app[keys.SESSIONS] = cookie_sessions(config, session_key(config))
    if config.is_public and not await app[keys.STORE].has_users():
        raise NoUserYet(
            f"no user yet, and the service can be reached beyond this machine (http.host {config.http.host},"
            f" public_url {config.public_url}): make the first one with python -m dialajoke users add NAME --admin,"
            " then start again"
        )
    first_admin = await accounts.ensure_first_admin()
    if first_admin is not None:
        user, password = first_admin
        app[keys.FIRST_ADMIN] = (user.name, password)
    yield
    accounts.close()


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[keys.HTTP_SESSION] = session
        yield


async def simulator_ctx(app: web.Application) -> AsyncIterator[None]:
    simulator = app.get(keys.SIMULATOR)
    if simulator is None:
        logger.info("Telnyx: live, at %s", app[keys.CONFIG].telnyx.api_base_url)
        yield
        return
    await simulator.start(app[keys.HTTP_SESSION])
    logger.info("Telnyx: no telnyx.api_key set, so calls go to the embedded simulator (see README)")
    yield
    await simulator.close()


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = await SqliteCallStore.open(app[keys.CONFIG].database.path, app[keys.CLOCK])
    app[keys.STORE] = store
    yield
    await store.close()


async def call_control_ctx(app: web.Application) -> AsyncIterator[None]:
    config, session = app[keys.CONFIG], app[keys.HTTP_SESSION]
    telnyx = config.telnyx
    account = _telnyx_account(app)
    gate = DialGate(telnyx.max_dials_per_second, telnyx.max_concurrent_calls, app[keys.CLOCK])
    retry = RetryPolicy(telnyx.max_attempts, telnyx.retry_base_delay_s, telnyx.retry_max_delay_s)
    app[keys.TELNYX] = TelnyxClient(
        session, account.api_base_url, account.api_key, telnyx.request_timeout_s, retry, gate.slow_down
    )
    app[keys.VERIFIER] = SignatureVerifier(account.public_key, telnyx.webhook_tolerance_s)
    app[keys.JOKES] = _joke_source(config, session)
    call_control = CallControl(
        app[keys.STORE],
        app[keys.TELNYX],
        app[keys.JOKES],
        account.settings,
        config.webhook_url,
        app[keys.CLOCK],
        gate,
        config.calls.stale_after_s,
        misfire_grace_s=config.scheduler.misfire_grace_s,
        storage_retry_s=config.database.retry_after_s,
        calling_hours=calling_hours.enforced(
            config.protection.calling_hours,
            live=telnyx.is_live,
            on_simulator=config.protection.calling_hours_on_simulator,
        ),
        destinations=destinations(config.protection, account.settings.from_number),
        max_calls_per_day=config.protection.max_calls_per_day,
    )
    async with call_control:
        app[keys.CALL_CONTROL] = call_control
        # Before the inbox or the queue start: calls in progress must hold their places
        # under the cap before any due call is dialed or any late event is processed.
        await call_control.recover()
        yield


def destinations(protection: ProtectionConfig, from_number: str) -> Destinations:
    """The numbers the service may ring; a caller id in no one country, with no countries listed, stops start-up."""
    try:
        return Destinations.from_settings(protection, from_number)
    except ValueError as exc:
        raise ConfigError(f"protection.allowed_countries: {exc}") from None


@dataclasses.dataclass(frozen=True)
class TelnyxAccount:
    settings: TelnyxConfig
    public_key: str
    api_base_url: str
    api_key: str = dataclasses.field(repr=False)


def _telnyx_account(app: web.Application) -> TelnyxAccount:
    """The real account from config, or the simulator's generated one."""
    config = app[keys.CONFIG]
    simulator = app.get(keys.SIMULATOR)
    if simulator is None:
        telnyx = config.telnyx
        return TelnyxAccount(telnyx, telnyx.public_key, telnyx.api_base_url, telnyx.api_key.get_secret_value())
    settings = config.telnyx.model_copy(
        update={
            "connection_id": config.telnyx.connection_id or "simulator",
            "from_number": config.telnyx.from_number or simulator.number,
        }
    )
    return TelnyxAccount(settings, simulator.public_key, _local_base_url(config) + "/simulator/v2", simulator.api_key)


def _local_base_url(config: Config) -> str:
    host = config.http.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.http.port}"


def _joke_source(config: Config, session: aiohttp.ClientSession) -> JokeSource:
    offline = OfflineJokes()
    if not config.jokes.api_url:
        return offline
    return HttpJokes(session, config.jokes.api_url, config.jokes.timeout_s, fallback=offline)


async def inbox_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.CONFIG].webhooks
    inbox = WebhookInbox(
        app[keys.STORE],
        app[keys.CALL_CONTROL].handle,
        app[keys.CLOCK],
        workers=settings.workers,
        queue_size=settings.queue_size,
        retry=RetryPolicy(settings.max_attempts, settings.retry_delay_s),
        storage_retry_s=app[keys.CONFIG].database.retry_after_s,
    )
    app[keys.INBOX] = inbox
    await inbox.start()
    yield
    await inbox.close(app[keys.CONFIG].http.shutdown_grace_s)


async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    call_control = app[keys.CALL_CONTROL]
    async with UnifiedTimedQueue(call_control.due, clock=app[keys.CLOCK]) as queue:
        app[keys.QUEUE] = queue
        bookings = Bookings(
            app[keys.STORE],
            queue,
            app[keys.CLOCK],
            call_control.from_number,
            config.scheduler,
            config.protection,
            live=config.telnyx.is_live,
            cancelled=call_control.leave_line,
        )
        async with bookings:
            app[keys.BOOKINGS] = bookings
            await bookings.restore()
            call_control.redial_interrupted()
            yield
        # Calls waiting for a place are turned away (they stay scheduled); dials in flight
        # get the grace period, then are cancelled (a call left 'dialing' is re-dialed).
        await queue.close()
        await call_control.stop_dialing(config.http.shutdown_grace_s)
