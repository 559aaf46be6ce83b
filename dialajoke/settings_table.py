"""README's table of settings, rendered from the models so that the documentation cannot drift.

``invoke settings-table`` writes it into README.md between the two marker comments;
tests/test_settings_table.py fails when README's copy differs from what the models render.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, SecretStr

from .config import Config, each_setting

START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def settings_table(model: type[BaseModel] = Config) -> str:
    """A markdown table: one row per setting, with its key, default and description."""
    rows = ["| Key | Default | Meaning |", "| --- | --- | --- |"]
    for path, field in each_setting(model):
        key = ".".join(path)
        if not field.description:
            raise ValueError(f"{key} has no description: give its Field one, it is README's only documentation of it")
        rows.append(f"| `{key}` | {_default(field.get_default())} | {field.description} |")
    return "\n".join(rows) + "\n"


def with_settings_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by the table the models render now."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README has no {START} ... {END} markers to put the settings table between")
    return f"{before}{START}\n{settings_table()}{END}{after}"


def _default(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value == "":
        return "empty"
    shown = value if isinstance(value, str) else json.dumps(list(value) if isinstance(value, tuple) else value)
    return f"`{shown}`"
