"""Calling hours: when a call may ring, on the clock of the person it rings.

Pure functions: no aiohttp, no store. A number does not always say where its phone is:
a mobile or toll-free number may be in any of several zones, so a call is allowed only
when the moment is inside the hours in every zone the number may be in, and a number
whose zone cannot be told at all is not called rather than rung at a guessed hour.
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import phonenumbers
from phonenumbers import timezone as number_zones

SEARCH_DAYS = 8
"""How far ahead :meth:`CallingHours.next_allowed` looks: a week and a day, so that a
common window opened by one zone's change of clocks is still found."""
SECOND = timedelta(seconds=1)
DAY_S = 24 * 60 * 60


@dataclass(frozen=True)
class CallingHours:
    """A daily window ``start <= local time < end``, in seconds after local midnight."""

    start_s: int
    end_s: int

    @classmethod
    def parse(cls, text: str) -> CallingHours:
        """``"09:00-20:00"``; ``24:00`` ends the window at midnight.

        :raises ValueError: for anything else, or a window that does not start before it ends.
        """
        start_text, separator, end_text = text.partition("-")
        if not separator:
            raise ValueError(f"calling hours {text!r} must be HH:MM-HH:MM, e.g. 09:00-20:00")
        start_s, end_s = _seconds_of(start_text), _seconds_of(end_text)
        if not 0 <= start_s < end_s <= DAY_S:
            raise ValueError(f"calling hours {text!r} must start before they end, on one day")
        return cls(start_s, end_s)

    def __str__(self) -> str:
        return f"{_clock_text(self.start_s)}-{_clock_text(self.end_s)}"

    def is_allowed(self, zones: Sequence[str], moment: datetime) -> bool:
        """Inside the window in every zone; never for no zone at all."""
        return bool(zones) and all(self._inside(zone, moment) for zone in zones)

    def next_allowed(self, zones: Sequence[str], moment: datetime) -> datetime | None:
        """The first moment from ``moment`` on that :meth:`is_allowed`; None if there is none this week.

        Where the windows of all zones overlap, the overlap opens when the last of them
        opens, so the openings of each zone's window are the only candidates to try.
        """
        if self.is_allowed(zones, moment):
            return moment
        first_day = moment.astimezone(UTC).date() - timedelta(days=1)
        openings = sorted(
            {
                self._opening(zone, first_day + timedelta(days=offset))
                for zone in zones
                for offset in range(SEARCH_DAYS + 2)
            }
        )
        return next((opening for opening in openings if opening > moment and self.is_allowed(zones, opening)), None)

    def refusal(self, number: str | phonenumbers.PhoneNumber, moment: datetime, booker_zone: str) -> str | None:
        """Why a call to ``number`` may not ring at ``moment``, in words for the person booking it; None if it may.

        :param booker_zone: the zone of the person booking, so the next allowed time is also told on their clock.
        """
        zones = zones_of(number)
        if not zones:
            return "the time zone of this number cannot be told, so a call could ring at night: it cannot be called"
        if self.is_allowed(zones, moment):
            return None
        outside = _best_known(number, [zone for zone in zones if not self._inside(zone, moment)])
        where = "the number's zone" if len(zones) == 1 else f"one of the number's {len(zones)} zones"
        said = (
            f"calls may ring only {self} on the callee's clock: at that time it is"
            f" {_wall_text(moment, outside, with_day='on ')} in {outside} ({where})"
        )
        following = self.next_allowed(zones, moment)
        if following is None:
            return (
                f"{said}; this number may be in {len(zones)} zones ({zones[0]} to {zones[-1]}), too far apart"
                f" for any moment to be inside {self} in all of them: it cannot be called"
            )
        return (
            f"{said}; the next allowed time is {_wall_text(following, outside, with_day='on ')} there"
            f" ({_wall_text(following, booker_zone)}, {booker_zone}, your time)"
        )

    def not_now(self, number: str | phonenumbers.PhoneNumber, moment: datetime) -> str | None:
        """Why a due call to ``number`` may not ring at ``moment`` after all (it was booked inside the hours,
        and a backlog or a stop pushed it out); None if it may."""
        zones = zones_of(number)
        if not zones:
            return "the time zone of this number cannot be told, so it is not called"
        if self.is_allowed(zones, moment):
            return None
        outside = _best_known(number, [zone for zone in zones if not self._inside(zone, moment)])
        return (
            f"not dialed: by the time a line was free it was {_wall_text(moment, outside, with_day='on ')} in"
            f" {outside}, outside the calling hours ({self} on the callee's clock, protection.calling_hours)"
        )

    def _inside(self, zone: str, moment: datetime) -> bool:
        local = moment.astimezone(_zone(zone))
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return self.start_s <= seconds < self.end_s

    def _opening(self, zone: str, day: date) -> datetime:
        """The moment the window opens on ``day`` in ``zone``.

        A start time skipped when the clocks go forward opens the window when they do:
        between the two readings of that wall time, the first second inside the window.
        """
        start = datetime.combine(day, time(self.start_s // 3600, self.start_s // 60 % 60), _zone(zone))
        late = start.astimezone(UTC)
        early = start.replace(fold=1).astimezone(UTC)
        if early >= late:
            return late
        while late - early > SECOND:
            middle = early + (late - early) / 2
            if self._inside(zone, middle):
                late = middle
            else:
                early = middle
        return late


def enforced(calling_hours: str, *, live: bool, on_simulator: bool) -> CallingHours | None:
    """The calling hours that refuse calls (``protection.calling_hours``), or None when none do.

    On the embedded simulator nobody real is rung, so the hours refuse nothing there unless
    ``protection.calling_hours_on_simulator`` says to keep them anyway.
    """
    if not calling_hours or not (live or on_simulator):
        return None
    return CallingHours.parse(calling_hours)


def zones_of(number: str | phonenumbers.PhoneNumber) -> tuple[str, ...]:
    """The IANA zones an E.164 number may ring in; empty when they cannot be told.

    phonenumbers knows the zones of a number's area or, for a mobile, of its country;
    when it does not, the zones of every country that shares the number's calling code
    stand in for them.
    """
    parsed = _parsed(number)
    if parsed is None:
        return ()
    zones = tuple(zone for zone in number_zones.time_zones_for_number(parsed) if zone != number_zones.UNKNOWN_TIMEZONE)
    if not zones:
        regions = phonenumbers.region_codes_for_country_code(parsed.country_code or 0)
        zones = tuple(sorted({zone for region in regions for zone in _zones_of_region().get(region, ())}))
    return tuple(zone for zone in zones if _is_known_zone(zone))


def _parsed(number: str | phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """The number as phonenumbers reads it (once: a booking hands over the number it has read already)."""
    if isinstance(number, phonenumbers.PhoneNumber):
        return number
    try:
        return phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None


def _best_known(number: str | phonenumbers.PhoneNumber, zones: list[str]) -> str:
    """Of several zones, the one a person would name for the number's country (Europe/London, not Europe/Jersey)."""
    parsed = _parsed(number)
    region = (phonenumbers.region_code_for_number(parsed) if parsed is not None else None) or ""
    home = _zones_of_region().get(region, ())
    return next((zone for zone in zones if zone in home), zones[0])


@functools.cache
def _zones_of_region() -> dict[str, tuple[str, ...]]:
    """Region code -> its zones, from the tz database's own table (shipped by the tzdata package)."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo/zone1970.tab").read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        regions, _, zone = line.split("\t")[:3]
        for region in regions.split(","):
            found.setdefault(region, []).append(zone)
    return {region: tuple(zones) for region, zones in found.items()}


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone, kept: zoneinfo holds only the last few zones used, so a rule that reads a dozen
    zones for every booking would otherwise read their files from disk again and again."""
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _is_known_zone(zone: str) -> bool:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _seconds_of(text: str) -> int:
    hours, separator, minutes = text.strip().partition(":")
    if not (separator and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not a time of day such as 09:00")
    if int(minutes) > 59 or (int(hours), int(minutes)) > (24, 0):
        raise ValueError(f"{text!r} is not a time of day such as 09:00")
    return int(hours) * 3600 + int(minutes) * 60


def _clock_text(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"


def _wall_text(moment: datetime, zone: str, *, with_day: str = "") -> str:
    """``02:05 on Thu 26 Nov`` (or ``09:00 Thu 26 Nov``): a wall time and its day in ``zone``."""
    local = moment.astimezone(_zone(zone))
    return f"{local:%H:%M} {with_day}{local:%a} {local.day} {local:%b}"
