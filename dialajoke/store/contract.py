"""CallStore: the contract every store of calls keeps, whatever the database behind it.

The schedule must survive a restart, so every call is a row and every step of its life
a row on its timeline. The users who book them, their API keys, the failed sign-ins
counted against them and the sessions they ended live beside the calls, in the same database, so that one backup
holds everything and a restart forgets nothing. Every backend (SQLite for one process; another, such as
PostgreSQL, for several) implements these methods and passes the same contract suite.
"""

from __future__ import annotations

import abc
import enum
import math
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ..models import ApiKey, Call, CallStatus, Direction, DoNotCallEntry, User

MAX_ID = 2**63 - 1
"""The largest id any backend holds (a signed 64-bit integer): a longer one names nothing."""


class CannotOpenDatabase(Exception):
    """The database cannot be opened at start-up; the message says why and which setting to change."""


class StorageUnavailable(Exception):
    """The store cannot write just now (a full disk, a read-only or locked database); nothing was saved.

    Raised by a write the database refused for a reason outside the write itself, and by
    :meth:`CallStore.ping` while writes fail. It passes once the cause is fixed, without a
    restart: the caller may try again later.
    """


LOGIN_FAILURES_KEPT_S = 24 * 3600.0
"""How long a failed sign-in is kept: longer than any sensible window for counting them."""


class UserExists(Exception):
    """A user of that name (compared case-insensitively) exists already; nothing was saved."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a user named {name!r} exists already: choose another name")
        self.name = name


class LastAdmin(Exception):
    """Disabling this user would leave no admin who is not disabled, and no one to manage users; nothing changed."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is the last admin who is not disabled: make another admin first"
            " (python -m dialajoke users add NAME --admin)"
        )
        self.name = name


DAY_S = 24 * 3600.0
HOUR_S = 3600.0


class Limit(enum.StrEnum):
    """A limit on bookings, named as its setting is (``protection.<name>``)."""

    CALLS_PER_NUMBER_PER_DAY = "max_calls_per_number_per_day"
    PENDING_PER_NUMBER_PER_USER = "max_pending_per_number_per_user"
    PENDING_PER_USER = "max_pending_per_user"
    BOOKINGS_PER_USER_PER_HOUR = "max_bookings_per_user_per_hour"
    CALLS_PER_DAY = "max_calls_per_day"


@dataclass(frozen=True)
class BookingQuota:
    """The limits a booking must keep, checked in the transaction that stores it, so that two
    bookings at the same moment cannot both take the last place. 0 turns a limit off.

    Calls cancelled, or missed without ringing, count for none of them; bookings count
    for :attr:`bookings_per_owner_per_hour` whatever became of them.
    """

    calls_per_number_per_day: int = 0
    """Outbound calls to the number in any 24 hours (by due time), every owner's, pending ones included."""
    pending_per_number_per_owner: int = 0
    """Scheduled calls of this owner to this number."""
    pending_per_owner: int = 0
    """Scheduled calls of this owner."""
    bookings_per_owner_per_hour: int = 0
    """Calls this owner booked in the last hour (by the time they were booked)."""
    calls_per_day: int = 0
    """Outbound calls of every owner due in the 24 hours up to the new call's due time."""


class LimitReached(Exception):
    """A booking would break a limit of its :class:`BookingQuota`; nothing was saved.

    :ivar reset_at: epoch time from which the same booking could be accepted, when a time
        says it: the end of the hour for the rate, 24 h after the calls that fill the day.
        None when only a call ringing or being cancelled frees a place.
    """

    def __init__(self, limit: Limit, allowed: int, reset_at: float | None) -> None:
        super().__init__(f"{limit} ({allowed}) reached")
        self.limit = limit
        self.allowed = allowed
        self.reset_at = reset_at


class OnDoNotCallList(Exception):
    """The number asked never to be called; nothing was saved."""

    def __init__(self, entry: DoNotCallEntry) -> None:
        super().__init__(f"{entry.number} is on the do-not-call list")
        self.entry = entry


IDEMPOTENCY_KEYS_KEPT_S = 24 * 3600.0
"""How long an idempotency key names its booking: a client retries within minutes, and the
key may then be used again; older ones are deleted as new ones come."""


