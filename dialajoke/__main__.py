"""python -m dialajoke [--config PATH]: run the service."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web

from .app import create_app
from .config import DEFAULT_CONFIG_PATH, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialajoke", description="Run the Dial-A-Joke service.")
    parser.add_argument("-c", "--config", default=str(DEFAULT_CONFIG_PATH), help="settings file (JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, os.environ)
        logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app = create_app(config)
    except ConfigError as exc:
        print(f"dialajoke: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("dialajoke").info(
        "serving on http://%s:%s (public URL %s)", config.http.host, config.http.port, config.public_url
    )
    web.run_app(
        app, host=config.http.host, port=config.http.port, print=None, shutdown_timeout=config.http.shutdown_grace_s
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
