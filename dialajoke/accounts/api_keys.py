"""API keys: ``dj_<id>_<secret>``, random, shown once, kept only as a SHA-256 hash.

The prefix makes a leaked key easy to recognise (and to search for); the id names the
key in lists and when revoking it, and says nothing about the secret. The secret is
192 random bits, so a fast hash is as safe for it as a slow one is for a password, and
checking a key on every request costs microseconds, not the tens of milliseconds of argon2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

PREFIX = "dj_"
ID_BYTES = 5
"""Eight base32 characters: enough for ids not to collide, short enough to read out."""
SECRET_BYTES = 24

_KEY = re.compile(r"dj_(?P<key_id>[a-z2-7]{8})_[A-Za-z0-9_-]{32}")


@dataclass(frozen=True)
class NewKey:
    """A key just made: its text goes to its owner once, its id and hash to the store."""

    key_id: str
    text: str = field(repr=False)
    secret_hash: str = field(repr=False)


def new_key() -> NewKey:
    key_id = base64.b32encode(secrets.token_bytes(ID_BYTES)).decode("ascii").lower()
    text = f"{PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewKey(key_id=key_id, text=text, secret_hash=hash_key(text))


def key_id_of(text: str) -> str | None:
    """The id of a well-formed key, or None for anything else (which is then refused without a look-up)."""
    match = _KEY.fullmatch(text)
    return match["key_id"] if match else None


def hash_key(text: str) -> str:
    """SHA-256 of the whole key, hex: what the store keeps."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def matches(text: str, secret_hash: str) -> bool:
    """Whether ``text`` is the key behind ``secret_hash``, in time that does not depend on where they differ."""
    return hmac.compare_digest(hash_key(text), secret_hash)
