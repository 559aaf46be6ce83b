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
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: tuple[TimelineEntry, ...] = ()


def epoch_to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
