"""Destinations: which numbers the service may ring at all, whoever books the call.

Pure functions: no aiohttp, no store. A booking names any number; the service rings only
numbers in the countries it serves and of the kinds a person answers. Some numbers are
never rung whatever the settings say: satellite and international networks (+870, +881,
+882, +883), whose calls cost dearly and reach no one place; premium-rate and shared-cost
numbers, which bill the caller; and numbers of no known kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

from ..config import ProtectionConfig

NumberType = phonenumbers.PhoneNumberType
INTERNATIONAL_NETWORKS = "001"
"""phonenumbers' region for numbers of no country: satellite phones, international networks."""
EVERY_COUNTRY = "*"

TYPE_NAMES = {
    NumberType.FIXED_LINE: "fixed_line",
    NumberType.MOBILE: "mobile",
    NumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    NumberType.TOLL_FREE: "toll_free",
    NumberType.PREMIUM_RATE: "premium_rate",
    NumberType.SHARED_COST: "shared_cost",
    NumberType.VOIP: "voip",
    NumberType.PERSONAL_NUMBER: "personal_number",
    NumberType.PAGER: "pager",
    NumberType.UAN: "uan",
    NumberType.VOICEMAIL: "voicemail",
    NumberType.UNKNOWN: "unknown",
}
"""phonenumbers' number types by the names the settings use (the member names, lower-cased)."""

TYPE_WORDS = {
    "fixed_line": "a landline",
    "mobile": "a mobile number",
    "fixed_line_or_mobile": "a number that may be a landline or a mobile",
    "toll_free": "a toll-free number",
    "voip": "an internet (VoIP) number",
    "personal_number": "a personal (follow-me) number",
    "pager": "a pager",
    "uan": "a company's universal access number",
    "voicemail": "a voicemail access number",
}
"""Each type a setting may allow, as a person would say it."""


@dataclass(frozen=True)
class Destinations:
    """
    :param allowed_countries: region codes such as ``US``; None allows every country.
    :param allowed_types: number types by their setting names (``mobile``, ``fixed_line``...).
    """

    allowed_countries: frozenset[str] | None
    allowed_types: frozenset[str]

    @classmethod
    def from_settings(cls, protection: ProtectionConfig, from_number: str) -> Destinations:
        """The settings' destinations; no countries listed means the country of ``from_number``.

        :param from_number: the number our calls present (the simulator's when no Telnyx number is set).
        """
        countries = protection.allowed_countries or (home_region(from_number),)
        return cls(
            allowed_countries=None if EVERY_COUNTRY in countries else frozenset(countries),
            allowed_types=frozenset(protection.allowed_number_types),
        )

    def refusal(self, number: str | phonenumbers.PhoneNumber) -> str | None:
        """Why the service may not ring ``number`` (E.164, or as phonenumbers read it), in words for the person
        booking it; None if it may."""
        try:
            parsed = number if isinstance(number, phonenumbers.PhoneNumber) else phonenumbers.parse(number)
        except phonenumbers.NumberParseException:
            return "this is not a phone number in E.164 form, e.g. +13125550100, so it cannot be called"
        region = phonenumbers.region_code_for_number(parsed)
        if region == INTERNATIONAL_NETWORKS or parsed.country_code in _international_calling_codes():
            return (
                f"+{parsed.country_code} numbers belong to satellite or international networks,"
                " which cost dearly and ring no one place: they are never called"
            )
        kind = TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
        if kind in ("premium_rate", "shared_cost"):
            return "premium-rate and shared-cost numbers bill the caller: they are never called"
        if kind == "unknown" or region is None:
            return "no phone can have this number: check the country code and the area code"
        if self.allowed_countries is not None and region not in self.allowed_countries:
            return (
                f"calls to +{parsed.country_code} numbers in {_country_words(region)} are not allowed here:"
                f" this service calls numbers in {_list_words(sorted(self.allowed_countries))}"
                " (setting protection.allowed_countries)"
            )
        if kind not in self.allowed_types:
            return (
                f"this is {TYPE_WORDS.get(kind, kind)}, and this service calls only"
                f" {_list_words(sorted(TYPE_WORDS.get(name, name) for name in self.allowed_types))}"
                " (setting protection.allowed_number_types)"
            )
        return None


def home_region(from_number: str) -> str:
    """The region of the number our calls present: the one country served when no other is listed.

    :raises ValueError: if the number has no single country (it would serve nowhere).
    """
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(from_number))
    except phonenumbers.NumberParseException:
        region = None
    if region is None or region == INTERNATIONAL_NETWORKS:
        raise ValueError(
            f"the caller id {from_number!r} is in no one country: list the countries to call in"
            " protection.allowed_countries"
        )
    return region


def _international_calling_codes() -> frozenset[int]:
    return frozenset(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)


def _country_words(region: str) -> str:
    """``United Kingdom (GB)``: the region's English name, and its code as the settings spell it."""
    names = LOCALE_DATA.get(region, {})
    name = names.get("en", "")
    if name.startswith("*"):
        # phonenumbers' data says "the same as in that language": the name is held under it.
        name = names.get(name[1:], "")
    return f"{name} ({region})" if name else region


def _list_words(items: Iterable[str]) -> str:
    listed = list(items)
    if len(listed) <= 1:
        return "".join(listed)
    return f"{', '.join(listed[:-1])} and {listed[-1]}"
