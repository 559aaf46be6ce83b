"""Accounts on a real SQLite store: sign-in and its throttle, API keys, sessions, and the first admin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from dialajoke.accounts import (
    Accounts,
    InvalidName,
    KeyNotFound,
    LastAdmin,
    SignInRefused,
    TooManySignIns,
    UserDisabled,
    UserExists,
    UserNotFound,
    WeakPassword,
)
from dialajoke.accounts import accounts as accounts_module
from dialajoke.config import AuthConfig
from dialajoke.models import Principal
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .waiting import let_loop_run, wait_until

PASSWORD = "correct horse battery"
ADDRESS = "203.0.113.7"
SESSION = "a-session-id"


@pytest.fixture
async def store(database: Path, clock: ManualClock) -> AsyncIterator[SqliteCallStore]:
    store = await SqliteCallStore.open(database, clock)
    yield store
    await store.close()


@pytest.fixture
async def beside(database: Path, clock: ManualClock) -> AsyncIterator[SqliteCallStore]:
    """A second store on the same file, as the ``users`` command line opens it beside the service."""
    store = await SqliteCallStore.open(database, clock, exclusive=False)
    yield store
    await store.close()


_OPENED: list[Accounts] = []


def accounts_on(store: SqliteCallStore, clock: ManualClock, **settings: Any) -> Accounts:
    """Accounts whose failed sign-ins answer at once, unless a test says otherwise; closed after the test."""
    accounts = Accounts(store, clock, AuthConfig(**{"login_failure_delay_s": 0.0, **settings}))
    _OPENED.append(accounts)
    return accounts


@pytest.fixture(autouse=True)
def close_accounts() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


@pytest.fixture
def accounts(store: SqliteCallStore, clock: ManualClock) -> Accounts:
    return accounts_on(store, clock)


async def refusal(accounts: Accounts, name: str, password: str, address: str = ADDRESS) -> str:
    with pytest.raises(SignInRefused) as refused:
        await accounts.sign_in(name, password, address)
    return str(refused.value)


# --- Users and passwords -------------------------------------------------------------------------


async def test_a_user_signs_in_with_their_password_kept_as_argon2id(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)

    assert bob.password_hash is not None
    assert bob.password_hash.startswith("$argon2id$")
    assert await accounts.sign_in("Bob", PASSWORD, ADDRESS) == bob


async def test_a_wrong_password_an_unknown_name_a_disabled_user_and_a_keys_only_user_are_refused_alike(
    accounts: Accounts,
) -> None:
    await accounts.create_user("bob", PASSWORD, admin=False)
    await accounts.create_user("carol", PASSWORD, admin=False)
    await accounts.disable_user("carol")
    await accounts.create_user("robot", None, admin=False)

    refusals = {
        await refusal(accounts, "bob", PASSWORD + "!"),
        await refusal(accounts, "nobody", PASSWORD),
        await refusal(accounts, "carol", PASSWORD),
        await refusal(accounts, "robot", ""),
        await refusal(accounts, "not a name!", PASSWORD),
    }

    assert refusals == {"wrong name or password"}


async def test_a_refused_sign_in_answers_only_after_the_failure_delay_on_the_clock(
    store: SqliteCallStore, clock: ManualClock
) -> None:
    accounts = accounts_on(store, clock, login_failure_delay_s=1.0)
    await accounts.create_user("bob", PASSWORD, admin=False)

    attempt = asyncio.create_task(accounts.sign_in("bob", "a wrong password", ADDRESS))
    await wait_until(lambda: clock.armed > 0 or attempt.done(), 10, "the refusal to wait on the clock")
    clock.advance(0.9)
    await let_loop_run()
    assert not attempt.done()

    clock.advance(0.1)
    with pytest.raises(SignInRefused):
        await asyncio.wait_for(attempt, 10)


async def test_user_names_are_letters_digits_and_a_few_marks(accounts: Accounts) -> None:
    for name in ("", "a" * 65, "bob smith", "bob\n", "bób", "bob/..", "<b>"):
        with pytest.raises(InvalidName, match="1 to 64 letters, digits"):
            await accounts.create_user(name, None, admin=False)

    assert (await accounts.create_user("a.b_c-d@example.org", None, admin=False)).name == "a.b_c-d@example.org"
    assert (await accounts.create_user("x" * 64, None, admin=False)).name == "x" * 64


async def test_a_taken_name_in_any_case_is_refused(accounts: Accounts) -> None:
    await accounts.create_user("bob", None, admin=False)

    with pytest.raises(UserExists):
        await accounts.create_user("BOB", None, admin=True)


async def test_a_short_password_is_refused_and_no_user_is_made(accounts: Accounts) -> None:
    with pytest.raises(WeakPassword, match="at least 12 characters"):
        await accounts.create_user("bob", "hunter2", admin=False)

    assert await accounts.find_user("bob") is None


async def test_a_hash_of_older_costs_is_renewed_at_sign_in(accounts: Accounts, store: SqliteCallStore) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    await store.set_password_hash(bob.id, PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD))

    signed_in = await accounts.sign_in("bob", PASSWORD, ADDRESS)

    assert signed_in.password_hash is not None
    assert "m=65536,t=3,p=4" in signed_in.password_hash
    assert await accounts.sign_in("bob", PASSWORD, ADDRESS) == signed_in


async def test_an_operator_sets_a_password_without_the_current_one(accounts: Accounts) -> None:
    await accounts.create_user("robot", None, admin=False)

    await accounts.set_password("ROBOT", PASSWORD)

    assert (await accounts.sign_in("robot", PASSWORD, ADDRESS)).name == "robot"
    with pytest.raises(UserNotFound, match="no user named 'nobody'"):
        await accounts.set_password("nobody", PASSWORD)


async def test_disabling_an_unknown_user_is_refused(accounts: Accounts) -> None:
    with pytest.raises(UserNotFound):
        await accounts.disable_user("nobody")


async def test_the_last_enabled_admin_cannot_be_disabled(accounts: Accounts) -> None:
    await accounts.create_user("root", None, admin=True)
    await accounts.create_user("bob", None, admin=False)

    with pytest.raises(LastAdmin, match="make another admin first"):
        await accounts.disable_user("ROOT")

    assert not (await accounts.user_named("root")).is_disabled
    await accounts.create_user("another", None, admin=True)
    assert (await accounts.disable_user("root")).is_disabled


# --- The sign-in throttle ------------------------------------------------------------------------


async def test_too_many_failures_for_a_name_refuse_it_until_the_window_has_passed(
    accounts: Accounts, clock: ManualClock
) -> None:
    await accounts.create_user("bob", PASSWORD, admin=False)
    for attempt in range(5):
        await refusal(accounts, "bob", "a wrong password", address=f"198.51.100.{attempt}")
        clock.advance(60)

    with pytest.raises(TooManySignIns) as refused:
        await accounts.sign_in("BOB", PASSWORD, "192.0.2.1")
    assert refused.value.retry_after_s == 900 - 300
    assert "try again in 600 s" in str(refused.value)

    clock.advance(599)
    with pytest.raises(TooManySignIns) as refused:
        await accounts.sign_in("bob", PASSWORD, "192.0.2.1")
    assert refused.value.retry_after_s == 1

    clock.advance(1)
    assert (await accounts.sign_in("bob", PASSWORD, "192.0.2.1")).name == "bob"


async def test_too_many_failures_from_an_address_refuse_every_name_from_it(
    accounts: Accounts, clock: ManualClock
) -> None:
    await accounts.create_user("bob", PASSWORD, admin=False)
    for attempt in range(5):
        await refusal(accounts, f"guess{attempt}", PASSWORD)

    with pytest.raises(TooManySignIns) as refused:
        await accounts.sign_in("bob", PASSWORD, ADDRESS)
    assert refused.value.retry_after_s == 900

    assert (await accounts.sign_in("bob", PASSWORD, "192.0.2.1")).name == "bob"
    clock.advance(900)
    assert (await accounts.sign_in("bob", PASSWORD, ADDRESS)).name == "bob"


async def test_fewer_failures_than_the_limit_refuse_nothing(accounts: Accounts) -> None:
    await accounts.create_user("bob", PASSWORD, admin=False)
    for _ in range(4):
        await refusal(accounts, "bob", "a wrong password")

    assert (await accounts.sign_in("bob", PASSWORD, ADDRESS)).name == "bob"


async def test_guesses_sent_at_once_are_limited_like_guesses_sent_one_by_one(
    accounts: Accounts, store: SqliteCallStore, clock: ManualClock
) -> None:
    """Forty guesses at the same moment, the right one last: only five are ever checked, and it is refused."""
    await accounts.create_user("bob", PASSWORD, admin=False)
    guesses = [f"wrong guess number {number}" for number in range(39)] + [PASSWORD]

    outcomes = await asyncio.gather(
        *(accounts.sign_in("bob", guess, f"198.51.100.{number}") for number, guess in enumerate(guesses)),
        return_exceptions=True,
    )

    assert [type(outcome) for outcome in outcomes] == [SignInRefused] * 5 + [TooManySignIns] * 35
    assert await store.login_failures(name="bob", address=ADDRESS, since=0) == (5, 0, clock.time())


async def test_guesses_sent_at_once_from_one_address_are_limited_whatever_the_names(
    accounts: Accounts, store: SqliteCallStore
) -> None:
    await accounts.create_user("bob", PASSWORD, admin=False)
    names = [f"guess{number}" for number in range(19)] + ["bob"]

    outcomes = await asyncio.gather(
        *(accounts.sign_in(name, PASSWORD, ADDRESS) for name in names), return_exceptions=True
    )

    assert [type(outcome) for outcome in outcomes] == [SignInRefused] * 5 + [TooManySignIns] * 15
    assert (await store.login_failures(name="bob", address=ADDRESS, since=0))[1] == 5


async def test_failures_are_remembered_across_a_restart(database: Path, clock: ManualClock) -> None:
    store = await SqliteCallStore.open(database, clock)
    try:
        accounts = accounts_on(store, clock, max_login_failures=2)
        await accounts.create_user("bob", PASSWORD, admin=False)
        for _ in range(2):
            await refusal(accounts, "bob", "a wrong password")
    finally:
        await store.close()

    store = await SqliteCallStore.open(database, clock)
    try:
        with pytest.raises(TooManySignIns):
            await accounts_on(store, clock, max_login_failures=2).sign_in("bob", PASSWORD, ADDRESS)
    finally:
        await store.close()


async def test_with_the_limit_at_zero_failures_are_never_counted(store: SqliteCallStore, clock: ManualClock) -> None:
    accounts = accounts_on(store, clock, max_login_failures=0)
    await accounts.create_user("bob", PASSWORD, admin=False)
    for _ in range(6):
        await refusal(accounts, "bob", "a wrong password")

    assert (await accounts.sign_in("bob", PASSWORD, ADDRESS)).name == "bob"
    assert await store.login_failures(name="bob", address=ADDRESS, since=0) == (0, 0, None)


# --- API keys ------------------------------------------------------------------------------------


async def test_a_new_key_works_at_once_and_names_its_user(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)

    record, key = await accounts.add_key(bob.id, "laptop")

    assert key.startswith(f"dj_{record.id}_")
    assert record.name == "laptop"
    assert await accounts.principal_for_key(key) == Principal(user_id=bob.id, name="bob", is_admin=False)
    assert [listed.id for listed in await accounts.list_keys(bob.id)] == [record.id]


async def test_a_key_is_kept_only_as_its_hash(accounts: Accounts, store: SqliteCallStore, database: Path) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")

    stored = await store.find_api_key(record.id)

    assert stored is not None
    assert key not in stored.secret_hash
    secret = key.split("_", 2)[2].encode()
    files = list(database.parent.glob(f"{database.name}*"))
    assert any(record.id.encode() in path.read_bytes() for path in files)
    assert not any(secret in path.read_bytes() for path in files)


async def test_malformed_unknown_and_forged_keys_are_refused(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")
    forged = f"dj_{record.id}_" + "A" * 32

    for wrong in ("", "Bearer " + key, key + "x", key.upper(), forged, "dj_aaaaaaaa_" + "A" * 32):
        assert await accounts.principal_for_key(wrong) is None
    assert await accounts.principal_for_key(key) is not None


async def test_a_revoked_key_is_refused_at_once(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")
    _, other = await accounts.add_key(bob.id, "phone")
    assert await accounts.principal_for_key(key) is not None

    revoked = await accounts.revoke_key(bob.id, record.id)

    assert revoked.is_revoked
    assert await accounts.principal_for_key(key) is None
    assert await accounts.principal_for_key(other) is not None


async def test_only_the_owner_revokes_a_key(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    carol = await accounts.create_user("carol", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")

    with pytest.raises(KeyNotFound):
        await accounts.revoke_key(carol.id, record.id)
    assert await accounts.principal_for_key(key) is not None


async def test_a_disabled_users_keys_are_refused_at_once_and_no_new_one_is_made(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    _, key = await accounts.add_key(bob.id, "laptop")
    assert await accounts.principal_for_key(key) is not None

    await accounts.disable_user("bob")

    assert await accounts.principal_for_key(key) is None
    with pytest.raises(UserDisabled, match="bob is disabled"):
        await accounts.add_key(bob.id, "another")


async def test_a_key_revoked_by_another_process_is_refused_once_the_cache_runs_out(
    accounts: Accounts, beside: SqliteCallStore, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")
    assert await accounts.principal_for_key(key) is not None

    await accounts_on(beside, clock).revoke_key(bob.id, record.id)

    clock.advance(9.9)
    assert await accounts.principal_for_key(key) is not None
    clock.advance(0.1)
    assert await accounts.principal_for_key(key) is None


async def test_a_user_disabled_by_another_process_is_refused_once_the_cache_runs_out(
    accounts: Accounts, beside: SqliteCallStore, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    _, key = await accounts.add_key(bob.id, "laptop")
    stamp = accounts.session_stamp(bob)
    assert await accounts.principal_for_key(key) is not None
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None

    await accounts_on(beside, clock).disable_user("bob")

    clock.advance(9.9)
    assert await accounts.principal_for_key(key) is not None
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None
    clock.advance(0.1)
    assert await accounts.principal_for_key(key) is None
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is None


async def test_with_no_cache_every_check_reads_the_store(
    store: SqliteCallStore, beside: SqliteCallStore, clock: ManualClock
) -> None:
    accounts = accounts_on(store, clock, key_cache_s=0)
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")
    assert await accounts.principal_for_key(key) is not None

    await accounts_on(beside, clock).revoke_key(bob.id, record.id)

    assert await accounts.principal_for_key(key) is None


async def test_a_keys_last_use_is_written_at_most_once_a_minute(
    accounts: Accounts, store: SqliteCallStore, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")

    async def last_use() -> float | None:
        stored = await store.find_api_key(record.id)
        assert stored is not None
        return stored.last_used_at.timestamp() if stored.last_used_at else None

    assert await last_use() is None
    first = clock.time()
    await accounts.principal_for_key(key)
    assert await last_use() == first

    for _ in range(5):
        clock.advance(11)
        await accounts.principal_for_key(key)
    assert await last_use() == first

    clock.advance(5)
    await accounts.principal_for_key(key)
    assert await last_use() == first + 60


async def test_a_restarted_service_does_not_rewrite_a_last_use_under_a_minute_old(
    accounts: Accounts, store: SqliteCallStore, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", None, admin=False)
    record, key = await accounts.add_key(bob.id, "laptop")
    first = clock.time()
    await accounts.principal_for_key(key)

    clock.advance(30)
    await accounts_on(store, clock).principal_for_key(key)

    stored = await store.find_api_key(record.id)
    assert stored is not None
    assert stored.last_used_at is not None
    assert stored.last_used_at.timestamp() == first


async def test_a_key_needs_a_name_of_1_to_64_printable_characters(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", None, admin=False)

    for name in ("", "   ", "x" * 65, "tab\there"):
        with pytest.raises(InvalidName, match="key's name"):
            await accounts.add_key(bob.id, name)
    with pytest.raises(UserNotFound):
        await accounts.add_key(bob.id + 100, "laptop")


# --- Sessions ------------------------------------------------------------------------------------


async def test_a_session_stamp_changes_with_the_password_and_ends_other_sessions(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=True)
    old_stamp = accounts.session_stamp(bob)
    assert await accounts.principal_for_session(bob.id, old_stamp, SESSION) == Principal(bob.id, "bob", is_admin=True)

    changed = await accounts.change_password(bob.id, PASSWORD, "a brand new passphrase", ADDRESS)

    new_stamp = accounts.session_stamp(changed)
    assert new_stamp != old_stamp
    assert await accounts.principal_for_session(bob.id, old_stamp, SESSION) is None
    assert await accounts.principal_for_session(bob.id, new_stamp, SESSION) is not None
    assert await accounts.principal_for_session(bob.id + 1, new_stamp, SESSION) is None


async def test_an_operators_new_password_ends_the_sessions_too(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    stamp = accounts.session_stamp(bob)
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None

    await accounts.set_password("bob", "a brand new passphrase")

    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is None


async def test_an_ended_session_is_refused_at_once_and_the_users_others_are_not(
    accounts: Accounts, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    stamp = accounts.session_stamp(bob)
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None

    await accounts.end_session(SESSION, until=clock.time() + 3600)

    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is None
    assert await accounts.principal_for_session(bob.id, stamp, "another-session") is not None


async def test_a_session_ended_by_another_process_is_refused_once_the_cache_runs_out(
    accounts: Accounts, beside: SqliteCallStore, clock: ManualClock
) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    stamp = accounts.session_stamp(bob)
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None

    await accounts_on(beside, clock).end_session(SESSION, until=clock.time() + 3600)

    clock.advance(9.9)
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is not None
    clock.advance(0.1)
    assert await accounts.principal_for_session(bob.id, stamp, SESSION) is None


async def test_a_password_is_changed_only_with_the_current_one(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)

    with pytest.raises(SignInRefused):
        await accounts.change_password(bob.id, "not the password", "a brand new passphrase", ADDRESS)
    with pytest.raises(WeakPassword):
        await accounts.change_password(bob.id, PASSWORD, "short", ADDRESS)

    assert (await accounts.sign_in("bob", PASSWORD, ADDRESS)).name == "bob"


async def test_guesses_at_the_current_password_are_limited_like_sign_ins(
    accounts: Accounts, store: SqliteCallStore
) -> None:
    """Twenty-nine wrong guesses and the right one, sent at once: five are checked, and the password stays."""
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    guesses = [f"wrong guess number {number}" for number in range(29)] + [PASSWORD]

    outcomes = await asyncio.gather(
        *(accounts.change_password(bob.id, guess, "a brand new passphrase", ADDRESS) for guess in guesses),
        return_exceptions=True,
    )

    assert [type(outcome) for outcome in outcomes] == [SignInRefused] * 5 + [TooManySignIns] * 25
    assert await store.get_user(bob.id) == bob
    with pytest.raises(TooManySignIns):
        await accounts.sign_in("bob", PASSWORD, "192.0.2.1")


async def test_wrong_current_passwords_from_an_address_count_against_its_sign_ins(accounts: Accounts) -> None:
    bob = await accounts.create_user("bob", PASSWORD, admin=False)
    await accounts.create_user("carol", PASSWORD, admin=False)
    for _ in range(5):
        with pytest.raises(SignInRefused):
            await accounts.change_password(bob.id, "not the password", "a brand new passphrase", ADDRESS)

    with pytest.raises(TooManySignIns):
        await accounts.change_password(bob.id, PASSWORD, "a brand new passphrase", "192.0.2.1")
    with pytest.raises(TooManySignIns):
        await accounts.sign_in("carol", PASSWORD, ADDRESS)


# --- The first admin -----------------------------------------------------------------------------


async def test_the_first_admin_is_made_once_with_a_generated_password(accounts: Accounts) -> None:
    made = await accounts.ensure_first_admin()

    assert made is not None
    admin, password = made
    assert admin.name == "admin"
    assert admin.is_admin
    assert len(password) >= 12
    assert await accounts.sign_in("admin", password, ADDRESS) == admin
    assert await accounts.ensure_first_admin() is None
    assert [user.name for user in await accounts.list_users()] == ["admin"]


async def test_no_first_admin_is_made_when_any_user_exists(accounts: Accounts) -> None:
    await accounts.create_user("bob", None, admin=False)
    await accounts.disable_user("bob")

    assert await accounts.ensure_first_admin() is None
    assert [user.name for user in await accounts.list_users()] == ["bob"]


async def test_two_first_admins_are_never_made(accounts: Accounts) -> None:
    made = await asyncio.gather(accounts.ensure_first_admin(), accounts.ensure_first_admin())

    assert sum(result is not None for result in made) == 1
    assert len(await accounts.list_users()) == 1


def test_the_trusted_cache_drops_what_expired_when_full_and_never_grows_past_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accounts_module, "CACHE_SIZE", 3)
    someone = Principal(user_id=1, name="alice", is_admin=False)
    cache: dict[Any, Any] = {}
    for number, until in enumerate((5.0, 50.0, 5.0)):
        accounts_module._remember(cache, number, accounts_module._Trusted(someone, until), now=0.0)

    accounts_module._remember(cache, "new", accounts_module._Trusted(someone, 60.0), now=10.0)
    assert sorted(map(str, cache)) == ["1", "new"]

    for number in range(3, 6):
        accounts_module._remember(cache, number, accounts_module._Trusted(someone, 60.0), now=10.0)
    assert len(cache) <= 3
