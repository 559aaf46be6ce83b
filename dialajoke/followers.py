"""Followers: the live event streams open now, counted per user, and all ended at once when the service stops.

A stream stays open for as long as its page does, so each costs a connection and a task
for hours: a limit per user keeps one user's forgotten tabs (or a script) from taking them
all, and a stop must not wait for pages that never close on their own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class TooManyStreams(Exception):
    """The user has as many streams open as the limit allows; nothing was opened."""

    def __init__(self, allowed: int) -> None:
        super().__init__(f"{allowed} event streams are open for this user already")
        self.allowed = allowed


class Followers:
    """Streams open per user, up to ``max_per_user`` each; :attr:`stopping` is set once the service stops.

    :param max_per_user: streams one user may hold open at once.
    """

    def __init__(self, max_per_user: int) -> None:
        self._max_per_user = max_per_user
        self._open: Counter[int] = Counter()
        self.stopping = asyncio.Event()
        """Set when the service stops: every stream ends, and no new one starts."""

    @contextmanager
    def follow(self, user_id: int) -> Iterator[None]:
        """Count a stream of ``user_id``'s while the block runs; raises :class:`TooManyStreams` past the limit."""
        if self._open[user_id] >= self._max_per_user:
            raise TooManyStreams(self._max_per_user)
        self._open[user_id] += 1
        try:
            yield
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]

    def open_streams(self, user_id: int) -> int:
        """How many streams ``user_id`` holds open now."""
        return self._open[user_id]

    def stop(self) -> None:
        """End every stream, and refuse new ones: the service is stopping."""
        self.stopping.set()
