"""Passwords: argon2id hashes, the rules a new password must keep, and a refusal that costs the same either way."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from dialajoke.accounts import WeakPassword
from dialajoke.accounts.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    UNKNOWN_USER_HASH,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery"


async def test_a_password_is_kept_as_an_argon2id_hash_that_verifies_it() -> None:
    password_hash = await hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert await verify_password(password_hash, PASSWORD)
    assert not await verify_password(password_hash, PASSWORD + "!")


async def test_the_same_password_hashes_differently_each_time() -> None:
    """A salt per hash: two users with one password do not share a hash."""
    assert await hash_password(PASSWORD) != await hash_password(PASSWORD)


async def test_no_hash_never_verifies_not_even_the_unknown_users_password() -> None:
    assert not await verify_password(None, PASSWORD)
    assert not await verify_password(None, "")


async def test_a_hash_of_another_kind_is_refused_not_an_error() -> None:
    assert not await verify_password("not a hash", PASSWORD)
    assert needs_rehash("not a hash")


def test_the_unknown_users_hash_costs_what_a_new_hash_costs() -> None:
    """Else a refusal for an unknown name would come back sooner, and say that the name does not exist."""
    assert not needs_rehash(UNKNOWN_USER_HASH)


async def test_a_hash_made_with_other_costs_is_due_for_renewal() -> None:
    cheaper = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)

    assert needs_rehash(cheaper)
    assert await verify_password(cheaper, PASSWORD)
    assert not needs_rehash(await hash_password(PASSWORD))


@pytest.mark.parametrize("password", ["", "x" * (MIN_LENGTH - 1), "x" * (MAX_LENGTH + 1)])
async def test_a_too_short_or_too_long_password_is_refused_saying_why(password: str) -> None:
    with pytest.raises(WeakPassword, match="characters long"):
        await hash_password(password)


async def test_a_password_of_the_allowed_lengths_is_taken() -> None:
    for password in ("x" * MIN_LENGTH, "x" * MAX_LENGTH):
        assert await verify_password(await hash_password(password), password)


async def test_an_overlong_password_at_sign_in_is_refused() -> None:
    long_hash = await hash_password("x" * MAX_LENGTH)

    assert not await verify_password(long_hash, "x" * (MAX_LENGTH + 1))
