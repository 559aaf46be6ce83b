"""What makes a call request acceptable, shared by the form and the JSON API.

Pure functions: no aiohttp, no store. Each check names the field it is about, so the
form can print the message beside the field and the API can list it in ``errors``.
"""

from __future__ import annotations

import os
import unicodedata
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from pydantic import ValidationError

from .payloads import BookingPayload, field_errors, shortened

# Unless told to keep them, phonenumbers passes each metadata pattern through
# re.compile (a lookup in re's own cache) on every use, a dozen times per number.
# Keeping the compiled patterns, one small object per pattern of the regions seen,
# takes a large share off every check of a number (BENCHMARKS.md has the figures).
phonenumbers.enable_pattern_cache()

COSTLY_NUMBER_TYPES = frozenset({phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST})
"""Numbers that would cost the account dearly per call: never dialed on someone's say-so."""
OUT_OF_RANGE = "this time is centuries away: pick a time in the next few days"
NUMBER_WANTED = "enter the phone number to call, e.g. +1 312 555 0100"
TIME_WANTED = "give the time in ISO 8601 with its offset, e.g. 2030-01-31T09:30:00+00:00 or ...Z"
ZONE_WANTED = "give an IANA time zone such as Europe/Dublin"
_BOOKING_WANTS = {
    "": 'send a JSON object such as {"to": "+13125550100", "at": "2030-01-01T09:00:00Z"}',
    "to": NUMBER_WANTED,
    "at": TIME_WANTED,
    "timezone": ZONE_WANTED,
}
"""What a booking's body and each of its fields should be: the message when one is missing or not a string."""


class InvalidRequest(Exception):
    """One message per invalid field, in the order the fields are read."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class CallRequest:
    to: str
    at: datetime
    timezone: str
    number: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)
    """``to`` as phonenumbers read it, so that the rules after these checks need not read it again."""


@dataclass(frozen=True)
class BookingRules:
    """The limits a request must keep; ``now`` is when it arrived."""

    now: datetime
    default_region: str = "US"
    default_timezone: str = "UTC"
    max_days_ahead: int = 30


def parse_json_request(document: Any, rules: BookingRules) -> CallRequest:
    """``{"to": "+353...", "at": "2026-11-24T10:00:00+00:00", "timezone": "Europe/Dublin"?}``.

    The model (:class:`BookingPayload`) first: its fields, their types, and no others; then
    what it cannot judge, on each field it accepted, so that every bad field is named at once.
    """
    fields, errors = _booking_fields(document)
    number = _collect(errors, "to", lambda: parsed_phone_number(fields["to"], rules.default_region))
    zone = _collect(errors, "timezone", lambda: timezone_name(fields["timezone"] or rules.default_timezone))
    at = _collect(errors, "at", lambda: _check_window(_iso_datetime(fields["at"]), rules))
    if errors:
        raise InvalidRequest(errors)
    return CallRequest(e164(number), at, zone, number)


def _booking_fields(document: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The booking's fields the model accepts, and the model's message for each field it refuses.

    The model judges each field on its own, so a field it did not refuse is as it should be
    even when another is not.
    """
    try:
        return BookingPayload.model_validate(document).model_dump(), {}
    except ValidationError as error:
        errors = field_errors(error, _BOOKING_WANTS)
    if not isinstance(document, dict):
        raise InvalidRequest(errors)
    return {name: document.get(name) for name in BookingPayload.model_fields if name not in errors}, errors


def parse_form(form: Mapping[str, str], rules: BookingRules) -> CallRequest:
    """The page's fields: ``to``, ``date`` (YYYY-MM-DD), ``time`` (HH:MM) and the browser's ``timezone``."""
    errors: dict[str, str] = {}
    number = _collect(errors, "to", lambda: parsed_phone_number(form.get("to"), rules.default_region))
    zone = _collect(errors, "timezone", lambda: timezone_name(form.get("timezone") or rules.default_timezone))
    day = _collect(errors, "date", lambda: _form_date(form.get("date")))
    clock_time = _collect(errors, "time", lambda: _form_time(form.get("time")))
    at: datetime | None = None
    if day is not None and clock_time is not None and zone is not None:
        at = _collect(errors, "time", lambda: _check_window(local_datetime(day, clock_time, zone), rules))
    if errors or at is None:
        raise InvalidRequest(errors)
    return CallRequest(e164(number), at.astimezone(UTC), zone, number)


class _FieldProblem(ValueError):
    pass


