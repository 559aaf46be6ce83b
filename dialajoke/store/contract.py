"""CallStore: the contract every store of calls keeps, whatever the database behind it.

The schedule must survive a restart, so every call is a row and every step of its life
a row on its timeline. Every backend (SQLite for one process; another, such as
PostgreSQL, for several) implements these methods and passes the same contract suite.
"""

from __future__ import annotations

import abc
import math
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from datetime import datetime

from ..models import Call, CallStatus, Direction


class CannotOpenDatabase(Exception):
    """The database cannot be opened at start-up; the message says why and which setting to change."""


class StorageUnavailable(Exception):
    """The store cannot write just now (a full disk, a read-only or locked database); nothing was saved.

    Raised by a write the database refused for a reason outside the write itself, and by
    :meth:`CallStore.ping` while writes fail. It passes once the cause is fixed, without a
    restart: the caller may try again later.
    """


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
    ) -> Call:
        """Store a new call with its first timeline entry; it is durable when this returns."""

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
        self, *, statuses: Iterable[CallStatus] | None = None, limit: int = 50, upcoming: bool = False
    ) -> list[Call]:
        """Calls with those statuses: soonest due first when ``upcoming``, else newest first."""

    @abc.abstractmethod
    def scheduled(self, *, after: float = -math.inf, until: float = math.inf) -> AsyncIterator[tuple[int, float]]:
        """(call id, due epoch seconds) of calls still scheduled and due in (after, until], soonest first."""

    @abc.abstractmethod
    def in_progress(self) -> AsyncIterator[tuple[int, CallStatus, Direction, str | None]]:
        """(id, status, direction, call_control_id) of every call dialed or answered but not ended."""

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

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot answer; :class:`StorageUnavailable` while it cannot be written.

        Cheap enough for every health check: it writes only when no write has succeeded lately.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the work already handed over, then let go of the database."""
