"""A refused setting in one line: ``<key> <problem>, not <value>``, never pydantic's multi-line report.

Start-up prints this line and stops, so it must name the key, say what would be
accepted, and never show the API key.
"""

from __future__ import annotations

from collections.abc import Set

from pydantic import ValidationError

PROBLEMS = {
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "tuple_type": "must be a list of strings (comma-separated in the environment)",
    "model_type": "must be an object of settings",
    "extra_forbidden": "is not a known setting",
    "greater_than": "must be more than {gt:g}",
    "greater_than_equal": "must be at least {ge:g}",
    "less_than_equal": "must be at most {le:g}",
    "string_too_short": "must not be empty",
}
"""What each kind of pydantic error means for a setting; the words follow the key."""


class Refusal(ValueError):
    """A cross-field rule's verdict on one key: pydantic alone would name only the model that checked it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


def one_line(error: ValidationError, secret_keys: Set[str]) -> str:
    """The first error of ``error``, worded for a person.

    The value is shown only when it is a non-empty scalar of a key that is not secret:
    a section, or a misspelt key, may be holding the API key.
    """
    first = error.errors(include_url=False)[0]
    context = first.get("ctx", {})
    cause = context.get("error")
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    if isinstance(cause, Refusal):
        key = f"{key}.{cause.key}".lstrip(".")
    if isinstance(cause, ValueError):
        problem = str(cause)
    elif first["type"] in PROBLEMS:
        problem = PROBLEMS[first["type"]].format_map(context)
    else:
        problem = f"is not valid: {first['msg']}"
    value = first["input"]
    holds_a_secret = any(secret == key or secret.startswith(key + ".") for secret in secret_keys)
    hidden = holds_a_secret or first["type"] == "extra_forbidden" or value == ""
    shown = isinstance(value, str | int | float) and not hidden
    return f"{key} {problem}, not {value!r}" if shown else f"{key} {problem}"
