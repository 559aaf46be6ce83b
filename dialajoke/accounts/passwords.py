"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile), never the password itself.

Hashing and verifying take a good part of a second of CPU and 64 MiB on purpose, so
they run in a worker thread and the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Long passphrases are welcome; the cap only keeps one request from costing much more than another."""

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


async def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (``$argon2id$...``), after checking its rules.

    :raises WeakPassword: see :func:`check_rules`.
    """
    check_rules(password)
    return await renew_hash(password)


async def renew_hash(password: str) -> str:
    """A hash of today's costs for a password that has just been verified (the rules may have changed since)."""
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (no such user), one verification is spent all the same."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
        password_hash = None
    return await asyncio.to_thread(_verify, password_hash, password)


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