@dataclass(frozen=True)
class Idempotency:
    """The client's Idempotency-Key for a booking, and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


class AlreadyBooked(Exception):
    """The owner's idempotency key booked a call already, from the same request; nothing new was saved.

    :ivar call: that call, as it is now.
    """

    def __init__(self, call: Call) -> None:
        super().__init__(f"this idempotency key booked call {call.id} already")
        self.call = call


class IdempotencyKeyReused(Exception):
    """The owner's idempotency key booked a call already, from a different request; nothing was saved."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the idempotency key {key!r} was used already, for a different request")
        self.key = key


@dataclass(frozen=True)
class CallChange:
    """One entry of the calls' timeline, as the live page follows it: its id orders every change."""

    change_id: int
    call_id: int


DialRefusal = Callable[[Call], str | None]
"""Why a due call must not be dialed now (e.g. outside the callee's calling hours), or None."""


class CallStore(abc.ABC):
    """The contract every store keeps. All times are aware UTC datetimes.

    Every write raises :class:`StorageUnavailable` when the database cannot take it.
    """

    @abc.abstractmethod
    async def add_call(
        self,
        *,
        direction: Direction,
        to: str,
        from_: str,
        at: datetime,
        timezone: str,
        status: CallStatus,
        detail: str,
        call_control_id: str | None = None,
        owner_id: int | None = None,
        quota: BookingQuota | None = None,
        idempotency: Idempotency | None = None,
    ) -> Call:
        """Store a new call with its first timeline entry; it is durable when this returns.

        ``owner_id`` is the user who booked it, so that each user sees only their own calls;
        None for a call no user booked (one to the service's own number).

        ``quota``, given for a booking, is checked in the same transaction as the insert,
        and so is the do-not-call list: raises :class:`OnDoNotCallList` for a number on it,
        else :class:`LimitReached` for the first limit the call would break.

        ``idempotency``, given for a booking by a client that may retry it, is kept with the call
        (for :data:`IDEMPOTENCY_KEYS_KEPT_S`, per owner) in the same write, and looked up before
        anything else: a key the owner used already raises :class:`AlreadyBooked` with its call
        when the fingerprints match, else :class:`IdempotencyKeyReused`. So two retries racing
        book once. A refused booking keeps no key. It needs an ``owner_id``.
        """

    @abc.abstractmethod
    async def booked_with_key(self, owner_id: int, idempotency: Idempotency) -> Call | None:
        """The call, as it is now, that the owner's key booked from the same request; None for a key
        not used (or used more than :data:`IDEMPOTENCY_KEYS_KEPT_S` ago).

        A read, so that a retry is answered before its request is checked again: the request
        was good when it booked, though its time may have passed since.

        :raises IdempotencyKeyReused: when the key booked a call from a different request.
        """

    @abc.abstractmethod
    async def get_call(self, call_id: int) -> Call | None:
        """The call with its timeline, or None."""

    @abc.abstractmethod
    async def find_call(self, *, ref: str | None = None, call_control_id: str | None = None) -> Call | None:
        """The call named by our ref (from client_state) or else by Telnyx's call_control_id."""

    @abc.abstractmethod
    async def move(
        self,
        call_id: int,
        new: CallStatus,
        detail: str,
        *,
        only_from: Iterable[CallStatus] = (),
        joke: str | None = None,
        hangup_cause: str | None = None,
    ) -> Call | None:
        """Move a call to ``new`` if its current status allows it (see CallStatus.can_move_to).

        ``only_from`` narrows the statuses the call may be in, e.g. cancelling only a scheduled call.

        ``joke`` and ``hangup_cause``, when given, are saved in the same transaction.
        Returns the updated call, or None when the call is unknown or the move is not allowed.
        """

    @abc.abstractmethod
    async def attach_call_control_id(self, call_id: int, call_control_id: str) -> None:
        """Remember Telnyx's id for a call, unless one is already known."""

    @abc.abstractmethod
    async def add_note(self, call_id: int, detail: str) -> None:
        """Add a timeline entry that does not change the status."""

    @abc.abstractmethod
    async def list_calls(
        self,
        *,
        statuses: Iterable[CallStatus] | None = None,
        limit: int = 50,
        upcoming: bool = False,
        owner_id: int | None = None,
        due_from: float | None = None,
        due_until: float | None = None,
        after: tuple[float, int] | None = None,
    ) -> list[Call]:
        """Calls with those statuses: soonest due first when ``upcoming``, else newest first.

        With ``owner_id``, only that user's calls, so a user's list never shows another's;
        without, every call, those without an owner included (what an admin sees).
        ``due_from`` and ``due_until`` (epoch seconds) keep the calls due in [due_from, due_until).
        ``after`` is the (due epoch seconds, id) of the last call of the previous page: the list
        goes on from the call that follows it in this order, however many calls came or went
        since, which no offset into the list can promise.
        """

    @abc.abstractmethod
    def scheduled(
        self, *, after: float = -math.inf, until: float = math.inf
    ) -> AsyncIterator[tuple[int, float, int | None]]:
        """(call id, due epoch seconds, owner id) of calls still scheduled and due in (after, until], soonest first.

        The owner lets the dialer take turns between users when calls wait for a line.
        """

    @abc.abstractmethod
    async def claim_for_dialing(self, call_id: int, *, calls_per_day: int, refuse: DialRefusal) -> Call | None:
        """Move a scheduled call to ``dialing``, unless it may no longer ring; one transaction.

        A number on the do-not-call list ends the call ``cancelled``; ``calls_per_day``
        calls already dialed in the last 24 hours (0: no limit) end it ``missed``, and so
        does a reason from ``refuse`` (called with the call, in the transaction). Each with
        the reason on its timeline. Returns the call in its new status, or None when it is
        not scheduled (unknown, cancelled, or claimed already).
        """

    @abc.abstractmethod
    def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        """(id, status, direction, call_control_id) of every call dialed or answered but not ended."""

    @abc.abstractmethod
    async def call_changes(self, *, after: int, owner_id: int | None = None, limit: int = 100) -> list[CallChange]:
        """Timeline entries newer than the change id ``after``, oldest first, at most ``limit``.

        With ``owner_id``, only that user's calls. The feed of the live page: a reader that
        remembers the last id it saw misses nothing and sees nothing twice, so it is an index
        range however many changes the table holds.
        """

    @abc.abstractmethod
    async def last_change(self) -> int:
        """The id of the newest timeline entry, 0 when there is none: where a new follower starts."""

    @abc.abstractmethod
    async def wait_for_change(self, after: int) -> None:
        """Return once a timeline entry newer than the change id ``after`` exists.

        Waiting costs nothing while nothing changes: the store wakes its waiters when a change
        is written, rather than each waiter asking again and again.
        """

    @abc.abstractmethod
    async def count_by_status(self) -> dict[CallStatus, int]:
        """How many calls are in each status (statuses with none may be missing)."""

    @abc.abstractmethod
    async def record_event(self, event_id: str, event_type: str, body: bytes) -> bool:
        """Record a webhook event, durably, to be processed; False when its id was seen before."""

    @abc.abstractmethod
    async def mark_events_processed(self, outcomes: Mapping[str, str | None]) -> None:
        """These events (id -> error, or None) have been acted on, or given up on with the error."""

    @abc.abstractmethod
    async def forget_events(self, processed_before: float) -> int:
        """Delete events processed before that epoch time; returns how many."""

    @abc.abstractmethod
    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        """(id, body) of recorded events not yet processed, oldest first, leaving out ``exclude``."""

    # The do-not-call list: numbers that asked never to be called. Every booking and every
    # dial checks it; a number is added by its callee pressing 9, or by an admin.

    @abc.abstractmethod
    async def add_to_do_not_call(
        self, number: str, *, added_by: str, call_id: int | None = None
    ) -> tuple[DoNotCallEntry, list[Call]]:
        """Put the number on the list and cancel every scheduled call to it, in one transaction.

        Returns the entry (the first one, when the number was on the list already) and the
        calls cancelled, each with the reason on its timeline.
        """

    @abc.abstractmethod
    async def remove_from_do_not_call(self, number: str) -> DoNotCallEntry | None:
        """Take the number off the list; the entry removed, or None when it was not there."""

    @abc.abstractmethod
    async def do_not_call_entry(self, number: str) -> DoNotCallEntry | None:
        """The number's entry on the list, or None."""

    @abc.abstractmethod
    async def list_do_not_call(self, *, limit: int = 100, offset: int = 0) -> list[DoNotCallEntry]:
        """Entries on the list, the latest added first."""

    # Users: who may use the service. Users are disabled, never deleted, so that the calls
    # they booked keep their owner.

    @abc.abstractmethod
    async def add_user(self, *, name: str, password_hash: str | None, is_admin: bool) -> User:
        """Store a new user; raises :class:`UserExists` when the name is taken.

        The name is kept as given, but compared case-insensitively, here and in
        :meth:`find_user`: "Alice" and "alice" signing in as two people would be a trap.
        ``password_hash`` is None for a user who signs in with API keys only.
        """

    @abc.abstractmethod
    async def get_user(self, user_id: int) -> User | None:
        """The user with that id, or None: a session names its user by id."""

    @abc.abstractmethod
    async def find_user(self, name: str) -> User | None:
        """The user of that name, whatever its case, or None: sign-in and the command line name users."""

    @abc.abstractmethod
    async def list_users(self) -> list[User]:
        """Every user, disabled ones included, by name (case-insensitively)."""

    @abc.abstractmethod
    async def has_users(self) -> bool:
        """Whether any user exists: with none, the first start creates an admin."""

    @abc.abstractmethod
    async def set_password_hash(self, user_id: int, password_hash: str | None) -> bool:
        """Replace the user's password hash (None: API keys only); False when there is no such user."""

    @abc.abstractmethod
    async def disable_user(self, user_id: int) -> User | None:
        """Disable the user, who can no longer sign in or use a key; None when there is no such user.

        Disabling a disabled user changes nothing: ``disabled_at`` keeps saying when it happened first.
        Raises :class:`LastAdmin` for an admin who is not disabled when no other such admin
        exists; that check and the change are one write, so that two admins disabling each
        other at the same moment (or the command line beside the service) leave one.
        """

    # API keys: the JSON API's credentials. Only a hash of each key is kept.

    @abc.abstractmethod
    async def add_api_key(self, *, user_id: int, key_id: str, name: str, secret_hash: str) -> ApiKey:
        """Store a new key of that user; ``key_id`` names it for good, so a taken one raises ValueError."""

    @abc.abstractmethod
    async def find_api_key(self, key_id: str) -> ApiKey | None:
        """The key with that id, revoked or not, or None: every API request looks its key up by id."""

    @abc.abstractmethod
    async def list_api_keys(self, user_id: int) -> list[ApiKey]:
        """The user's keys, newest first, revoked ones included so the user sees what was revoked when."""

    @abc.abstractmethod
    async def revoke_api_key(self, user_id: int, key_id: str) -> ApiKey | None:
        """Revoke a key of that user's; None when that user has no such key (another user's included).

        Revoking a revoked key changes nothing: ``revoked_at`` keeps saying when it happened first.
        """

    @abc.abstractmethod
    async def touch_api_key(self, key_id: str, used_at: float) -> None:
        """Note that the key was used at that epoch time, so that its list shows its last use.

        A time earlier than the one noted already is ignored, so that writes arriving out of
        order cannot move the last use back. An unknown key is ignored.
        """

    # Failed sign-ins, counted in the database so that a restart does not reset them.

    @abc.abstractmethod
    async def record_login_failure(self, *, name: str, address: str) -> None:
        """Count a failed sign-in as that name (compared case-insensitively) from that address, now.

        Failures older than :data:`LOGIN_FAILURES_KEPT_S` may be deleted meanwhile, so that
        a flood of guesses cannot fill the disk.
        """

    @abc.abstractmethod
    async def login_failures(self, *, name: str, address: str, since: float) -> tuple[int, int, float | None]:
        """Failed sign-ins recorded after the epoch time ``since``: (as that name, from that address, oldest).

        The name is compared case-insensitively. ``oldest`` is the epoch time of the oldest
        failure counted in either number, or None when both are 0: a refused client is told
        to come back when it falls out of the window. Only failures of the last
        :data:`LOGIN_FAILURES_KEPT_S` are sure to be counted.
        """

    # Sessions ended on the page: the cookie alone names the session, so a copy of it kept
    # after signing out would go on working until it expires, unless the end is written down.

    @abc.abstractmethod
    async def end_session(self, session_id: str, until: float) -> None:
        """Record that the session has ended: :meth:`is_session_ended` says so until the epoch time ``until``.

        ``until`` is when the session would have expired anyway, after which nothing need be
        kept: ended sessions past their ``until`` may be deleted meanwhile, so that signing out
        again and again cannot fill the disk. Ending an ended session keeps the later ``until``.
        """

    @abc.abstractmethod
    async def is_session_ended(self, session_id: str) -> bool:
        """Whether the session was ended and its ``until`` is still ahead."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot answer; :class:`StorageUnavailable` while it cannot be written.

        Cheap enough for every health check: it writes only when no write has succeeded lately.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the work already handed over, then let go of the database."""
