"""The page's own script, stylesheet and icon, served from ``static_dir`` under /static/.

They are files rather than inline ``<script>`` and ``<style>`` so that the
Content-Security-Policy can forbid every inline script (security.py). They are answered
with ``Cache-Control: no-cache``: the browser keeps them, but asks each time whether they
changed and gets a 304 from their ETag when not. A version in each URL with a year-long
cache would spare that question, at the price of a URL scheme the templates must follow
and of a cache that is wrong whenever a URL is built without it; for two small files on
a page people open a few times a day, revalidating keeps an upgraded service from ever
running yesterday's script against today's page.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..config import ConfigError

STATIC_PREFIX = "/static/"
PAGE_FILES = ("app.js", "times.js", "live.js", "style.css", "favicon.svg")


def setup_static(app: web.Application, folder: Path) -> web.AbstractResource:
    """Serve ``folder`` under /static/ (the route named ``static``), refusing a folder without the page's files."""
    missing = [name for name in PAGE_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"static_dir {str(folder)!r} has no {', '.join(missing)}: point it at the project's static/")
    resource = app.router.add_static(STATIC_PREFIX, folder, name="static")
    app.on_response_prepare.append(_revalidate_static_files)
    return resource


async def _revalidate_static_files(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-cache"
