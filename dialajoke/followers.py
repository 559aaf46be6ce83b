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
        self._ends: dict[int, asyncio.Event] = {}
        self.stopping = asyncio.Event()
        """Set when the service stops: every stream ends, and no new one starts."""

    @contextmanager
    def follow(self, user_id: int) -> Iterator[asyncio.Event]:
        """Count a stream of ``user_id``'s while the block runs; raises :class:`TooManyStreams` past the limit.

        Yields an event set by :meth:`end`: the stream must end then.
        """
        if self._open[user_id] >= self._max_per_user:
            raise TooManyStreams(self._max_per_user)
        self._open[user_id] += 1
        ended = self._ends.setdefault(user_id, asyncio.Event())
        try:
            yield ended
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]
                if self._ends.get(user_id) is ended:
                    del self._ends[user_id]

    def end(self, user_id: int) -> None:
        """End every stream of ``user_id`` now: a session of theirs ended, or they were disabled.

        A page whose session is still good reconnects and resumes where it was; the others are
        refused at once, instead of being sent calls until they close.
        """
        ended = self._ends.pop(user_id, None)
        if ended is not None:
            ended.set()

    def open_streams(self, user_id: int) -> int:
        """How many streams ``user_id`` holds open now."""
        return self._open[user_id]

    def stop(self) -> None:
        """End every stream, and refuse new ones: the service is stopping."""
        self.stopping.set()
