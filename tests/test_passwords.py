"""Passwords: argon2id hashes, the rules a new password must keep, a refusal that costs the same either way,
and the few threads that do the work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from dialajoke.accounts import TooManySignIns, WeakPassword, passwords
from dialajoke.accounts.passwords import MAX_LENGTH, MIN_LENGTH, UNKNOWN_USER_HASH, PasswordWork, needs_rehash

from .waiting import let_loop_run, wait_until

PASSWORD = "correct horse battery"
WAIT_S = 10.0


@pytest.fixture
def work() -> Iterator[PasswordWork]:
    work = PasswordWork()
    yield work
    work.close()


async def test_a_password_is_kept_as_an_argon2id_hash_that_verifies_it(work: PasswordWork) -> None:
    password_hash = await work.hash(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert await work.verify(password_hash, PASSWORD)
    assert not await work.verify(password_hash, PASSWORD + "!")


async def test_the_same_password_hashes_differently_each_time(work: PasswordWork) -> None:
    """A salt per hash: two users with one password do not share a hash."""
    assert await work.hash(PASSWORD) != await work.hash(PASSWORD)


async def test_no_hash_never_verifies_not_even_the_unknown_users_password(work: PasswordWork) -> None:
    assert not await work.verify(None, PASSWORD)
    assert not await work.verify(None, "")


async def test_a_hash_of_another_kind_is_refused_not_an_error(work: PasswordWork) -> None:
    assert not await work.verify("not a hash", PASSWORD)
    assert needs_rehash("not a hash")


def test_the_unknown_users_hash_costs_what_a_new_hash_costs() -> None:
    """Else a refusal for an unknown name would come back sooner, and say that the name does not exist."""
    assert not needs_rehash(UNKNOWN_USER_HASH)


async def test_a_hash_made_with_other_costs_is_due_for_renewal(work: PasswordWork) -> None:
    cheaper = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)

    assert needs_rehash(cheaper)
    assert await work.verify(cheaper, PASSWORD)
    assert not needs_rehash(await work.hash(PASSWORD))


@pytest.mark.parametrize("password", ["", "x" * (MIN_LENGTH - 1), "x" * (MAX_LENGTH + 1)])
async def test_a_too_short_or_too_long_password_is_refused_saying_why(work: PasswordWork, password: str) -> None:
    with pytest.raises(WeakPassword, match="characters long"):
        await work.hash(password)


async def test_a_password_of_the_allowed_lengths_is_taken(work: PasswordWork) -> None:
    for password in ("x" * MIN_LENGTH, "x" * MAX_LENGTH):
        assert await work.verify(await work.hash(password), password)


async def test_an_overlong_password_at_sign_in_is_refused(work: PasswordWork) -> None:
    long_hash = await work.hash("x" * MAX_LENGTH)

    assert not await work.verify(long_hash, "x" * (MAX_LENGTH + 1))


class HeldHasher:
    """Verifies nothing until let go, counting the checks under way: what a flood of sign-ins looks like."""

    def __init__(self) -> None:
        self.let_go = threading.Event()
        self.running = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
        self.let_go.wait(WAIT_S)
        raise VerifyMismatchError()


async def test_checks_run_two_at_a_time_and_past_sixteen_waiting_one_is_refused_at_once(
    work: PasswordWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = HeldHasher()
    monkeypatch.setattr(passwords, "_HASHER", hasher)
    checks = [asyncio.create_task(work.verify(None, f"guess {number}")) for number in range(2 + 16)]
    try:
        await wait_until(lambda: hasher.running == 2, WAIT_S, "two checks to run")
        await let_loop_run()

        with pytest.raises(TooManySignIns, match="too many sign-ins at once") as refused:
            await work.verify(None, "one guess too many")

        assert refused.value.retry_after_s == 1
        assert hasher.running == 2
    finally:
        hasher.let_go.set()
    assert await asyncio.wait_for(asyncio.gather(*checks), WAIT_S) == [False] * 18
    assert hasher.running == 18
    assert not await work.verify(None, "room again")


async def test_closing_stops_its_threads() -> None:
    work = PasswordWork()
    await work.hash(PASSWORD)
    assert any(thread.name.startswith("argon2") for thread in threading.enumerate())

    work.close()

    assert not any(thread.name.startswith("argon2") for thread in threading.enumerate())
