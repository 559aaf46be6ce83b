"""python -m dialajoke [--config PATH] [users ...|dnc ...]: run the service, or manage its users or do-not-call list."""

from __future__ import annotations

import argparse
import asyncio
import errno
import functools
import gc
import logging
import os
import signal
import socket
import sys
import warnings
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning

from . import dnc_cli, keys, users_cli
from .app import NoUserYet, create_app
from .config import DEFAULT_CONFIG_PATH, Config, ConfigError, is_loopback_host, load_config
from .logs import configure_logging
from .store import CannotOpenDatabase
from .web.access_log import QuietAccessLogger
from .web.slow_clients import CappedSockSite

logger = logging.getLogger("dialajoke")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CannotListen(Exception):
    """The HTTP port cannot be had; the message says which setting to change."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialajoke", description="Run the Dial-A-Joke service.")
    parser.add_argument("-c", "--config", default=str(DEFAULT_CONFIG_PATH), help="settings file (JSON)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="with no command, serve")
    users_cli.add_parser(commands)
    dnc_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "users":
        return users_cli.main(args)
    if args.command == "dnc":
        return dnc_cli.main(args)
    # aiohttp-session keeps its session on the request under a plain string key, which aiohttp 3.14 frowns on.
    warnings.filterwarnings("ignore", category=NotAppKeyWarning, module="aiohttp_session")
    try:
        config = load_config(args.config, os.environ)
        configure_logging(config.log_level, config.log_format)
        app = create_app(config)
        app.on_startup.extend([_announce_stop_signals, _freeze_start_up_heap, _announce])
    except ConfigError as exc:
        print(f"dialajoke: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = listen(config.http.host, config.http.port)
    except CannotListen as exc:
        print(f"dialajoke: {exc}", file=sys.stderr)
        return 1
    if warning := webhook_port_warning(config):
        logger.warning("%s", warning)
    try:
        asyncio.run(serve(app, sock, config))
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    except (CannotOpenDatabase, NoUserYet) as exc:
        print(f"dialajoke: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        # A setting found wrong only at start-up: the sign-in cookies' key file (session.key).
        print(f"dialajoke: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


async def serve(app: web.Application, sock: socket.socket, config: Config) -> None:
    """Serve ``app`` on ``sock`` until a stop signal, as ``web.run_app`` does, but with at most
    http.max_connections connections open at once (web/slow_clients.py), each closed after
    http.idle_timeout_s without a complete request.

    A stop signal raises ``web.GracefulExit`` out of the loop; ``asyncio.run`` then cancels
    this coroutine, whose cleanup closes the connections (waiting up to
    http.shutdown_grace_s for requests in flight) and then the app.
    """
    runner = web.AppRunner(
        app,
        handle_signals=True,
        shutdown_timeout=config.http.shutdown_grace_s,
        # aiohttp's keep-alive timer also runs from the moment a connection opens until its
        # request is complete: the one limit on a client that never finishes its headers.
        keepalive_timeout=config.http.idle_timeout_s,
        access_log_class=QuietAccessLogger,
    )
    await runner.setup()
    try:
        site = CappedSockSite(runner, sock, max_connections=config.http.max_connections, clock=app[keys.CLOCK])
        await site.start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def webhook_port_warning(config: Config) -> str | None:
    """The usual slip of changing http.port alone: public_url still names this machine, on another port.

    Telnyx (or the embedded simulator) would then post every webhook where nothing
    listens, and calls would hang until calls.stale_after_s. A public_url on another host
    is left alone: a proxy or tunnel may well forward a different port.
    """
    url = urlsplit(config.public_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    if not is_loopback_host(url.hostname or "") or port == config.http.port:
        return None
    return f"webhooks will go to {config.webhook_url}, which is not this service's port: set public_url too"


def listen(host: str, port: int) -> socket.socket:
    """The HTTP port, bound before the app starts and then handed to aiohttp to serve on.

    Start-up restores the schedule and takes over calls in progress, which another
    instance may be doing already: a port in use must stop this one before any of that.
    Serving on this very socket leaves no moment for another process to take the port.

    :raises CannotListen: saying which setting to change.
    """
    try:
        if host in ("", "::") and socket.has_dualstack_ipv6():
            # Every address, IPv4 and IPv6 alike, as aiohttp binds them when given no host.
            return socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
        family, _, _, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(address, family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(f"port {port} is in use: set DIALAJOKE_HTTP__PORT or http.port") from None
        raise CannotListen(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}):"
            " set DIALAJOKE_HTTP__HOST and DIALAJOKE_HTTP__PORT, or http.host and http.port"
        ) from None


async def _announce_stop_signals(app: web.Application) -> None:
    """Say what a stop signal does, then stop as aiohttp's own handlers do.

    An operator who sends SIGTERM should read what happens to the calls. Installed once
    everything has started, in place of the handlers aiohttp's runner set before that.
    """
    grace_s = app[keys.CONFIG].http.shutdown_grace_s
    loop = asyncio.get_running_loop()
    for signal_number in STOP_SIGNALS:
        loop.add_signal_handler(signal_number, functools.partial(_stop, signal_number, grace_s))


def _stop(signal_number: signal.Signals, grace_s: float) -> None:
    logger.info(
        "%s received: stopping; calls not yet dialed stay scheduled, dials and webhook events in flight"
        " get up to %g s (http.shutdown_grace_s)",
        signal_number.name,
        grace_s,
    )
    raise web.GracefulExit()


async def _freeze_start_up_heap(app: web.Application) -> None:
    """Keep Python's full collections off what start-up built, once everything is open.

    Modules, phone-number metadata, templates and the open resources live as long as
    the process, yet every full collection would walk them all, and while it does no
    due call is dialed (BENCHMARKS.md has the pause it cost). Frozen, they are skipped.
    A process-wide setting, so it is made here, where the process starts, and never by
    the app factory that tests call many times in one process.
    """
    gc.freeze()


async def _announce(app: web.Application) -> None:
    """Said once everything has opened, so that a start-up refused (database in use) never claims to serve."""
    config = app[keys.CONFIG]
    logger.info("serving on http://%s:%s (public URL %s)", config.http.host, config.http.port, config.public_url)
    if keys.FIRST_ADMIN in app:
        name, password = app[keys.FIRST_ADMIN]
        _show_first_admin(config, name, password)


def _show_first_admin(config: Config, name: str, password: str) -> None:
    """Printed on the console, never logged: the only time anyone sees this password."""
    sign_in = config.public_url.rstrip("/") + "/login"
    print(
        f"\n  First start: there was no user, so one is made. Sign in at {sign_in}\n"
        f"  as {name!r} with the password {password}\n"
        "  It is shown only this once: change it on the Account page"
        f" (or: python -m dialajoke users password {name}).\n",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
