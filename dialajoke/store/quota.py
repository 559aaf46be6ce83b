"""How full the busiest day around a new call is: the rule behind ``calls_per_number_per_day``.

A limit of N calls to a number "per day" must hold for any 24 hours, not only for calendar
days or the 24 hours before the new call: three calls at 23:00 and three more at 01:00 would
otherwise ring one person six times in two hours. Pure, so that every backend shares it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable


def busiest_window(due_times: Iterable[float], at: float, span_s: float) -> int:
    """The most of ``due_times`` that fall in one window of ``span_s`` seconds holding ``at`` too.

    A window is half-open, ``[start, start + span_s)``: two calls exactly ``span_s`` apart
    never share one. Times ``span_s`` or more away from ``at`` can share no window with it
    and count for nothing, so a caller may hand over a wider range than it needs to.
    """
    times = sorted(t for t in due_times if abs(t - at) < span_s)
    # The busiest window may as well start at the earliest call in it (or at ``at`` itself):
    # trying each of those starts finds it.
    starts = [t for t in times if t <= at] + [at]
    return max(bisect.bisect_left(times, start + span_s) - bisect.bisect_left(times, start) for start in starts)
