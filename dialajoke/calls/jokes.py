"""Where jokes come from: pyjokes offline, or a joke HTTP API with pyjokes to fall back on."""

from __future__ import annotations

import logging
from typing import Protocol

import aiohttp
import pyjokes

logger = logging.getLogger(__name__)

MAX_SPEAK_CHARS = 3000
"""Telnyx's limit on one speak payload (reference section 3)."""


class JokeSource(Protocol):
    async def joke(self) -> str: ...


def fit_for_speech(text: str, max_chars: int = MAX_SPEAK_CHARS) -> str:
    """One line of plain text of at most ``max_chars`` (by default, what Telnyx accepts in one speak)."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    return flat[: max_chars - 1].rsplit(" ", 1)[0] + "…"


class OfflineJokes:
    """pyjokes' neutral jokes: always there, no network."""

    async def joke(self) -> str:
        return fit_for_speech(pyjokes.get_joke(language="en", category="neutral"))


class HttpJokes:
    """An icanhazdadjoke-style API (``GET`` with ``Accept: application/json`` → ``{"joke": "..."}``).

    A joke must never make a call late or silent, so a slow or broken API costs at most
    ``timeout_s`` and the offline source tells the joke instead.
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout_s: float, fallback: JokeSource) -> None:
        self._session = session
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._fallback = fallback

    async def joke(self) -> str:
        try:
            return await self._fetch()
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            logger.warning("joke API %s failed (%s); telling an offline joke", self._url, exc or type(exc).__name__)
            return await self._fallback.joke()

    async def _fetch(self) -> str:
        headers = {"Accept": "application/json", "User-Agent": "Dial-A-Joke"}
        async with self._session.get(self._url, headers=headers, timeout=self._timeout) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        text = document.get("joke") if isinstance(document, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the answer has no 'joke' text")
        return fit_for_speech(text)
