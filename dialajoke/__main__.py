"""python -m dialajoke [--config PATH]: run the service."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import sys
from urllib.parse import urlsplit

from aiohttp import web

from . import keys
from .app import create_app
from .config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config
from .logs import configure_logging
from .store import DatabaseInUse

logger = logging.getLogger("dialajoke")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialajoke", description="Run the Dial-A-Joke service.")
    parser.add_argument("-c", "--config", default=str(DEFAULT_CONFIG_PATH), help="settings file (JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, os.environ)
        configure_logging(config.log_level)
        app = create_app(config)
        app.on_startup.extend([_freeze_start_up_heap, _announce])
    except ConfigError as exc:
        print(f"dialajoke: configuration error: {exc}", file=sys.stderr)
        return 2
    if warning := webhook_port_warning(config):
        logger.warning("%s", warning)
    try:
        web.run_app(
            app, host=config.http.host, port=config.http.port, print=None, shutdown_timeout=config.http.shutdown_grace_s
        )
    except DatabaseInUse as exc:
        print(f"dialajoke: {exc}", file=sys.stderr)
        return 1
    return 0


def webhook_port_warning(config: Config) -> str | None:
    """The usual slip of changing http.port alone: public_url still names this machine, on another port.

    Telnyx (or the embedded simulator) would then post every webhook where nothing
    listens, and calls would hang until calls.stale_after_s. A public_url on another host
    is left alone: a proxy or tunnel may well forward a different port.
    """
    url = urlsplit(config.public_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    if not _is_loopback(url.hostname or "") or port == config.http.port:
        return None
    return f"webhooks will go to {config.webhook_url}, which is not this service's port: set public_url too"


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _freeze_start_up_heap(app: web.Application) -> None:
    """Keep Python's full collections off what start-up built, once everything is open.

    Modules, phone-number metadata, templates and the open resources live as long as
    the process, yet every full collection walked them all: 11-16 ms during which no
    due call was dialed (measured at 1,000 dials a second). Frozen, they are skipped and
    a full collection takes about a millisecond. A process-wide setting, so it is made
    here, where the process starts, and never by the app factory that tests call many
    times in one process.
    """
    gc.freeze()


async def _announce(app: web.Application) -> None:
    """Said once everything has opened, so that a start-up refused (database in use) never claims to serve."""
    config = app[keys.CONFIG]
    logger.info("serving on http://%s:%s (public URL %s)", config.http.host, config.http.port, config.public_url)


if __name__ == "__main__":
    sys.exit(main())
