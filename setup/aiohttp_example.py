#!/usr/bin/env python3
"""Fetch several pages at once with one aiohttp ClientSession and save each to a file.

Run it from the project folder with the project's Python (aiohttp is installed there)::

    .venv/bin/python setup/aiohttp_example.py                       # a few public pages
    .venv/bin/python setup/aiohttp_example.py https://example.com/ https://www.python.org/ --out /tmp/pages
    .venv/bin/python setup/aiohttp_example.py --timeout 2 https://httpbin.org/delay/5

Each page prints a line when it is done, with how long it took; the last line compares
the time of the whole with the sum of the single times. Because the requests overlap,
the whole takes about as long as the slowest page, not the sum of all of them.

Why it is written the way it is:

- One ``ClientSession`` for every request: a session holds a pool of connections and
  reuses them, so it is made once, like Dial-A-Joke does for its Telnyx requests, and
  not once per request.
- ``asyncio.gather`` of one coroutine per URL starts every request at once. Each
  coroutine catches its own errors (unreachable host, 404, timeout) and returns them as a
  result, so one bad URL is reported without cancelling or hiding the others.
- The file is written with ``asyncio.to_thread``: a plain ``write_bytes`` would block the
  event loop, and with it every other download, for as long as the disk takes.
- The exit status says whether every page was saved (0) or not (1), so scripts can use it.
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_URLS = (
    "https://www.python.org/",
    "https://docs.python.org/3/library/asyncio.html",
    "https://docs.aiohttp.org/en/stable/",
    "https://developers.telnyx.com/docs/voice/programmable-voice",
)
DEFAULT_OUT = PROJECT / "var" / "pages"
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Fetched:
    """What became of one URL: where its page was saved, or why it was not."""

    url: str
    elapsed_s: float
    path: Path | None = None
    size: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def line(self) -> str:
        if self.ok:
            return f"  ok     {self.elapsed_s:6.3f} s  {self.url} -> {self.path} ({self.size} bytes)"
        return f"  error  {self.elapsed_s:6.3f} s  {self.url}: {self.error}"


async def fetch_all(urls: list[str], out_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Fetched]:
    """Fetch every URL concurrently and save each page in ``out_dir``; one result per URL, in order."""
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await asyncio.gather(
            *(fetch_one(session, url, out_dir, index, timeout_s) for index, url in enumerate(urls, start=1))
        )


async def fetch_one(session: aiohttp.ClientSession, url: str, out_dir: Path, index: int, timeout_s: float) -> Fetched:
    """Download one page and save it; any failure becomes the result's error instead of an exception."""
    started = time.perf_counter()
    try:
        path, size = await download(session, url, out_dir, index)
    except Exception as exc:  # every failure of one URL is reported, and none stops the others
        result = Fetched(url, time.perf_counter() - started, error=describe(exc, timeout_s))
    else:
        result = Fetched(url, time.perf_counter() - started, path=path, size=size)
    print(result.line(), flush=True)
    return result


async def download(session: aiohttp.ClientSession, url: str, out_dir: Path, index: int) -> tuple[Path, int]:
    async with session.get(url) as response:
        response.raise_for_status()
        body = await response.read()
        path = out_dir / file_name(index, url, response.content_type)
    await asyncio.to_thread(path.write_bytes, body)
    return path, len(body)


def file_name(index: int, url: str, content_type: str) -> str:
    """``03-docs.python.org_3_library_asyncio.html``: the position keeps names unique, the URL readable."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{parts.netloc}{parts.path}").strip("_.") or "page"
    extension = mimetypes.guess_extension(content_type) or ".bin"
    if slug.endswith(extension):
        extension = ""
    return f"{index:02d}-{slug[:100]}{extension}"


def describe(error: BaseException, timeout_s: float) -> str:
    """One line a person understands, for the failures one meets fetching pages."""
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status} {error.message}"
    if isinstance(error, aiohttp.ClientConnectorError):
        # errno > 0 is the system's reason ("Connection refused"); a failed DNS lookup has its own words.
        reason = os.strerror(error.errno) if error.errno and error.errno > 0 else error.strerror
        return f"cannot connect to {error.host}:{error.port} ({reason or error.os_error})"
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "not an http(s) URL"
    if isinstance(error, aiohttp.ClientError):
        return f"{type(error).__name__}: {error}"
    if isinstance(error, OSError):
        return f"cannot save the page: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


async def run(urls: list[str], out_dir: Path, timeout_s: float) -> int:
    """Fetch, then print the totals; 0 when every page was saved, 1 otherwise."""
    print(f"Fetching {len(urls)} URLs at once with one ClientSession, saving the pages in {out_dir}")
    started = time.perf_counter()
    results = await fetch_all(urls, out_dir, timeout_s)
    total_s = time.perf_counter() - started
    failed = [result for result in results if not result.ok]
    one_by_one_s = sum(result.elapsed_s for result in results)
    print(
        f"All {len(results)} done in {total_s:.3f} s (the single times add up to {one_by_one_s:.3f} s):"
        f" {len(results) - len(failed)} saved, {len(failed)} failed."
    )
    return 1 if failed else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aiohttp_example.py",
        description="Fetch several pages at once with one aiohttp ClientSession and save each to a file.",
    )
    parser.add_argument("urls", nargs="*", metavar="URL", help=f"pages to fetch (default: {', '.join(DEFAULT_URLS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the pages (default: var/pages)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds one page may take before it counts as failed (default {DEFAULT_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be more than 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(run(args.urls or list(DEFAULT_URLS), args.out, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
