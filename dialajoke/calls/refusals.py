"""Why a well-formed booking is refused: one exception for every rule, in words for the person booking.

A malformed request is :class:`~dialajoke.calls.validation.InvalidRequest` (400); a
request that is well formed but that the service will not carry out (a number it may
not ring, a time outside the callee's calling hours, a limit reached) is a
:class:`BookingRefused`, which the API renders as a problem of its ``slug`` and the
form as a message beside its ``field``.
"""

from __future__ import annotations

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
