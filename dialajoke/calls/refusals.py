"""Why a well-formed booking is refused: one exception for every rule, in words for the person booking.

A malformed request is :class:`~dialajoke.calls.validation.InvalidRequest` (400); a
request that is well formed but that the service will not carry out (a number it may
not ring, a time outside the callee's calling hours, a limit reached) is a
:class:`BookingRefused`, which the API renders as a problem of its ``slug`` and the
form as a message beside its ``field``.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from ..store import Limit, LimitReached, OnDoNotCallList

DESTINATION_NOT_ALLOWED = "destination-not-allowed"
CALLING_HOURS = "calling-hours"
DO_NOT_CALL = "do-not-call"
LIMIT_REACHED = "limit-reached"
TOO_MANY_BOOKINGS = "too-many-bookings"


class BookingRefused(Exception):
    """
    :param status: 422 for a rule, 429 for a rate that a later attempt may keep.
    :param slug: the problem type (its page at /problems/<slug> explains it).
    :param field: the request field the refusal is about, as the API names it (``to``,
        ``at``); empty when it is about the booking as a whole.
    :param message: what was refused and why, with the setting that decides it and when it resets.
    :param retry_after_s: for a 429, the seconds until the same booking could be accepted.
    """

    def __init__(self, status: int, slug: str, field: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.slug = slug
        self.field = field
        self.message = message
        self.retry_after_s = retry_after_s


def destination_not_allowed(reason: str) -> BookingRefused:
    return BookingRefused(422, DESTINATION_NOT_ALLOWED, "to", reason)


def outside_calling_hours(reason: str) -> BookingRefused:
    return BookingRefused(422, CALLING_HOURS, "at", f"{reason} (setting protection.calling_hours)")


def on_do_not_call_list(refusal: OnDoNotCallList, booker_zone: str) -> BookingRefused:
    entry = refusal.entry
    return BookingRefused(
        422,
        DO_NOT_CALL,
        "to",
        f"the person at {entry.number} asked never to be called: the number is on the do-not-call list, so it"
        " cannot be booked; only an admin can take it off",
    )


def limit_reached(refusal: LimitReached, *, setting: str, now: float, booker_zone: str) -> BookingRefused:
    """A limit of the store's quota in words: which one, its setting, and when a place frees up.

    :param setting: the setting that set the limit (an admin's limits have settings of their own).
    :param now: epoch time, for the seconds a client should wait before booking again.
    """
    allowed, reset_at = refusal.allowed, refusal.reset_at
    limit = f"(setting protection.{setting} = {allowed})"
    when = "" if reset_at is None else _wall_text(reset_at, booker_zone)
    match refusal.limit:
        case Limit.CALLS_PER_NUMBER_PER_DAY:
            return BookingRefused(
                422,
                LIMIT_REACHED,
                "to",
                f"this number already has {allowed} calls within 24 hours of that time, every user's counted {limit}:"
                f" book it for {_day_text(reset_at, booker_zone)} or later",
            )
        case Limit.PENDING_PER_NUMBER_PER_USER:
            return BookingRefused(
                422,
                LIMIT_REACHED,
                "to",
                f"you already have {_calls(allowed)} waiting to ring this number {limit}: book another once it has"
                " rung or you have cancelled it",
            )
        case Limit.PENDING_PER_USER:
            return BookingRefused(
                422,
                LIMIT_REACHED,
                "",
                f"you already have {_calls(allowed)} waiting to ring {limit}: book another once one has rung or you"
                " have cancelled one",
            )
        case Limit.BOOKINGS_PER_USER_PER_HOUR:
            wait_s = max(0.0, (reset_at or now) - now)
            return BookingRefused(
                429,
                TOO_MANY_BOOKINGS,
                "",
                f"you booked {_calls(allowed)} in the last hour {limit}: book again from {when}",
                retry_after_s=wait_s,
            )
        case Limit.CALLS_PER_DAY:
            return BookingRefused(
                422,
                LIMIT_REACHED,
                "at",
                f"the service already has {_calls(allowed)} due in the 24 hours up to that time, a ceiling on its"
                f" bill {limit}: book a time from {when} on",
            )


def _day_text(epoch: float | None, zone: str) -> str:
    """The day after the one ``epoch`` falls on, on the booker's calendar: the calls that fill the
    number's day may be other users', whose times are theirs alone."""
    if epoch is None:
        return "another day"
    day = datetime.fromtimestamp(epoch, UTC).astimezone(zoneinfo.ZoneInfo(zone)) + timedelta(days=1)
    return f"{day:%a} {day.day} {day:%b} ({zone})"


def _calls(count: int) -> str:
    return "1 call" if count == 1 else f"{count} calls"


def _wall_text(epoch: float, zone: str) -> str:
    """``14:30 Tue 24 Nov (Europe/Dublin, your time)``: a moment on the booker's clock."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%H:%M} {local:%a} {local.day} {local:%b} ({zone}, your time)"
