"""Which numbers may be rung: the countries served, the kinds of number, and those never rung."""

from __future__ import annotations

import pytest

from dialajoke.calls.destinations import Destinations, home_region
from dialajoke.config import ProtectionConfig

SIMULATOR_NUMBER = "+12025550100"
MANHATTAN = "+12125550100"
LONDON_LANDLINE = "+442079460958"
UK_MOBILE = "+447400123456"
US_TOLL_FREE = "+18005550199"
DEFAULTS = Destinations.from_settings(ProtectionConfig(), SIMULATOR_NUMBER)


def test_by_default_only_the_country_of_the_caller_id_is_called() -> None:
    assert DEFAULTS.allowed_countries == frozenset({"US"})
    assert DEFAULTS.refusal(MANHATTAN) is None
    assert DEFAULTS.refusal(LONDON_LANDLINE) == (
        "calls to +44 numbers in United Kingdom (GB) are not allowed here: this service calls numbers in US"
        " (setting protection.allowed_countries)"
    )


def test_an_irish_caller_id_serves_ireland() -> None:
    irish = Destinations.from_settings(ProtectionConfig(), "+35312345678")
    assert irish.refusal("+35312345678") is None
    message = irish.refusal(MANHATTAN)
    assert message is not None
    assert "United States (US)" in message
    assert "calls numbers in IE" in message


def test_a_country_sharing_a_calling_code_is_not_allowed_with_its_neighbour() -> None:
    message = DEFAULTS.refusal("+14165550100")
    assert message is not None
    assert "+1 numbers in Canada (CA)" in message


def test_listed_countries_are_called_and_a_star_calls_every_country() -> None:
    listed = Destinations.from_settings(ProtectionConfig(allowed_countries=("GB", "US")), SIMULATOR_NUMBER)
    assert listed.refusal(UK_MOBILE) is None
    assert listed.refusal(MANHATTAN) is None
    message = listed.refusal("+35312345678")
    assert message is not None
    assert "this service calls numbers in GB and US" in message
    everywhere = Destinations.from_settings(ProtectionConfig(allowed_countries=("*",)), SIMULATOR_NUMBER)
    assert everywhere.allowed_countries is None
    assert everywhere.refusal("+35312345678") is None


def test_a_number_type_not_allowed_is_named_in_words() -> None:
    assert DEFAULTS.refusal(US_TOLL_FREE) == (
        "this is a toll-free number, and this service calls only a landline, a mobile number and a number that"
        " may be a landline or a mobile (setting protection.allowed_number_types)"
    )
    mobiles_only = Destinations(frozenset({"GB"}), frozenset({"mobile"}))
    assert mobiles_only.refusal(UK_MOBILE) is None
    message = mobiles_only.refusal(LONDON_LANDLINE)
    assert message is not None
    assert message.startswith("this is a landline, and this service calls only a mobile number")


def test_a_type_allowed_by_the_settings_is_called() -> None:
    toll_free_too = Destinations(frozenset({"US"}), frozenset({"fixed_line_or_mobile", "toll_free"}))
    assert toll_free_too.refusal(US_TOLL_FREE) is None


@pytest.mark.parametrize("number", ["+870301234567", "+881612345678", "+8823421234", "+883510012345"])
def test_satellite_and_international_networks_are_never_called(number: str) -> None:
    everything = Destinations(None, frozenset({"mobile", "fixed_line", "fixed_line_or_mobile", "voip", "uan"}))
    message = everything.refusal(number)
    assert message is not None
    assert f"+{number[1:4]} numbers belong to satellite or international networks" in message


@pytest.mark.parametrize("number", ["+19002345678", "+449012345678", "+33884012345"])
def test_premium_rate_and_shared_cost_numbers_are_never_called(number: str) -> None:
    everything = Destinations(None, frozenset({"mobile", "fixed_line", "fixed_line_or_mobile", "uan"}))
    assert everything.refusal(number) == ("premium-rate and shared-cost numbers bill the caller: they are never called")


def test_a_number_of_no_known_kind_is_never_called() -> None:
    everything = Destinations(None, frozenset({"mobile", "fixed_line", "fixed_line_or_mobile"}))
    message = everything.refusal("+15555550100")
    assert message is not None
    assert message.startswith("no phone can have this number")


def test_the_home_region_is_the_caller_ids_country() -> None:
    assert home_region(SIMULATOR_NUMBER) == "US"
    assert home_region(LONDON_LANDLINE) == "GB"
    with pytest.raises(ValueError, match=r"protection\.allowed_countries"):
        home_region("+870301234567")
