"""A finished call's reason in words, read from its status, hangup_cause and timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialajoke.calls.outcomes import outcome_in_words
from dialajoke.models import Call, CallStatus, Direction, TimelineEntry

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def ended(
    status: CallStatus,
    *details: str,
    hangup_cause: str | None = None,
    direction: Direction = Direction.OUTBOUND,
) -> Call:
    """A call that went scheduled -> dialing -> ``status``, the last entries carrying ``details``."""
    events = [TimelineEntry(AT, CallStatus.SCHEDULED, "booked"), TimelineEntry(AT, CallStatus.DIALING, "dialing")]
    events += [TimelineEntry(AT, status, detail) for detail in details]
    return Call(
        id=1,
        ref="ref",
        direction=direction,
        to="+12025550142",
        from_="+12025550100",
        at=AT,
        timezone="UTC",
        status=status,
        hangup_cause=hangup_cause,
        events=tuple(events),
    )


def words(call: Call) -> str | None:
    return outcome_in_words(call, ring_timeout_s=30)


def test_a_busy_line() -> None:
    assert words(ended(CallStatus.BUSY, "call.hangup: user_busy", hangup_cause="user_busy")) == "busy"


def test_no_answer_says_how_long_it_rang() -> None:
    call = ended(CallStatus.NO_ANSWER, "call.hangup: timeout", hangup_cause="timeout")

    assert outcome_in_words(call, ring_timeout_s=45) == "no answer after 45 s"


def test_a_caller_who_hung_up_before_the_answer() -> None:
    call = ended(CallStatus.NO_ANSWER, "the caller hung up before we answered", direction=Direction.INBOUND)

    assert words(call) == "the caller hung up before it was answered"


def test_a_number_the_network_cannot_reach() -> None:
    call = ended(CallStatus.FAILED, "call.hangup: not_found", hangup_cause="not_found")

    assert words(call) == "number not reachable"


@pytest.mark.parametrize(
    "detail",
    [
        "dial failed: Telnyx answered 422: Invalid phone number (+12025550105 cannot be called) [code 10002]",
        "dial failed: Telnyx answered 422: Invalid phone number [code 10002]",
        "dial failed: Telnyx answered 422: Invalid phone number",
    ],
)
def test_a_dial_refused_by_telnyx_gives_telnyxs_title(detail: str) -> None:
    assert words(ended(CallStatus.FAILED, detail)) == "refused by Telnyx: Invalid phone number"


def test_a_dial_that_never_reached_telnyx() -> None:
    call = ended(CallStatus.FAILED, "dial failed: Telnyx could not be reached: timed out")

    assert words(call) == "Telnyx could not be reached"


def test_another_failure_is_told_as_the_timeline_tells_it() -> None:
    assert words(ended(CallStatus.FAILED, "no events for 120 s")) == "no events for 120 s"


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        (
            "missed: not dialed: by the time a line was free it was Tue 22:00 in America/New_York, outside the"
            " calling hours (08:00-21:00 on the callee's clock, protection.calling_hours)",
            "outside calling hours",
        ),
        ("missed: due 600 s before the service was back (misfire_grace_s=60)", "the service was down"),
        (
            "missed: the service's limit of 100 calls in 24 hours was reached (protection.max_calls_per_day)",
            "the day's calls were used up",
        ),
        ("missed: due 90 s before the database could be written again", "the service could not save it in time"),
        (
            "missed: not dialed: premium-rate and shared-cost numbers bill the caller: they are never called",
            "not dialed: premium-rate and shared-cost numbers bill the caller: they are never called",
        ),
    ],
)
def test_a_missed_call_says_why_it_was_not_dialed(detail: str, reason: str) -> None:
    assert words(ended(CallStatus.MISSED, detail)) == reason


@pytest.mark.parametrize(
    ("detail", "reason"), [("cancelled by alice", "cancelled by alice"), ("cancelled", "cancelled")]
)
def test_a_cancelled_call_says_who_cancelled_it_when_known(detail: str, reason: str) -> None:
    assert words(ended(CallStatus.CANCELLED, detail)) == reason


@pytest.mark.parametrize(
    "detail",
    [
        "cancelled: the number asked never to be called (do-not-call list)",
        "cancelled: +12025550142 is on the do-not-call list (added by admin)",
    ],
)
def test_a_call_cancelled_by_the_do_not_call_list(detail: str) -> None:
    assert words(ended(CallStatus.CANCELLED, detail)) == "the number asked never to be called"


def test_a_completed_call_has_a_reason_only_when_the_callee_opted_out() -> None:
    plain = ended(CallStatus.COMPLETED, "call.hangup: normal_clearing", hangup_cause="normal_clearing")
    opted = ended(
        CallStatus.COMPLETED,
        "opted out: the callee pressed 9; the number is on the do-not-call list",
        "call.hangup: normal_clearing",
        hangup_cause="normal_clearing",
    )

    assert words(plain) is None
    assert words(opted) == "completed; opted out"


@pytest.mark.parametrize("status", [CallStatus.SCHEDULED, CallStatus.DIALING, CallStatus.SPEAKING])
def test_a_call_not_over_has_no_reason(status: CallStatus) -> None:
    assert words(ended(status)) is None
