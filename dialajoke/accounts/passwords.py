"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile), never the password itself.

Hashing and verifying take a good part of a second of CPU and 64 MiB on purpose, so
they run off the event loop, on :class:`PasswordWork`'s own few threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import TooManySignIns, WeakPassword

T = TypeVar("T")

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Long passphrases are welcome; the cap only keeps one request from costing much more than another."""
WORKERS = 2
"""Threads that hash and verify: each check takes a core and 64 MiB, so more would only share the same CPUs."""
MAX_WAITING = 16
"""Checks that may wait for a thread; past this a sign-in is refused at once (a few seconds' work is queued)."""
BUSY_RETRY_AFTER_S = 1

_HASHER = PasswordHasher()

UNKNOWN_USER_HASH = "$argon2id$v=19$m=65536,t=3,p=4$dQdNMP2khA0c3eJXA6tjdw$qCt4dX8pLjKrn5Uy+a+Wdl3UjhJunlo04QALjzry7zs"
"""The hash a sign-in with an unknown name (or a user without a password) is checked against.

It costs what a real user's does, so the time a refusal takes does not say whether the
name exists. Its password is random and was thrown away: nothing matches it.
"""


def check_rules(password: str) -> None:
    """:raises WeakPassword: unless ``password`` is 12 to 1024 characters long."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_LENGTH} characters long (a few words make a good one)")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_LENGTH} characters long")


class PasswordWork:
    """argon2 on a small pool of threads of its own, with a bounded queue of checks waiting for it.

    On the default executor (``asyncio.to_thread``) a flood of sign-ins would queue without
    end, each answer later than the one before, and hold up everything else that pool runs
    (aiohttp resolves host names on it). Here the flood takes :data:`WORKERS` cores at most,
    and once :data:`MAX_WAITING` checks are waiting a further one is refused at once with
    :class:`TooManySignIns`, to be tried again in a second, rather than answered after the
    queue: a client that waits that long has usually given up. Hashing a new password (a
    signed-in user or an operator) waits its turn and is never refused.

    One per process (the accounts own it); :meth:`close` stops its threads.
    """

    def __init__(self, *, workers: int = WORKERS, max_waiting: int = MAX_WAITING) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._workers = workers
        self._max_waiting = max_waiting
        self._in_progress = 0
        """Checks handed to the pool and not yet finished, running or waiting."""

    async def hash(self, password: str) -> str:
        """The argon2id PHC string of ``password`` (``$argon2id$...``), after checking its rules.

        :raises WeakPassword: see :func:`check_rules`.
        """
        check_rules(password)
        return await self.renew(password)

    async def renew(self, password: str) -> str:
        """A hash of today's costs for a password that has just been verified (the rules may have changed since)."""
        return await self._run(_hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash (no such user), one verification is spent all the same.

        :raises TooManySignIns: :data:`MAX_WAITING` checks are waiting already; nothing was checked.
        """
        if self._in_progress >= self._workers + self._max_waiting:
            raise TooManySignIns(BUSY_RETRY_AFTER_S, "too many sign-ins at once")
        if len(password) > MAX_LENGTH:
            password = password[:MAX_LENGTH]
            password_hash = None
        return await self._run(_verify, password_hash, password)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        """Run ``work`` on the pool; counted until it has finished, even when the caller stops waiting first."""
        running = asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        self._in_progress += 1
        running.add_done_callback(self._finished)
        return await asyncio.shield(running)

    def _finished(self, _: object) -> None:
        self._in_progress -= 1

    def close(self) -> None:
        """Stop the threads, once a check running now has finished (under a second); those waiting are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _hash(password: str) -> str:
    return _HASHER.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        _HASHER.verify(password_hash or UNKNOWN_USER_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other costs than today's, so it is replaced at the next sign-in."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
