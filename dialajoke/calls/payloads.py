"""The JSON bodies the service reads, one pydantic model each.

A model says which fields a body has and of which JSON type, refuses any other field, and
coerces nothing (a number sent for a string is an error, not a string). The OpenAPI document
publishes the same model as the body's schema, so the two cannot drift apart. What a model
cannot judge (whether a number can be rung, a time is to come) is checked after it, in
:mod:`.validation`.

:func:`field_errors` turns pydantic's errors into this service's ``{field: message}``, in
words a person can act on rather than pydantic's own. An error answer repeats only a
little of what the client sent (:func:`shortened`, :data:`MAX_UNKNOWN_FIELDS_LISTED`), so that
a large body cannot make a larger answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_NAME_SHOWN = 64
"""How much of a text the client sent (a field's name, a time zone) an error repeats: enough to
find it, however long it is, and never so much that the answer grows with the request."""
MAX_UNKNOWN_FIELDS_LISTED = 10
"""How many unknown fields an answer names one by one; the rest are counted in one entry, so that
a body of thousands of stray keys gets an answer of a few lines."""


class BookingPayload(BaseModel):
    """A booking (POST /api/calls): the number to ring and when."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="BookingRequest")

    to: str = Field(description="The number to ring, best in E.164 (+13125550100).")
    at: str = Field(
        description="When to ring, in ISO 8601 with its offset.",
        json_schema_extra={"format": "date-time"},
    )
    timezone: str | None = Field(default=None, description="IANA zone of the booking; default: the service's.")


def field_errors(error: ValidationError, wanted: Mapping[str, str]) -> dict[str, str]:
    """One message per field, in pydantic's order; the whole body's under the field ``""``.

    Field names are :func:`shortened`, and only the first :data:`MAX_UNKNOWN_FIELDS_LISTED`
    unknown fields are named: the whole body's entry counts the others.

    :param wanted: what the body (``""``) and each of its fields should be, said as a fix:
        the message for one missing or of the wrong JSON type, the type error naming what was sent.
    """
    fields = ", ".join(name for name in wanted if name)
    errors: dict[str, str] = {}
    unknown = 0
    for problem in error.errors(include_url=False):
        name = shortened(".".join(str(part) for part in problem["loc"]))
        message = wanted.get(name, problem["msg"])
        if problem["type"] == "extra_forbidden":
            unknown += 1
            if unknown > MAX_UNKNOWN_FIELDS_LISTED:
                continue
            message = f"unknown field {name!r}: remove it (the fields are {fields})"
        elif problem["type"] in _EXPECTED and name:
            message = f"{message} ({_EXPECTED[problem['type']]}, not {_json_type(problem['input'])})"
        errors.setdefault(name, message)
    if unknown > MAX_UNKNOWN_FIELDS_LISTED:
        _add_to_body(errors, f"and {unknown - MAX_UNKNOWN_FIELDS_LISTED:,} more unknown fields: remove them")
    return errors


def shortened(text: str) -> str:
    """``text``, cut to :data:`MAX_NAME_SHOWN` characters and then marked cut with an ellipsis."""
    return text if len(text) <= MAX_NAME_SHOWN else f"{text[:MAX_NAME_SHOWN]}\N{HORIZONTAL ELLIPSIS}"


def _add_to_body(errors: dict[str, str], message: str) -> None:
    """``message`` on the whole body (``""``), after the one already there: an unknown field named ``""``."""
    errors[""] = f"{errors['']}; {message}" if "" in errors else message


_EXPECTED = {"string_type": "a string in quotes", "int_type": "a whole number", "bool_type": "true or false"}
"""The JSON that pydantic's type errors ask for, as a person would say it."""


def _json_type(value: object) -> str:
    """What JSON calls the type of ``value``, as ``json.loads`` made it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
