"""API keys: ``dj_<id>_<secret>`` with a secret of at least 128 bits, recognised by form and kept as a hash."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from dialajoke.accounts.api_keys import hash_key, key_id_of, matches, new_key


def test_a_key_reads_dj_then_its_id_then_its_secret() -> None:
    key = new_key()

    assert re.fullmatch(r"dj_[a-z2-7]{8}_[A-Za-z0-9_-]{32}", key.text)
    assert key.text.startswith(f"dj_{key.key_id}_")
    assert key_id_of(key.text) == key.key_id


def test_the_secret_holds_at_least_128_random_bits() -> None:
    secret = new_key().text.split("_", 2)[2]

    assert len(base64.urlsafe_b64decode(secret)) * 8 >= 128
    assert len({new_key().text for _ in range(100)}) == 100
    assert len({new_key().key_id for _ in range(100)}) == 100


def test_only_the_sha256_of_the_key_is_kept() -> None:
    key = new_key()

    assert key.secret_hash == hashlib.sha256(key.text.encode()).hexdigest()
    assert key.text not in repr(key)
    assert key.secret_hash not in repr(key)


def test_a_key_matches_its_own_hash_only() -> None:
    key, other = new_key(), new_key()

    assert matches(key.text, key.secret_hash)
    assert not matches(other.text, key.secret_hash)
    assert not matches(key.text[:-1] + ("A" if key.text[-1] != "A" else "B"), key.secret_hash)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Bearer",
        "dj_",
        "dj_abcdefgh_",
        "DJ_abcdefgh_" + "a" * 32,
        "dj_ABCDEFGH_" + "a" * 32,
        "dj_abcdefg1_" + "a" * 32,
        "dj_abcdefgh_" + "a" * 31,
        "dj_abcdefgh_" + "a" * 33,
        "dj_abcdefgh_" + "a" * 31 + "=",
        "dj_abcdefgh_" + "a" * 32 + "\n",
        " dj_abcdefgh_" + "a" * 32,
        "xx_abcdefgh_" + "a" * 32,
    ],
)
def test_anything_not_shaped_like_a_key_is_refused_before_any_look_up(text: str) -> None:
    assert key_id_of(text) is None


def test_a_well_formed_key_names_its_id() -> None:
    assert key_id_of("dj_abcdefgh_" + "a_-Z" * 8) == "abcdefgh"
    assert hash_key("dj_abcdefgh_" + "a" * 32) != hash_key("dj_abcdefgh_" + "b" * 32)
