"""Identifiers unique across processes and restarts, made without a system call each.

``uuid.uuid4()`` reads the kernel's random source for every id, a system call that
also lets go of the interpreter lock, so on the busiest paths (every request, every
booking) the database thread can take the lock in the middle of a request. One random
tag per process and a counter give ids as unique, at the cost of a format call.
"""

from __future__ import annotations

import itertools
import secrets

_PROCESS_TAG = secrets.token_hex(8)
_numbers = itertools.count(1)


def unique_id() -> str:
    """32 hex digits: 64 random bits naming this process, then 64 bits counting within it."""
    return f"{_PROCESS_TAG}{next(_numbers):016x}"
