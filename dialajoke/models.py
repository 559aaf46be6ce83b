"""What a call is: its status, its timeline, and the rules for moving between statuses."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class CallStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    SPEAKING = "speaking"
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    def can_move_to(self, new: CallStatus) -> bool:
        """Statuses only move forward, so a late or repeated webhook cannot undo progress."""
        if self.is_final:
            return False
        if new.is_final:
            return True
        return _PROGRESS.index(new) > _PROGRESS.index(self)

    @classmethod
    def before(cls, new: CallStatus) -> frozenset[CallStatus]:
        """Every status from which ``new`` may be entered."""
        return frozenset(status for status in cls if status.can_move_to(new))


_PROGRESS = [
    CallStatus.SCHEDULED,
    CallStatus.DIALING,
    CallStatus.RINGING,
    CallStatus.ANSWERED,
    CallStatus.SPEAKING,
]
FINAL_STATUSES = frozenset(set(CallStatus) - set(_PROGRESS))
IN_PROGRESS = frozenset(_PROGRESS[1:])
"""Dialed (or rung by a caller) and not yet ended."""


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@dataclass(frozen=True)
class TimelineEntry:
    """One step in a call's life: the status it reached, or a note on the way."""

    at: datetime
    status: CallStatus
    detail: str = ""


@dataclass(frozen=True)
class Call:
    id: int
    ref: str
    direction: Direction
    to: str
    from_: str
    at: datetime
    timezone: str
    status: CallStatus
    joke: str | None = None
    call_control_id: str | None = None
    hangup_cause: str | None = None
    owner_id: int | None = None
    """The user who booked it; None for a call to the service's own number (admins see those)."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: tuple[TimelineEntry, ...] = ()


@dataclass(frozen=True)
class User:
    """Someone who may use the service: signs in with a password (if set) or API keys."""

    id: int
    name: str
    is_admin: bool
    password_hash: str | None = field(default=None, repr=False)
    """argon2id (PHC string); None for a user who signs in with API keys only."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    disabled_at: datetime | None = None

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True)
class ApiKey:
    """One of a user's API keys. The key itself is shown once; only its hash is kept."""

    id: str
    """The public part of the key (``dj_<id>_<secret>``): shown in lists, named to revoke it."""
    user_id: int
    name: str
    secret_hash: str = field(repr=False)
    """SHA-256 of the whole key, hex."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class DoNotCallEntry:
    """A number that asked never to be called by this service: no booking or dial reaches it."""

    number: str
    """E.164."""
    added_by: str
    """Who put it there, in words: "the callee, pressing 9 on call 12", "alice", "the command line"."""
    added_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    call_id: int | None = None
    """The call on which the callee pressed 9, when that is how it came."""


@dataclass(frozen=True)
class Principal:
    """Who is making a request: what every rule about calls and users is checked against."""

    user_id: int
    name: str
    is_admin: bool

    def may_see(self, call: Call) -> bool:
        """Admins see every call; a user only their own (another's answers exactly as an unknown one)."""
        return self.is_admin or call.owner_id == self.user_id


class Access(enum.StrEnum):
    """Who may use a route. Every route is registered with one, and nothing else is served."""

    ANYONE = "anyone"
    TELNYX = "Telnyx: the handler checks the webhook's signature"
    SIGNED_IN = "a user signed in on the page (session cookie)"
    API_KEY = "a user's API key (Authorization: Bearer)"
    ADMIN = "an admin, signed in or by API key"
    METRICS = "an admin, or Prometheus presenting metrics.token"
    THIS_MACHINE = "this machine only: the embedded simulator"


def epoch_to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
