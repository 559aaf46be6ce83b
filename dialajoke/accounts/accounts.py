"""Accounts: who the users are, how they prove it (a password on the page, an API key for the JSON API).

Every request is checked, so what a check found is trusted for ``auth.key_cache_s``
(on the injected clock) instead of reading the database each time. A key revoked, a
user disabled or a password changed through this object is forgotten at once; through
another process (the ``users`` command line), within ``auth.key_cache_s``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, sleep
from ..config import AuthConfig
from ..models import ApiKey, Principal, User
from ..store import CallStore, StorageUnavailable, UserExists
from .api_keys import hash_key, key_id_of, matches, new_key
from .errors import InvalidName, KeyNotFound, SignInRefused, UserDisabled, UserNotFound
from .passwords import PasswordWork, check_rules, needs_rehash
from .throttle import SignInThrottle

USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MAX_KEY_NAME = 64
LAST_USE_EVERY_S = 60.0
"""A key's last use is written at most this often: not a write on every request."""
FIRST_ADMIN = "admin"
STAMP_LENGTH = 16
CACHE_SIZE = 10_000
"""Keys (or sessions) trusted at once before the expired ones are dropped: a cache, not a record."""


@dataclass(frozen=True)
class _Trusted:
    principal: Principal
    until: float
    key_id: str | None = None


def _remember(cache: dict[Any, _Trusted], key: Any, trusted: _Trusted, now: float) -> None:
    """Put ``trusted`` in ``cache``; a full cache first drops what has expired, and if that is not
    enough, everything (each sign-in makes a new session, so the cache would otherwise only grow)."""
    if len(cache) >= CACHE_SIZE:
        for stale in [cached for cached, entry in cache.items() if entry.until <= now]:
            del cache[stale]
        if len(cache) >= CACHE_SIZE:
            cache.clear()
    cache[key] = trusted


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, name=user.name, is_admin=user.is_admin)


def session_stamp(user: User) -> str:
    """A short digest of the password hash, kept in the session cookie: a new password ends every other session."""
    return hashlib.sha256(f"session:{user.password_hash or ''}".encode()).hexdigest()[:STAMP_LENGTH]


def check_user_name(name: str) -> None:
    """:raises InvalidName: unless 1 to 64 letters, digits, ``.``, ``_``, ``-`` or ``@``."""
    if not USER_NAME.fullmatch(name):
        raise InvalidName(f"a user name is 1 to 64 letters, digits, '.', '_', '-' or '@' (got {name[:80]!r})")


def check_key_name(name: str) -> None:
    """:raises InvalidName: unless 1 to 64 printable characters."""
    if not name.strip() or len(name) > MAX_KEY_NAME or not name.isprintable():
        raise InvalidName(f"a key's name is 1 to {MAX_KEY_NAME} printable characters")


