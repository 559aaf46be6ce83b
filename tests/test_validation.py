"""What a booking must look like, for the JSON API and for the form."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dialajoke.calls.validation import (
    BookingRules,
    CallRequest,
    InvalidRequest,
    parse_form,
    parse_json_request,
    server_timezone,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
RULES = BookingRules(now=NOW, default_region="US", default_timezone="UTC", max_days_ahead=30)
VALID_NUMBER = "+12025550142"


def api_errors(document: Any, rules: BookingRules = RULES) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_request(document, rules)
    return caught.value.errors


def form_errors(form: dict[str, str], rules: BookingRules = RULES) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        parse_form(form, rules)
    return caught.value.errors


def booking(**changes: Any) -> dict[str, Any]:
    return {"to": VALID_NUMBER, "at": "2027-03-02T09:30:00+00:00", **changes}


def form(**changes: str) -> dict[str, str]:
    return {"to": VALID_NUMBER, "date": "2027-03-02", "time": "09:30", "timezone": "Europe/Dublin", **changes}


# The phone number


def test_an_e164_number_is_stored_in_e164() -> None:
    request = parse_json_request(booking(to="+44 20 7946 0958"), RULES)

    assert request.to == "+442079460958"


def test_a_national_number_is_read_in_the_default_region() -> None:
    request = parse_json_request(booking(to="(202) 555-0142"), RULES)

    assert request.to == "+12025550142"


def test_the_default_region_decides_what_a_national_number_means() -> None:
    irish = BookingRules(now=NOW, default_region="IE")

    request = parse_json_request(booking(to="01 234 5678"), irish)

    assert request.to == "+35312345678"


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("call me maybe", "not a phone number"),
        ("+1 202 555 01", "wrong length"),
        ("+1 202 555 01423", "wrong length"),
        ("+1 011 555 0142", "no phone can have this number"),
        ("", "enter the phone number"),
    ],
)
def test_a_number_that_cannot_be_called_is_refused_on_to(number: str, says: str) -> None:
    errors = api_errors(booking(to=number))

    assert list(errors) == ["to"]
    assert says in errors["to"]


@pytest.mark.parametrize(
    ("number", "character"),
    [
        ("\u0000+12125559876", "U+0000"),
        ("+1 202\u200b555 0142", "U+200B"),
        ("+1202555014\n2", "U+000A"),
        ("+1 202 555 0142\u2028", "U+2028"),
    ],
)
def test_a_number_with_an_invisible_character_is_refused_and_the_character_named(number: str, character: str) -> None:
    errors = api_errors(booking(to=number))

    assert list(errors) == ["to"]
    assert character in errors["to"]


@pytest.mark.parametrize("number", ["+1 212 555 9876 ext. 5", "+12125559876;ext=5", "+1 212 555 9876 x5"])
def test_a_number_with_an_extension_is_refused_rather_than_dialed_without_it(number: str) -> None:
    errors = api_errors(booking(to=number))

    assert list(errors) == ["to"]
    assert "extensions cannot be dialed" in errors["to"]
    assert "(5)" in errors["to"]


@pytest.mark.parametrize(
    ("number", "stored"),
    [("1-800-FLOWERS", "+18003569377"), ("+1 \uff12\uff10\uff12 555 0142", "+12025550142")],
)
def test_vanity_letters_and_other_digits_are_read_as_the_number_they_spell(number: str, stored: str) -> None:
    """Accepted, because the normalised number is what the page and the API show back."""
    assert parse_json_request(booking(to=number), RULES).to == stored


def test_a_missing_number_is_refused_on_to() -> None:
    errors = api_errors({"at": "2027-03-02T09:30:00Z"})

    assert list(errors) == ["to"]


def test_the_form_refuses_a_bad_number_on_to() -> None:
    errors = form_errors(form(to="12"))

    assert list(errors) == ["to"]
    assert "wrong length" in errors["to"]


# The time, through the API


def test_an_iso_time_with_an_offset_becomes_a_utc_instant() -> None:
    request = parse_json_request(booking(at="2027-03-02T10:30:00+01:00", timezone="Europe/Dublin"), RULES)

    assert request == CallRequest(VALID_NUMBER, datetime(2027, 3, 2, 9, 30, tzinfo=UTC), "Europe/Dublin")
    assert request.at.utcoffset() == timedelta(0)


def test_an_iso_time_in_z_is_accepted() -> None:
    request = parse_json_request(booking(at="2027-03-02T09:30:00Z"), RULES)

    assert request.at == datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


def test_the_default_timezone_is_used_when_none_is_given() -> None:
    rules = BookingRules(now=NOW, default_timezone="America/Chicago")

    request = parse_json_request(booking(), rules)

    assert request.timezone == "America/Chicago"


def test_an_iso_time_without_an_offset_is_refused_as_ambiguous() -> None:
    errors = api_errors(booking(at="2027-03-02T09:30:00"))

    assert list(errors) == ["at"]
    assert "no offset" in errors["at"]


@pytest.mark.parametrize("at", ["tomorrow at nine", "", None, 1_800_000_000])
def test_a_time_that_is_not_iso_8601_is_refused_on_at(at: object) -> None:
    errors = api_errors(booking(at=at))

    assert list(errors) == ["at"]
    assert "ISO 8601" in errors["at"]


@pytest.mark.parametrize("at", [NOW - timedelta(seconds=1), NOW, NOW - timedelta(days=365)])
def test_a_time_in_the_past_or_exactly_now_is_refused(at: datetime) -> None:
    errors = api_errors(booking(at=at.isoformat()))

    assert list(errors) == ["at"]
    assert "passed" in errors["at"]


def test_a_time_just_after_now_is_accepted() -> None:
    request = parse_json_request(booking(at=(NOW + timedelta(seconds=1)).isoformat()), RULES)

    assert request.at == NOW + timedelta(seconds=1)


def test_a_time_exactly_max_days_ahead_is_accepted() -> None:
    request = parse_json_request(booking(at=(NOW + timedelta(days=30)).isoformat()), RULES)

    assert request.at == NOW + timedelta(days=30)


def test_a_time_more_than_max_days_ahead_is_refused() -> None:
    errors = api_errors(booking(at=(NOW + timedelta(days=30, seconds=1)).isoformat()))

    assert list(errors) == ["at"]
    assert "30 days ahead" in errors["at"]


def test_max_days_ahead_comes_from_the_rules() -> None:
    rules = BookingRules(now=NOW, max_days_ahead=2)

    errors = api_errors(booking(at=(NOW + timedelta(days=3)).isoformat()), rules)

    assert "2 days ahead" in errors["at"]


# Time zones


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Dublin ", "../etc/passwd", 42])
def test_a_bad_iana_zone_is_refused_on_timezone(zone: object) -> None:
    errors = api_errors(booking(timezone=zone))

    assert list(errors) == ["timezone"]
    assert "time zone" in errors["timezone"]


@pytest.mark.parametrize("zone", ["Europe", "America"])
def test_a_zone_region_that_is_not_a_zone_is_refused_on_timezone(zone: str) -> None:
    errors = api_errors(booking(timezone=zone))

    assert list(errors) == ["timezone"]


def test_a_huge_zone_is_refused_without_repeating_it() -> None:
    errors = api_errors(booking(timezone="Europe/" + "x" * 60_000))

    assert list(errors) == ["timezone"]
    assert "'Europe/xxx" in errors["timezone"]
    assert "is not a time zone" in errors["timezone"]
    assert len(errors["timezone"]) < 300


def test_the_form_refuses_a_bad_zone_on_timezone() -> None:
    errors = form_errors(form(timezone="Atlantis/Capital"))

    assert list(errors) == ["timezone"]
    assert "Atlantis/Capital" in errors["timezone"]


def test_server_timezone_is_a_zone_name_zoneinfo_knows() -> None:
    name = server_timezone()

    assert zoneinfo.ZoneInfo(name).key == name


def test_server_timezone_reads_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":America/Chicago")

    assert server_timezone() == "America/Chicago"


def test_server_timezone_ignores_a_tz_that_is_not_a_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Nowhere/Special")

    name = server_timezone()

    assert name != "Nowhere/Special"
    assert zoneinfo.ZoneInfo(name).key == name


# Several problems at once, and bodies that are not objects


def test_every_bad_api_field_is_reported_at_once() -> None:
    errors = api_errors({"to": "hello", "at": "yesterday", "timezone": "Mars/Olympus_Mons"})

    assert set(errors) == {"to", "at", "timezone"}
    assert all(message for message in errors.values())


def test_a_field_the_api_does_not_know_is_refused_by_name() -> None:
    errors = api_errors(booking(timezone="Europe/Dublin", tz="Europe/Dublin"))

    assert list(errors) == ["tz"]
    assert "unknown field 'tz'" in errors["tz"]
    assert "remove it" in errors["tz"]


def test_thousands_of_unknown_fields_are_named_ten_at_most_and_the_rest_counted() -> None:
    errors = api_errors(booking(**{f"extra{number}": 1 for number in range(5000)}))

    assert list(errors) == [*(f"extra{number}" for number in range(10)), ""]
    assert "and 4,990 more unknown fields: remove them" in errors[""]


def test_an_unknown_field_named_nothing_keeps_its_message_beside_the_count_of_the_others() -> None:
    errors = api_errors(booking(**{"": 1}, **{f"extra{number}": 1 for number in range(12)}))

    assert "unknown field ''" in errors[""]
    assert "and 3 more unknown fields" in errors[""]


def test_a_huge_unknown_field_name_is_shortened_where_it_names_the_field() -> None:
    name = "x" * 60_000

    [(field, message)] = api_errors(booking(**{name: 1})).items()

    assert field == "x" * 64 + "\N{HORIZONTAL ELLIPSIS}"
    assert "unknown field" in message
    assert len(message) < 300


@pytest.mark.parametrize(
    ("field", "value", "sent"),
    [("to", 12025550142, "a number"), ("at", None, "null"), ("timezone", ["UTC"], "an array"), ("to", True, "boolean")],
)
def test_a_field_of_the_wrong_json_type_is_refused_not_coerced(field: str, value: object, sent: str) -> None:
    errors = api_errors(booking(**{field: value}))

    assert list(errors) == [field]
    assert "a string in quotes" in errors[field]
    assert sent in errors[field]


def test_a_field_of_the_wrong_type_does_not_hide_what_is_wrong_with_the_others() -> None:
    errors = api_errors({"to": 12025550142, "at": "2027-02-01T09:30:00Z", "timezone": "Mars/Olympus_Mons"})

    assert list(errors) == ["to", "timezone", "at"]
    assert "passed" in errors["at"]


def test_every_bad_form_field_is_reported_at_once() -> None:
    errors = form_errors({"to": "", "date": "31/01/2027", "time": "9.30pm", "timezone": "Mars/Olympus_Mons"})

    assert set(errors) == {"to", "date", "time", "timezone"}


def test_the_invalid_request_message_names_each_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_request({"to": "hello", "at": "yesterday"}, RULES)

    assert "to:" in str(caught.value)
    assert "at:" in str(caught.value)


@pytest.mark.parametrize("document", [[], ["+12025550142"], "+12025550142", None, 42])
def test_a_json_body_that_is_not_an_object_is_refused(document: object) -> None:
    errors = api_errors(document)

    assert len(errors) == 1
    assert "JSON object" in next(iter(errors.values()))


# The form: a wall-clock date and time in a zone


def test_the_form_time_in_dublin_in_summer_is_an_hour_ahead_of_utc() -> None:
    rules = BookingRules(now=datetime(2027, 7, 1, tzinfo=UTC))

    request = parse_form(form(date="2027-07-10", time="09:30", timezone="Europe/Dublin"), rules)

    assert request == CallRequest(VALID_NUMBER, datetime(2027, 7, 10, 8, 30, tzinfo=UTC), "Europe/Dublin")


def test_the_form_time_in_dublin_in_winter_is_utc() -> None:
    request = parse_form(form(date="2027-03-02", time="09:30", timezone="Europe/Dublin"), RULES)

    assert request.at == datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "now", "utc_hour"),
    [("2027-01-15", datetime(2027, 1, 1, tzinfo=UTC), 14), ("2027-07-15", datetime(2027, 7, 1, tzinfo=UTC), 13)],
)
def test_the_form_time_in_new_york_follows_its_offset(day: str, now: datetime, utc_hour: int) -> None:
    request = parse_form(form(date=day, time="09:30", timezone="America/New_York"), BookingRules(now=now))

    assert request.at == datetime.fromisoformat(day).replace(hour=utc_hour, minute=30, tzinfo=UTC)
    assert request.at.tzinfo == UTC
    assert request.timezone == "America/New_York"


def test_the_form_uses_the_default_timezone_when_the_browser_sends_none() -> None:
    rules = BookingRules(now=NOW, default_timezone="America/New_York")

    request = parse_form(form(date="2027-03-02", time="09:30", timezone=""), rules)

    assert request.at == datetime(2027, 3, 2, 14, 30, tzinfo=UTC)
    assert request.timezone == "America/New_York"


def test_a_local_time_skipped_when_the_clocks_go_forward_is_refused() -> None:
    errors = form_errors(form(date="2027-03-28", time="01:30", timezone="Europe/Dublin"))

    assert list(errors) == ["time"]
    assert "does not exist" in errors["time"]


def test_a_local_time_repeated_when_the_clocks_go_back_means_its_first_occurrence() -> None:
    rules = BookingRules(now=datetime(2027, 10, 15, tzinfo=UTC))

    request = parse_form(form(date="2027-10-31", time="01:30", timezone="Europe/Dublin"), rules)

    # 01:30 happens first in Irish Summer Time (UTC+1), then again in GMT.
    assert request.at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_a_form_time_in_the_past_is_refused_on_time() -> None:
    errors = form_errors(form(date="2027-03-01", time="11:59", timezone="UTC"))

    assert list(errors) == ["time"]
    assert "passed" in errors["time"]


def test_a_form_time_exactly_now_is_refused_on_time() -> None:
    errors = form_errors(form(date="2027-03-01", time="12:00", timezone="UTC"))

    assert list(errors) == ["time"]


def test_a_form_time_too_far_ahead_is_refused_on_time() -> None:
    errors = form_errors(form(date="2027-04-01", time="09:00", timezone="UTC"))

    assert list(errors) == ["time"]
    assert "30 days ahead" in errors["time"]


@pytest.mark.parametrize("day", ["", "2027-02-30", "next tuesday"])
def test_a_form_date_that_is_not_a_date_is_refused_on_date(day: str) -> None:
    errors = form_errors(form(date=day))

    assert list(errors) == ["date"]
    assert "YYYY-MM-DD" in errors["date"]


@pytest.mark.parametrize("clock_time", ["", "25:00", "half nine"])
def test_a_form_time_that_is_not_a_time_is_refused_on_time(clock_time: str) -> None:
    errors = form_errors(form(time=clock_time))

    assert list(errors) == ["time"]
    assert "HH:MM" in errors["time"]


def test_a_form_time_with_its_own_zone_is_refused() -> None:
    errors = form_errors(form(time="09:30+05:00"))

    assert list(errors) == ["time"]
    assert "without a zone" in errors["time"]


@pytest.mark.parametrize("number", ["+1 900 234 5678", "+44 871 234 5678"])
def test_premium_rate_numbers_are_refused(number: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_json_request({"to": number, "at": "2027-03-02T09:00:00Z"}, BookingRules(now=NOW))

    assert "premium-rate" in raised.value.errors["to"]
