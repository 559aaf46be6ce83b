"""How the pages write numbers and times for people: one way, on every page and in every notice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers

from ..models import Call

WALL_TIME = "%a %d %b %Y, %H:%M:%S %Z"


def for_people(number: str) -> str:
    """``+12025550142`` -> ``+1 202-555-0142``: grouped as the number's own country writes it.

    A number phonenumbers cannot read (an inbound caller's, put on the list by pressing 9)
    is shown as it is stored.
    """
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def wall_time(moment: datetime, zone: str) -> str:
    """A moment on the clock of ``zone``, with the day and the zone's abbreviation."""
    return moment.astimezone(ZoneInfo(zone)).strftime(WALL_TIME)


def local_time(call: Call) -> str:
    """When a call is due, on the clock of the person who booked it."""
    return wall_time(call.at, call.timezone)
