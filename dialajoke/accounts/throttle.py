"""Failed sign-ins, counted per name and per address, so that guessing passwords soon stops paying.

The failures are rows in the store, so a restart does not forgive them. Past
``auth.max_login_failures`` in ``auth.login_window_s``, for the name or for the address,
every try is refused before its password is even looked at, until the oldest of those
failures leaves the window.

A guess being checked is not a failure yet, and checking one takes a good part of a
second: guesses sent all at once would each find the count below the limit and all be
checked. So the guesses in progress count too, held in memory from the moment one is
let through until its outcome is stored: however guesses are sent, at most
``auth.max_login_failures`` per name and per address are checked within the window.
That memory is this process's own: another process on the same database (the ``users``
command line checks no guesses) sees only the failures stored.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..clock import Clock
from ..config import AuthConfig
from ..store import CallStore
from .errors import TooManySignIns

MAX_NAME_KEPT = 64
"""Longer names cannot exist; a failure is counted under the first characters only, so rows stay small."""
ANSWER_MARGIN_S = 1
"""Added to ``auth.login_failure_delay_s`` to say when to come back if only guesses still being checked
fill the limit: by then they are answered."""


class Guess:
    """One password being checked against the limit; :meth:`failed` counts it as a failure."""

    def __init__(self, throttle: SignInThrottle, name: str, address: str) -> None:
        self._throttle = throttle
        self._name = name
        self._address = address
        self.has_failed = False

    async def failed(self) -> None:
        """Store the failure; the guess stays counted in memory until it is, so it is never counted nowhere."""
        self.has_failed = True
        await self._throttle.record_failure(self._name, self._address)


class SignInThrottle:
    def __init__(self, store: CallStore, clock: Clock, settings: AuthConfig) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._by_name: Counter[str] = Counter()
        self._by_address: Counter[str] = Counter()
        self._deciding = asyncio.Lock()
        """Held while a guess's counts are read and it is let through or refused (see :meth:`guess`)."""

    @property
    def is_on(self) -> bool:
        return self._settings.max_login_failures > 0

    @asynccontextmanager
    async def guess(self, name: str, address: str) -> AsyncIterator[Guess]:
        """Let one guess through, counted as in progress until the block ends; call ``failed()`` on it if it fails.

        :raises TooManySignIns: the failures stored and the guesses in progress reach the limit,
            for the name or for the address; nothing is checked.
        """
        name = name[:MAX_NAME_KEPT]
        guess = Guess(self, name, address)
        if not self.is_on:
            yield guess
            return
        name_key = name.casefold()
        async with self._deciding:
            await self._check(name, name_key, address)
            self._by_name[name_key] += 1
            self._by_address[address] += 1
        try:
            yield guess
        finally:
            try:
                if guess.has_failed:
                    # A decision whose read of the store began before this failure was stored
                    # must still see the guess in progress: wait until it is made.
                    async with self._deciding:
                        pass
            finally:
                _let_go(self._by_name, name_key)
                _let_go(self._by_address, address)

    async def _check(self, name: str, name_key: str, address: str) -> None:
        """:raises TooManySignIns: with the seconds until a try may be let through."""
        now = self._clock.time()
        window_s = self._settings.login_window_s
        limit = self._settings.max_login_failures
        by_name, by_address, oldest = await self._store.login_failures(name=name, address=address, since=now - window_s)
        if max(by_name, by_address) >= limit:
            free_at = (oldest if oldest is not None else now) + window_s
            raise TooManySignIns(max(1, math.ceil(free_at - now)))
        if by_name + self._by_name[name_key] >= limit or by_address + self._by_address[address] >= limit:
            raise TooManySignIns(math.ceil(self._settings.login_failure_delay_s) + ANSWER_MARGIN_S)

    async def record_failure(self, name: str, address: str) -> None:
        if self.is_on:
            await self._store.record_login_failure(name=name[:MAX_NAME_KEPT], address=address)


def _let_go(in_progress: Counter[str], key: str) -> None:
    """One guess fewer in progress; a name or address with none left is forgotten, so the counts stay small."""
    in_progress[key] -= 1
    if in_progress[key] <= 0:
        del in_progress[key]
