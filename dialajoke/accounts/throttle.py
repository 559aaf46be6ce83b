"""Failed sign-ins, counted per name and per address, so that guessing passwords soon stops paying.

The failures are rows in the store, so a restart does not forgive them. Past
``auth.max_login_failures`` in ``auth.login_window_s``, for the name or for the address,
every try is refused before its password is even looked at, until the oldest of those
failures leaves the window.
"""

from __future__ import annotations

import math

from ..clock import Clock
from ..config import AuthConfig
from ..store import CallStore
from .errors import TooManySignIns

MAX_NAME_KEPT = 64
"""Longer names cannot exist; a failure is counted under the first characters only, so rows stay small."""


class SignInThrottle:
    def __init__(self, store: CallStore, clock: Clock, settings: AuthConfig) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings

    @property
    def is_on(self) -> bool:
        return self._settings.max_login_failures > 0

    async def check(self, name: str, address: str) -> None:
        """:raises TooManySignIns: with the seconds until the oldest failure counted leaves the window."""
        if not self.is_on:
            return
        now = self._clock.time()
        window_s = self._settings.login_window_s
        by_name, by_address, oldest = await self._store.login_failures(
            name=name[:MAX_NAME_KEPT], address=address, since=now - window_s
        )
        if max(by_name, by_address) < self._settings.max_login_failures:
            return
        free_at = (oldest if oldest is not None else now) + window_s
        raise TooManySignIns(max(1, math.ceil(free_at - now)))

    async def record_failure(self, name: str, address: str) -> None:
        if self.is_on:
            await self._store.record_login_failure(name=name[:MAX_NAME_KEPT], address=address)
