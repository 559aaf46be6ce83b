"""Why a call ended as it did, in words for the person who booked it. Pure.

The store keeps a call's status, Telnyx's hangup_cause and a timeline whose entries say
in their own words why each step happened; this reads them back into the short reason a
page shows under the status badge.
"""

from __future__ import annotations

import re

from ..models import Call, CallStatus, Direction
from .opt_out import OPTED_OUT

UNREACHABLE_CAUSES = frozenset({"not_found"})
"""Telnyx's hangup_cause for a number the network could not reach."""

DIAL_REFUSED = re.compile(r"dial failed: Telnyx answered \d{3}: (?P<title>.+?)(?: \(.*\))?(?: \[code [^\]]*\])?")
"""A dial Telnyx refused, as the timeline records it (TelnyxError.describe): its title is the reason."""

CANCELLED_BY = "cancelled by "
"""How the timeline starts the entry of a call someone cancelled, before their name."""

DIAL_UNREACHED = "dial failed: Telnyx could not be reached"

MISSED_BECAUSE = (
    ("calling hours", "outside calling hours"),
    ("before the service was back", "the service was down"),
    ("before the database could be written", "the service could not save it in time"),
    ("calls in 24 hours was reached", "the day's calls were used up"),
    ("interrupted by a stop", "the service stopped while dialing it"),
)
"""Words in a ``missed`` timeline entry, and the reason they stand for; the first found wins."""


def outcome_in_words(call: Call, *, ring_timeout_s: int) -> str | None:
    """Why ``call`` ended as it did; None while it is not over, and for a completed call with nothing to add.

    :param ring_timeout_s: how long a call rang before it counted as unanswered (telnyx.ring_timeout_s).
    """
    status = call.status
    if status is CallStatus.COMPLETED:
        return "completed; opted out" if _opted_out(call) else None
    if status is CallStatus.BUSY:
        return "busy"
    if status is CallStatus.NO_ANSWER:
        return _unanswered(call, ring_timeout_s)
    if status is CallStatus.FAILED:
        return _failed(call)
    if status is CallStatus.MISSED:
        return _missed(call)
    if status is CallStatus.CANCELLED:
        return _cancelled(call)
    return None


def _opted_out(call: Call) -> bool:
    return any(entry.detail.startswith(OPTED_OUT) for entry in call.events)


def _unanswered(call: Call, ring_timeout_s: int) -> str:
    if call.direction is Direction.INBOUND:
        return "the caller hung up before it was answered"
    return f"no answer after {ring_timeout_s} s"


def _failed(call: Call) -> str:
    if call.hangup_cause in UNREACHABLE_CAUSES:
        return "number not reachable"
    detail = _final_detail(call)
    if refused := DIAL_REFUSED.fullmatch(detail):
        return f"refused by Telnyx: {refused['title']}"
    if detail.startswith(DIAL_UNREACHED):
        return "Telnyx could not be reached"
    return detail or "failed"


def _missed(call: Call) -> str:
    detail = _final_detail(call)
    for words, reason in MISSED_BECAUSE:
        if words in detail:
            return reason
    return detail.removeprefix("missed: ") or "missed"


def _cancelled(call: Call) -> str:
    detail = _final_detail(call)
    if "do-not-call" in detail:
        return "the number asked never to be called"
    return detail if detail.startswith(CANCELLED_BY) else "cancelled"


def _final_detail(call: Call) -> str:
    """The timeline entry that ended the call: the last one reaching its final status."""
    for entry in reversed(call.events):
        if entry.status is call.status:
            return entry.detail
    return ""