def _collect(errors: dict[str, str], name: str, check: Any) -> Any:
    """What ``check`` returns; None, with its message in ``errors``, for a field found wrong, now or before."""
    if name in errors:
        return None
    try:
        return check()
    except _FieldProblem as problem:
        errors[name] = str(problem)
        return None


def phone_number(raw: object, default_region: str) -> str:
    """A possible and valid number, in E.164; numbers without a + are read in ``default_region``."""
    return e164(parsed_phone_number(raw, default_region))


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parsed_phone_number(raw: object, default_region: str) -> phonenumbers.PhoneNumber:
    """:func:`phone_number`, as phonenumbers reads it."""
    if not isinstance(raw, str) or not raw.strip():
        raise _FieldProblem(NUMBER_WANTED)
    _refuse_invisible_characters(raw)
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise _FieldProblem(
            "this is not a phone number: use digits, with the country code, e.g. +44 20 7946 0958"
        ) from None
    if parsed.extension:
        # phonenumbers keeps the extension apart and E.164 drops it: the call would ring
        # the main line and never reach the extension the person typed.
        raise _FieldProblem(
            f"extensions cannot be dialed: remove the extension ({parsed.extension}) and book the line's own number"
        )
    # number_type is UNKNOWN exactly when is_valid_number is False, and a valid number is
    # always of a possible length: one question settles a good number, the cheaper
    # length check only says why a bad one is bad.
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        if not phonenumbers.is_possible_number(parsed):
            raise _FieldProblem("this number has the wrong length for its country: check the digits and country code")
        raise _FieldProblem("no phone can have this number: check the country code and the area code")
    if kind in COSTLY_NUMBER_TYPES:
        raise _FieldProblem("premium-rate and shared-cost numbers cannot be called")
    return parsed


def _refuse_invisible_characters(raw: str) -> None:
    """Control and format characters (NUL, zero-width space...) that phonenumbers would silently skip.

    A number that carries them was not typed by a person, or hides something from the one
    who reads it back; the field error names the character so it can be found.
    """
    for character in raw:
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            raise _FieldProblem(
                f"remove the invisible character U+{ord(character):04X} from the number:"
                " use digits, spaces, + - ( ) and ."
            )


def timezone_name(raw: object) -> str:
    """``raw``, when it is a zone name zoneinfo knows; the refusal repeats only the start of it."""
    if not isinstance(raw, str) or not raw:
        raise _FieldProblem(ZONE_WANTED)
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _FieldProblem(
            f"{shortened(raw)!r} is not a time zone: use an IANA name such as America/Chicago"
        ) from None
    return raw


def local_datetime(day: date, clock_time: time, zone: str) -> datetime:
    """The moment a person means by a wall-clock time in their zone.

    A time skipped when clocks go forward does not exist, and is refused rather than
    silently moved; a time repeated when clocks go back means its first occurrence.
    """
    local = datetime.combine(day, clock_time, zoneinfo.ZoneInfo(zone))
    try:
        round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    except OverflowError:
        raise _FieldProblem(OUT_OF_RANGE) from None
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise _FieldProblem(
            f"{clock_time:%H:%M} does not exist on {day} in {zone} (the clocks change): pick another time"
        )
    return local


def _form_date(raw: object) -> date:
    try:
        return date.fromisoformat(str(raw or ""))
    except ValueError:
        raise _FieldProblem("enter the date as YYYY-MM-DD, e.g. 2030-01-31") from None


def _form_time(raw: object) -> time:
    try:
        value = time.fromisoformat(str(raw or ""))
    except ValueError:
        raise _FieldProblem("enter the time as HH:MM or HH:MM:SS, e.g. 09:30") from None
    if value.tzinfo is not None:
        raise _FieldProblem("enter the time without a zone; the zone field says which zone it is in")
    return value


def _iso_datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _FieldProblem(TIME_WANTED) from None
    if value.tzinfo is None:
        raise _FieldProblem("the time has no offset, so it is ambiguous: add one, e.g. +00:00 or Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _FieldProblem(OUT_OF_RANGE) from None


def _check_window(at: datetime, rules: BookingRules) -> datetime:
    if at <= rules.now:
        raise _FieldProblem("this time has passed: pick a time in the future")
    if at > rules.now + timedelta(days=rules.max_days_ahead):
        raise _FieldProblem(f"calls can be booked at most {rules.max_days_ahead} days ahead")
    return at


def server_timezone() -> str:
    """The IANA name of this machine's zone (TZ, then /etc/localtime), or UTC when it has none."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        candidates.append(str(localtime.resolve()).partition("zoneinfo/")[2])
    for name in candidates:
        try:
            return timezone_name(name)
        except _FieldProblem:
            continue
    return "UTC"
