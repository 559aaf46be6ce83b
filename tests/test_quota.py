"""busiest_window: a limit per day must hold in any 24 hours around a new call."""

from __future__ import annotations

import pytest

from dialajoke.store.quota import busiest_window

DAY = 24.0


def test_no_other_calls_is_an_empty_window() -> None:
    assert busiest_window([], at=100.0, span_s=DAY) == 0


def test_calls_before_and_after_that_fit_one_window_count_together() -> None:
    assert busiest_window([90.0, 110.0], at=100.0, span_s=DAY) == 2


def test_calls_before_and_after_too_far_apart_for_one_window_are_counted_apart() -> None:
    assert busiest_window([80.0, 120.0], at=100.0, span_s=DAY) == 1


@pytest.mark.parametrize(("other", "counted"), [(100.0 - DAY, 0), (100.0 + DAY, 0), (100.0 - DAY + 0.5, 1)])
def test_a_call_a_whole_span_away_shares_no_window(other: float, counted: int) -> None:
    assert busiest_window([other], at=100.0, span_s=DAY) == counted


def test_the_busiest_of_several_windows_is_the_one_counted() -> None:
    before = [80.0, 81.0, 82.0]
    after = [101.0, 110.0, 115.0, 120.0]

    assert busiest_window(before + after, at=100.0, span_s=DAY) == 4
    assert busiest_window([*before, 101.0], at=100.0, span_s=DAY) == 4


def test_calls_at_the_same_time_each_count() -> None:
    assert busiest_window([100.0, 100.0, 100.0], at=100.0, span_s=DAY) == 3


def test_times_come_in_any_order() -> None:
    assert busiest_window([120.0, 90.0, 60.0, 105.0, 95.0], at=100.0, span_s=DAY) == 3
