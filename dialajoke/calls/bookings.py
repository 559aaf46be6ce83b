"""Bookings: accepting, cancelling and restoring scheduled calls.

The store is the truth and the queue a timer over it: a call is written first and
queued second. The queue holds only call ids (with their owners, whose turn the dial
gate gives them) and due times, and only for calls due
within ``scheduler.horizon_s``: later ones wait in the store and are paged in, half a
horizon ahead, as time passes. So memory stays bounded however many calls are booked,
and a restart reads only the next horizon's calls.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime

from ..clock import Clock
from ..config import ProtectionConfig, SchedulerConfig
from ..logs import about_call, logs_about_its_call
from ..models import Call, CallStatus, Direction, Principal
from ..scheduler import UnifiedTimedQueue
from ..store import BookingQuota, CallStore, Idempotency, Limit, LimitReached, OnDoNotCallList
from .calling_hours import CallingHours
from .destinations import Destinations
from .outcomes import CANCELLED_BY
from .refusals import destination_not_allowed, limit_reached, on_do_not_call_list, outside_calling_hours
from .validation import BookingRules, CallRequest, server_timezone

logger = logging.getLogger(__name__)

PAGE_IN_RETRY_S = 5.0

QueuedCall = tuple[int, int | None]
"""What the timed queue holds for a call: its id, and its owner (None: no user booked it)."""


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
    :param settings: the limits a booking must keep (region, zone, how far ahead), the
        misfire grace and the horizon.
    :param protection: what protects the callees: destinations, calling hours, limits.
    :param live: whether calls ring real phones; on the simulator, calling hours are only
        noted unless ``protection.calling_hours_on_simulator`` says to keep them.
    :param cancelled: told the id of each call cancelled, for a call already due and waiting
        for a free line to leave it (the dialer's ``leave_line``).

    ``async with bookings:`` runs the pager that brings calls into the queue.
    """

    def __init__(
        self,
        store: CallStore,
        queue: UnifiedTimedQueue[QueuedCall],
        clock: Clock,
        from_number: str,
        settings: SchedulerConfig,
        protection: ProtectionConfig | None = None,
        *,
        live: bool = False,
        cancelled: Callable[[int], None] = lambda call_id: None,
    ) -> None:
        protection = protection or ProtectionConfig()
        self._store = store
        self._queue = queue
        self._cancelled = cancelled
        self._clock = clock
        self._from_number = from_number
        self._misfire_grace_s = settings.misfire_grace_s
        self._horizon_s = settings.horizon_s
        self._loaded_until = -math.inf
        """Every scheduled call due up to this epoch time is on the queue."""
        self._destinations = Destinations.from_settings(protection, from_number)
        self._calling_hours = CallingHours.parse(protection.calling_hours) if protection.calling_hours else None
        self._keep_calling_hours = live or protection.calling_hours_on_simulator
        self._protection = protection
        self._pager: UnifiedTimedQueue[str] = UnifiedTimedQueue(self._page_in, clock=clock)
        self._rules = BookingRules(
            now=datetime.fromtimestamp(0, UTC),
            default_region=settings.default_region,
            default_timezone=settings.default_timezone or server_timezone(),
            max_days_ahead=settings.max_days_ahead,
        )

    async def __aenter__(self) -> Bookings:
        await self._pager.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pager.close()

    def rules(self) -> BookingRules:
        """What a request arriving now must keep."""
        return dataclasses.replace(self._rules, now=datetime.fromtimestamp(self._clock.time(), UTC))

    async def book(self, request: CallRequest, principal: Principal, *, idempotency: Idempotency | None = None) -> Call:
        """Store the call, then queue it: once this returns the call survives a restart.

        :param principal: the user booking it, who alone (with the admins) may see and cancel it.
        :param idempotency: the client's key for this booking, stored with it (see CallStore.add_call).
        :raises BookingRefused: for a number the service may not ring, a time outside the
            callee's calling hours, a number on the do-not-call list, or a limit reached.
        :raises AlreadyBooked: when the principal's key booked a call already, from the same request.
        :raises IdempotencyKeyReused: when it did, from another request.
        """
        if (reason := self._destinations.refusal(request.number or request.to)) is not None:
            raise destination_not_allowed(reason)
        detail = f"booked for {request.at.isoformat()}"
        if (reason := self._calling_hours_refusal(request)) is not None:
            if self._keep_calling_hours:
                raise outside_calling_hours(reason)
            detail += f"; outside calling hours: {reason}; live mode would refuse it"
        try:
            call = await self._store.add_call(
                direction=Direction.OUTBOUND,
                to=request.to,
                from_=self._from_number,
                at=request.at,
                timezone=request.timezone,
                status=CallStatus.SCHEDULED,
                detail=detail,
                owner_id=principal.user_id,
                quota=self._quota(principal),
                idempotency=idempotency,
            )
        except OnDoNotCallList as refusal:
            raise on_do_not_call_list(refusal, request.timezone) from None
        except LimitReached as refusal:
            setting = self._setting_of(refusal.limit, principal)
            raise limit_reached(
                refusal, setting=setting, now=self._clock.time(), booker_zone=request.timezone
            ) from None
        if call.at.timestamp() <= self._loaded_until:
            self._queue.put((call.id, call.owner_id), call.at.timestamp())
        with about_call(call.id):
            logger.info("call %s to %s booked for %s", call.id, call.to, call.at.isoformat())
        return call

    async def booked_before(self, principal: Principal, idempotency: Idempotency) -> Call | None:
        """The call the principal's key booked from this same request, as it is now; None for a new key.

        Asked before the request is checked, so that a retry gets its call even once the
        call's time has passed or a limit has filled since.

        :raises IdempotencyKeyReused: when the key booked a call from another request.
        """
        return await self._store.booked_with_key(principal.user_id, idempotency)

    def _quota(self, principal: Principal) -> BookingQuota:
        """The limits from the settings; an admin's own limits are higher, yet still there."""
        protection = self._protection
        return BookingQuota(
            calls_per_number_per_day=protection.max_calls_per_number_per_day,
            pending_per_number_per_owner=protection.max_pending_per_number_per_user,
            pending_per_owner=(
                protection.admin_max_pending_per_user if principal.is_admin else protection.max_pending_per_user
            ),
            bookings_per_owner_per_hour=(
                protection.admin_max_bookings_per_user_per_hour
                if principal.is_admin
                else protection.max_bookings_per_user_per_hour
            ),
            calls_per_day=protection.max_calls_per_day,
        )

    @staticmethod
    def _setting_of(limit: Limit, principal: Principal) -> str:
        """The setting that set ``limit`` for this principal: an admin's own where there is one."""
        admin_settings = {Limit.PENDING_PER_USER, Limit.BOOKINGS_PER_USER_PER_HOUR}
        return f"admin_{limit}" if principal.is_admin and limit in admin_settings else str(limit)

    def _calling_hours_refusal(self, request: CallRequest) -> str | None:
        if self._calling_hours is None:
            return None
        return self._calling_hours.refusal(request.number or request.to, request.at, request.timezone)

    @logs_about_its_call
    async def cancel(self, call_id: int, *, by: Principal | None = None) -> Call:
        """Cancel a call not yet dialed.

        :param by: who asks; a call they may not see is not found, exactly as a call that never was.
            Their name goes on the timeline, so its owner can tell their own cancel from an admin's.
        :raises CallNotFound: :raises CallNotCancellable: once the call has been dialed.
        """
        if by is not None and not by.is_admin:
            owned = await self._store.get_call(call_id)
            if owned is None or not by.may_see(owned):
                raise CallNotFound(call_id)
        detail = f"{CANCELLED_BY}{by.name}" if by is not None else "cancelled"
        cancelled = await self._store.move(call_id, CallStatus.CANCELLED, detail, only_from={CallStatus.SCHEDULED})
        if cancelled is None:
            call = await self._store.get_call(call_id)
            if call is None:
                raise CallNotFound(call_id)
            raise CallNotCancellable(call)
        self._queue.cancel((call_id, cancelled.owner_id))
        self._cancelled(call_id)
        return cancelled

    async def pending(self) -> int:
        """Calls booked and waiting for their time (in the queue or beyond its horizon)."""
        return (await self._store.count_by_status()).get(CallStatus.SCHEDULED, 0)

    async def restore(self) -> int:
        """Take up the schedule from the store, e.g. after a restart; returns the calls queued.

        A call that fell due while the service was down still rings if it is at most
        ``misfire_grace_s`` late; later than that, ringing would surprise its callee, so
        it is marked ``missed`` instead.
        """
        now = self._clock.time()
        missed = [
            (call_id, now - due_at)
            async for call_id, due_at, _ in self._store.scheduled(until=now - self._misfire_grace_s)
        ]
        for call_id, late_s in missed:
            detail = (
                f"missed: due {late_s:.0f} s before the service was back (misfire_grace_s={self._misfire_grace_s:g})"
            )
            await self._store.move(call_id, CallStatus.MISSED, detail, only_from={CallStatus.SCHEDULED})
        restored = await self._load(until=now + self._horizon_s)
        if restored or missed:
            logger.info("restored %d scheduled calls from the store; %d were missed", restored, len(missed))
        return restored

    async def _page_in(self, _: str) -> None:
        await self._load(until=self._clock.time() + self._horizon_s)

    async def _load(self, until: float) -> int:
        """Queue the calls due up to ``until`` not queued yet, and plan the next page-in."""
        after, self._loaded_until = self._loaded_until, until
        # _loaded_until moves first: a call booked while the query runs is then queued by
        # book() itself (and perhaps by the query too, which just puts it again).
        loaded = 0
        try:
            async for call_id, due_at, owner_id in self._store.scheduled(after=after, until=until):
                self._queue.put((call_id, owner_id), due_at)
                loaded += 1
        except Exception:
            # Try the same range again soon: a page-in that failed must not stop the pager.
            self._loaded_until = after
            self._pager.put("page-in", self._clock.time() + PAGE_IN_RETRY_S)
            raise
        self._pager.put("page-in", until - self._horizon_s / 2)
        return loaded
