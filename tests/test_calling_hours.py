"""Calling hours on the callee's clock: every zone the number may be in, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dialajoke.calls.calling_hours import CallingHours, zones_of

NEW_YORK = ZoneInfo("America/New_York")
MANHATTAN = "+12125550100"
UK_MOBILE = "+447400123456"
LONDON_LANDLINE = "+442079460958"
US_TOLL_FREE = "+18005550199"
AUSTRALIAN_MOBILE = "+61412345678"
RUSSIAN_MOBILE = "+79161234567"
DAYTIME = CallingHours.parse("09:00-20:00")


def new_york(*parts: int) -> datetime:
    year, month, day, hour, minute = parts
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def test_a_new_york_number_is_refused_at_half_past_eight_in_the_evening_and_rung_at_ten() -> None:
    assert zones_of(MANHATTAN) == ("America/New_York",)
    assert not DAYTIME.is_allowed(zones_of(MANHATTAN), new_york(2026, 11, 24, 20, 30))
    assert DAYTIME.is_allowed(zones_of(MANHATTAN), new_york(2026, 11, 24, 10, 0))


def test_the_window_includes_its_start_and_excludes_its_end() -> None:
    zones = zones_of(MANHATTAN)
    assert DAYTIME.is_allowed(zones, new_york(2026, 11, 24, 9, 0))
    assert not DAYTIME.is_allowed(zones, new_york(2026, 11, 24, 8, 59))
    assert DAYTIME.is_allowed(zones, new_york(2026, 11, 24, 19, 59))
    assert not DAYTIME.is_allowed(zones, new_york(2026, 11, 24, 20, 0))


def test_a_window_may_end_at_midnight() -> None:
    evening = CallingHours.parse("18:00-24:00")
    assert evening.is_allowed(zones_of(MANHATTAN), new_york(2026, 11, 24, 23, 59))
    assert not evening.is_allowed(zones_of(MANHATTAN), new_york(2026, 11, 25, 0, 0))
    assert str(evening) == "18:00-24:00"


@pytest.mark.parametrize("text", ["9-20", "09:00", "20:00-09:00", "09:00-09:00", "09:00-24:01", "25:00-26:00", ""])
def test_a_window_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"09:00|start before they end"):
        CallingHours.parse(text)


def test_a_number_with_several_zones_rings_only_when_every_zone_is_inside() -> None:
    zones = zones_of(AUSTRALIAN_MOBILE)
    assert {"Australia/Perth", "Australia/Sydney"} <= set(zones)
    # 09:30 in Sydney is 06:30 in Perth: one zone inside is not enough.
    sydney_morning = datetime(2026, 6, 10, 9, 30, tzinfo=ZoneInfo("Australia/Sydney"))
    assert not DAYTIME.is_allowed(zones, sydney_morning)
    perth_noon = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo("Australia/Perth"))
    assert DAYTIME.is_allowed(zones, perth_noon)


def test_a_us_toll_free_number_may_ring_only_in_the_half_hour_when_guam_and_newfoundland_are_both_inside() -> None:
    zones = zones_of(US_TOLL_FREE)
    assert {"Pacific/Guam", "America/St_Johns", "Pacific/Pago_Pago"} <= set(zones)
    noon_in_new_york = new_york(2026, 11, 24, 12, 0)
    assert not DAYTIME.is_allowed(zones, noon_in_new_york)
    # Guam (UTC+10) opens at 23:00 UTC; St John's (UTC-3:30) closes at 23:30 UTC.
    assert DAYTIME.next_allowed(zones, noon_in_new_york) == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert not DAYTIME.is_allowed(zones, datetime(2026, 11, 24, 23, 30, tzinfo=UTC))


def test_the_next_allowed_time_after_the_evening_is_the_next_morning() -> None:
    following = DAYTIME.next_allowed(zones_of(MANHATTAN), new_york(2026, 11, 24, 20, 30))
    assert following == new_york(2026, 11, 25, 9, 0)


def test_the_next_allowed_time_before_the_morning_is_the_same_morning() -> None:
    following = DAYTIME.next_allowed(zones_of(MANHATTAN), new_york(2026, 11, 24, 4, 0))
    assert following == new_york(2026, 11, 24, 9, 0)


def test_an_allowed_moment_is_its_own_next_allowed_time() -> None:
    moment = new_york(2026, 11, 24, 12, 34)
    assert DAYTIME.next_allowed(zones_of(MANHATTAN), moment) == moment


def test_the_next_morning_after_the_clocks_go_forward_is_an_hour_earlier_in_utc() -> None:
    saturday_evening = new_york(2026, 3, 7, 21, 0)
    following = DAYTIME.next_allowed(zones_of(MANHATTAN), saturday_evening)
    assert following == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert following == new_york(2026, 3, 8, 9, 0)


def test_the_next_morning_after_the_clocks_go_back_is_an_hour_later_in_utc() -> None:
    following = DAYTIME.next_allowed(zones_of(MANHATTAN), new_york(2026, 10, 31, 21, 0))
    assert following == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_a_window_opening_in_the_hour_the_clocks_skip_opens_when_they_go_forward() -> None:
    small_hours = CallingHours.parse("02:30-20:00")
    # On 8 March 2026 New York goes from 02:00 EST straight to 03:00 EDT (07:00 UTC).
    following = small_hours.next_allowed(zones_of(MANHATTAN), new_york(2026, 3, 8, 1, 0))
    assert following == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_zones_too_far_apart_have_no_common_window() -> None:
    zones = zones_of(RUSSIAN_MOBILE)
    assert len(zones) > 10
    office_hours = CallingHours.parse("09:00-18:00")
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert office_hours.next_allowed(zones, moment) is None
    message = office_hours.refusal(RUSSIAN_MOBILE, moment, "Europe/Dublin")
    assert message is not None
    assert f"may be in {len(zones)} zones" in message
    assert "it cannot be called" in message


def test_the_refusal_tells_the_callees_time_and_the_next_allowed_time_on_both_clocks() -> None:
    two_past_two_in_london = datetime(2026, 11, 26, 2, 5, tzinfo=UTC)
    message = DAYTIME.refusal(LONDON_LANDLINE, two_past_two_in_london, "America/Chicago")
    assert message == (
        "calls may ring only 09:00-20:00 on the callee's clock: at that time it is 02:05 on Thu 26 Nov in"
        " Europe/London (the number's zone); the next allowed time is 09:00 on Thu 26 Nov there"
        " (03:00 Thu 26 Nov, America/Chicago, your time)"
    )


def test_the_refusal_for_a_number_with_several_zones_names_the_countrys_own() -> None:
    zones = zones_of(UK_MOBILE)
    assert "Europe/Jersey" in zones
    message = DAYTIME.refusal(UK_MOBILE, datetime(2026, 11, 26, 2, 5, tzinfo=UTC), "Europe/London")
    assert message is not None
    assert f"02:05 on Thu 26 Nov in Europe/London (one of the number's {len(zones)} zones)" in message


def test_an_allowed_moment_has_no_refusal() -> None:
    assert DAYTIME.refusal(MANHATTAN, new_york(2026, 11, 24, 10, 0), "UTC") is None


def test_a_number_whose_zone_cannot_be_told_is_not_called() -> None:
    satellite = "+870301234567"
    assert zones_of(satellite) == ()
    assert not DAYTIME.is_allowed((), new_york(2026, 11, 24, 12, 0))
    message = DAYTIME.refusal(satellite, new_york(2026, 11, 24, 12, 0), "UTC")
    assert message is not None
    assert "cannot be told" in message
