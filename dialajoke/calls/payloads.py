"""The JSON bodies the service reads, one pydantic model each.

A model says which fields a body has and of which JSON type, refuses any other field, and
coerces nothing (a number sent for a string is an error, not a string). The OpenAPI document
publishes the same model as the body's schema, so the two cannot drift apart. What a model
cannot judge (whether a number can be rung, a time is to come) is checked after it, in
:mod:`.validation`.

:func:`field_errors` turns pydantic's errors into this service's ``{field: message}``, in
words a person can act on rather than pydantic's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_NAME_SHOWN = 64
"""How much of an unknown field's name a message repeats: enough to find it, however long it is."""


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

    :param wanted: what the body (``""``) and each of its fields should be, said as a fix:
        the message for one missing or of the wrong JSON type, the type error naming what was sent.
    """
    fields = ", ".join(name for name in wanted if name)
    errors: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        name = ".".join(str(part) for part in problem["loc"])
        message = wanted.get(name, problem["msg"])
        if problem["type"] == "extra_forbidden":
            message = f"unknown field {name[:MAX_NAME_SHOWN]!r}: remove it (the fields are {fields})"
        elif problem["type"] in _EXPECTED and name:
            message = f"{message} ({_EXPECTED[problem['type']]}, not {_json_type(problem['input'])})"
        errors.setdefault(name, message)
    return errors


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
