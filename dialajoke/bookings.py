"""Bookings: accepting, cancelling and restoring scheduled calls.

The store is the truth and the queue a timer over it: a call is written first and
queued second, and on start-up every call still scheduled is queued again. The queue
holds only call ids and due times, never whole calls.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from .clock import Clock
from .config import SchedulerConfig
from .models import Call, CallStatus, Direction
from .scheduler import UnifiedTimedQueue
from .store import CallStore
from .validation import BookingRules, CallRequest, server_timezone

logger = logging.getLogger(__name__)


class CallNotFound(Exception):
    def __init__(self, call_id: int) -> None:
        super().__init__(f"there is no call {call_id}")
        self.call_id = call_id


class CallNotCancellable(Exception):
    def __init__(self, call: Call) -> None:
        super().__init__(f"call {call.id} is {call.status}: only a call not yet dialed can be cancelled")
        self.call = call


class Bookings:
    """
    :param from_number: the caller id our calls present.
    :param settings: the limits a booking must keep (region, zone, how far ahead).
    """

    def __init__(
        self,
        store: CallStore,
        queue: UnifiedTimedQueue[int],
        clock: Clock,
        from_number: str,
        settings: SchedulerConfig,
    ) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock
        self._from_number = from_number
        self._misfire_grace_s = settings.misfire_grace_s
        self._rules = BookingRules(
            now=datetime.fromtimestamp(0, UTC),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone or server_timezone(),
            max_days_ahead=settings.max_days_ahead,
        )

    def rules(self) -> BookingRules:
        """What a request arriving now must keep."""
        return dataclasses.replace(self._rules, now=datetime.fromtimestamp(self._clock.time(), UTC))

    async def book(self, request: CallRequest) -> Call:
        """Store the call, then queue it: once this returns the call survives a restart."""
        call = await self._store.add_call(
            direction=Direction.OUTBOUND,
            to=request.to,
            from_=self._from_number,
            at=request.at,
            timezone=request.timezone,
            status=CallStatus.SCHEDULED,
            detail=f"booked for {request.at.isoformat()}",
        )
        self._queue.put(call.id, call.at.timestamp())
        logger.info("call %s to %s booked for %s", call.id, call.to, call.at.isoformat())
        return call

    async def cancel(self, call_id: int) -> Call:
        """:raises CallNotFound: :raises CallNotCancellable: once the call has been dialed."""
        cancelled = await self._store.move(call_id, CallStatus.CANCELLED, "cancelled", only_from={CallStatus.SCHEDULED})
        if cancelled is None:
            call = await self._store.get_call(call_id)
            if call is None:
                raise CallNotFound(call_id)
            raise CallNotCancellable(call)
        self._queue.cancel(call_id)
        return cancelled

    @property
    def pending(self) -> int:
        """Calls waiting for their time in this process."""
        return len(self._queue)

    async def restore(self) -> int:
        """Queue every call still scheduled in the store, e.g. after a restart.

        A call that fell due while the service was down still rings if it is at most
        ``misfire_grace_s`` late; later than that, ringing would surprise its callee, so
        it is marked ``missed`` instead.
        """
        now = self._clock.time()
        restored, missed = 0, []
        async for call_id, due_at in self._store.scheduled():
            if now - due_at > self._misfire_grace_s:
                missed.append((call_id, now - due_at))
            else:
                self._queue.put(call_id, due_at)
                restored += 1
        for call_id, late_s in missed:
            detail = (
                f"missed: due {late_s:.0f} s before the service was back (misfire_grace_s={self._misfire_grace_s:g})"
            )
            await self._store.move(call_id, CallStatus.MISSED, detail, only_from={CallStatus.SCHEDULED})
        if restored or missed:
            logger.info("restored %d scheduled calls from the store; %d were missed", restored, len(missed))
        return restored