class Accounts:
    """Users, sign-in, API keys and sessions, on a store; one per process, shared by every request.

    It owns the threads that check passwords: :meth:`close` it when done.
    """

    def __init__(self, store: CallStore, clock: Clock, settings: AuthConfig) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._throttle = SignInThrottle(store, clock, settings)
        self._passwords = PasswordWork(
            workers=settings.password_threads, max_waiting=settings.max_waiting_password_checks
        )
        self._keys: dict[str, _Trusted] = {}
        self._sessions: dict[tuple[int, str, str], _Trusted] = {}
        """Sessions checked lately, by (user id, password stamp, session id)."""
        self._last_use: dict[str, float] = {}

    def close(self) -> None:
        """Stop the threads that check passwords (see :class:`~dialajoke.accounts.passwords.PasswordWork`)."""
        self._passwords.close()

    @property
    def key_cache_s(self) -> float:
        """How long a checked key or session is trusted: how late a change made elsewhere may be seen here."""
        return self._settings.key_cache_s

    # --- Users -------------------------------------------------------------------------------------

    async def create_user(self, name: str, password: str | None, *, admin: bool) -> User:
        """A new user; with no password, one who uses API keys only.

        :raises InvalidName: see :func:`check_user_name`.
        :raises WeakPassword: see :func:`~dialajoke.accounts.passwords.check_rules`.
        :raises UserExists: the name is taken (names are compared regardless of case).
        """
        check_user_name(name)
        password_hash = None if password is None else await self._passwords.hash(password)
        return await self._store.add_user(name=name, password_hash=password_hash, is_admin=admin)

    async def ensure_first_admin(self) -> tuple[User, str] | None:
        """With no user at all, the admin ``admin`` with a generated password, returned once to be shown; else None."""
        if await self._store.has_users():
            return None
        password = secrets.token_urlsafe(12)
        try:
            return await self.create_user(FIRST_ADMIN, password, admin=True), password
        except UserExists:
            return None

    async def list_users(self) -> list[User]:
        return await self._store.list_users()

    async def find_user(self, name: str) -> User | None:
        """The user of that name; None too for text that could be no user's name (asked without a read)."""
        return await self._store.find_user(name) if USER_NAME.fullmatch(name) else None

    async def user_named(self, name: str) -> User:
        """:raises UserNotFound: no user of that name."""
        user = await self._store.find_user(name)
        if user is None:
            raise UserNotFound(f"no user named {name[:80]!r}")
        return user

    async def disable_user(self, name: str) -> User:
        """Disable a user for good: their keys and sessions are refused from now on (their calls stay).

        :raises UserNotFound: no user of that name.
        :raises LastAdmin: the user is the only admin not disabled; no one would be left to manage users.
        """
        user = await self.user_named(name)
        disabled = await self._store.disable_user(user.id)
        if disabled is None:
            raise UserNotFound(f"no user named {name[:80]!r}")
        self._forget_user(user.id)
        return disabled

    # --- Passwords and sessions --------------------------------------------------------------------

    async def sign_in(self, name: str, password: str, address: str) -> User:
        """The user, if ``password`` is theirs and they may sign in.

        :raises TooManySignIns: too many failures lately for this name or from this address, counting
            the guesses still being checked; decided first, so a guess is not even tried.
        :raises SignInRefused: after ``auth.login_failure_delay_s``, with one message whatever the
            cause (unknown name, wrong password, disabled user, a user without a password).
        """
        async with self._throttle.guess(name, address) as guess:
            user = await self._password_holder(name, password)
            if user is None:
                await guess.failed()
        if user is None:
            await sleep(self._clock, self._settings.login_failure_delay_s)
            raise SignInRefused()
        if user.password_hash is not None and needs_rehash(user.password_hash):
            await self._store.set_password_hash(user.id, await self._passwords.renew(password))
            user = await self._store.get_user(user.id) or user
        return user

    async def _password_holder(self, name: str, password: str) -> User | None:
        """The user named, if ``password`` is theirs and they may sign in; one verification is spent either way."""
        user = await self._store.find_user(name) if USER_NAME.fullmatch(name) else None
        verified = await self._passwords.verify(user.password_hash if user else None, password)
        if user is None or not verified or user.is_disabled or user.password_hash is None:
            return None
        return user

    def session_stamp(self, user: User) -> str:
        return session_stamp(user)

    async def principal_for_session(self, user_id: int, stamp: str, session_id: str) -> Principal | None:
        """Who a session cookie speaks for; None once the session has ended, the user is disabled or their
        password has changed."""
        now = self._clock.time()
        trusted = self._sessions.get((user_id, stamp, session_id))
        if trusted is not None and trusted.until > now:
            return trusted.principal
        user = await self._store.get_user(user_id)
        if user is None or user.is_disabled or user.password_hash is None:
            return None
        if not hmac.compare_digest(session_stamp(user), stamp) or await self._store.is_session_ended(session_id):
            return None
        principal = principal_of(user)
        _remember(self._sessions, (user_id, stamp, session_id), self._trusted(principal, now), now)
        return principal

    async def end_session(self, session_id: str, until: float) -> None:
        """Sign a session out for good: a copy of its cookie is refused from now on (in this process at once;
        in another within ``auth.key_cache_s``). ``until`` is when it would have expired anyway."""
        await self._store.end_session(session_id, until)
        self._sessions = {key: trusted for key, trusted in self._sessions.items() if key[2] != session_id}

    async def change_password(self, user_id: int, current: str, new: str, address: str) -> User:
        """A user's own change, which ends their other sessions.

        Whoever holds a session cookie could otherwise guess the current password here as
        often as they like, so each guess counts against the same limit as a sign-in, as the
        user's name and from ``address``.

        :raises WeakPassword: the new password breaks the rules (checked first).
        :raises TooManySignIns: as for :meth:`sign_in`; the current password is not even tried.
        :raises SignInRefused: ``current`` is wrong (after ``auth.login_failure_delay_s``).
        """
        check_rules(new)
        user = await self._store.get_user(user_id)
        if user is None or user.is_disabled:
            raise SignInRefused()
        async with self._throttle.guess(user.name, address) as guess:
            if not await self._passwords.verify(user.password_hash, current):
                await guess.failed()
        if guess.has_failed:
            await sleep(self._clock, self._settings.login_failure_delay_s)
            raise SignInRefused()
        return await self._replace_password(user, new)

    async def set_password(self, name: str, password: str) -> User:
        """An operator's change, without the current password; it ends the user's sessions.

        :raises UserNotFound: no user of that name.
        :raises WeakPassword: the password breaks the rules.
        """
        check_rules(password)
        return await self._replace_password(await self.user_named(name), password)

    async def _replace_password(self, user: User, password: str) -> User:
        if not await self._store.set_password_hash(user.id, await self._passwords.hash(password)):
            raise UserNotFound(f"no user named {user.name!r}")
        self._forget_sessions(user.id)
        return await self._store.get_user(user.id) or user

    # --- API keys ----------------------------------------------------------------------------------

    async def add_key(self, user_id: int, name: str) -> tuple[ApiKey, str]:
        """A new key for the user: its record, and its text, which is never available again.

        :raises InvalidName: see :func:`check_key_name`.
        :raises UserNotFound: no such user.
        :raises UserDisabled: the user is disabled, so the key would be refused.
        """
        check_key_name(name)
        user = await self._store.get_user(user_id)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        if user.is_disabled:
            raise UserDisabled(f"{user.name} is disabled: a key of theirs would be refused")
        try:
            return await self._store_new_key(user, name)
        except ValueError:
            # The 40-bit id was drawn before: one more draw.
            return await self._store_new_key(user, name)

    async def _store_new_key(self, user: User, name: str) -> tuple[ApiKey, str]:
        key = new_key()
        record = await self._store.add_api_key(
            user_id=user.id, key_id=key.key_id, name=name, secret_hash=key.secret_hash
        )
        return record, key.text

    async def list_keys(self, user_id: int) -> list[ApiKey]:
        """The user's keys, newest first, revoked ones included."""
        return await self._store.list_api_keys(user_id)

    async def revoke_key(self, user_id: int, key_id: str) -> ApiKey:
        """Revoke one of the user's keys: refused from now on, in this process at once.

        :raises KeyNotFound: the user has no key with that id.
        """
        revoked = await self._store.revoke_api_key(user_id, key_id)
        if revoked is None:
            raise KeyNotFound(f"no key {key_id[:80]!r} for this user")
        self._forget(lambda trusted: trusted.key_id == key_id)
        return revoked

    async def principal_for_key(self, key: str) -> Principal | None:
        """Who a key speaks for; None for anything malformed, unknown or revoked, or a disabled user's key."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        digest = hash_key(key)
        now = self._clock.time()
        trusted = self._keys.get(digest)
        if trusted is not None and trusted.until > now:
            principal: Principal | None = trusted.principal
        else:
            principal = await self._look_up_key(key_id, key)
            if principal is None:
                self._keys.pop(digest, None)
                return None
            _remember(self._keys, digest, self._trusted(principal, now, key_id), now)
        await self._note_use(key_id, now)
        return principal

    async def _look_up_key(self, key_id: str, key: str) -> Principal | None:
        record = await self._store.find_api_key(key_id)
        if record is None or record.is_revoked or not matches(key, record.secret_hash):
            return None
        user = await self._store.get_user(record.user_id)
        if user is None or user.is_disabled:
            return None
        if record.last_used_at is not None:
            last_use = max(self._last_use.get(key_id, 0.0), record.last_used_at.timestamp())
            self._last_use[key_id] = last_use
        return principal_of(user)

    async def _note_use(self, key_id: str, now: float) -> None:
        """Write the key's last use, at most once a minute: a lost write only leaves it a little older."""
        last_use = self._last_use.get(key_id)
        if last_use is not None and now - last_use < LAST_USE_EVERY_S:
            return
        self._last_use[key_id] = now
        with contextlib.suppress(StorageUnavailable):
            await self._store.touch_api_key(key_id, now)

    # --- What is trusted without asking the store ---------------------------------------------------

    def _trusted(self, principal: Principal, now: float, key_id: str | None = None) -> _Trusted:
        """Trusted until ``auth.key_cache_s`` from now; with 0, never (the store is asked every time)."""
        return _Trusted(principal, now + self._settings.key_cache_s, key_id)

    def _forget_user(self, user_id: int) -> None:
        self._forget(lambda trusted: trusted.principal.user_id == user_id)

    def _forget_sessions(self, user_id: int) -> None:
        sessions = self._sessions.items()
        self._sessions = {key: trusted for key, trusted in sessions if trusted.principal.user_id != user_id}

    def _forget(self, condition: Callable[[_Trusted], bool]) -> None:
        self._keys = {key: trusted for key, trusted in self._keys.items() if not condition(trusted)}
        self._sessions = {key: trusted for key, trusted in self._sessions.items() if not condition(trusted)}
