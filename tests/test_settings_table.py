"""README's table of settings is rendered from the models, so the documentation cannot drift from the code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from dialajoke.settings_table import END, START, settings_table, with_settings_table

from .service import PROJECT


def test_readme_shows_the_table_the_models_render() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")

    assert with_settings_table(readme) == readme, "README's settings table is out of date: run `invoke settings-table`"


def keys_of(settings: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for name, value in settings.items():
        keys += keys_of(value, f"{prefix}{name}.") if isinstance(value, dict) else [prefix + name]
    return keys


def test_the_table_has_one_row_per_key_of_the_dev_config_with_its_value() -> None:
    dev = json.loads((PROJECT / "config.dev.json").read_text(encoding="utf-8"))
    rows = [row.split(" | ") for row in settings_table().splitlines()[2:]]

    assert sorted(row[0].strip("| `") for row in rows) == sorted(keys_of(dev))
    shown = {row[0].strip("| `"): row[1] for row in rows}
    assert shown["http.port"] == f"`{dev['http']['port']}`"
    assert shown["telnyx.api_key"] == "empty"
    assert shown["cors.origins"] == "`[]`"


def test_only_the_text_between_the_markers_is_replaced() -> None:
    readme = f"# Title\n\nIntro.\n\n{START}\n| stale | table |\n{END}\n\n## Next\n"

    assert with_settings_table(readme) == f"# Title\n\nIntro.\n\n{START}\n{settings_table()}{END}\n\n## Next\n"


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        with_settings_table("# Title\n\n| Key | Default | Meaning |\n")


def test_a_setting_without_a_description_cannot_be_rendered() -> None:
    class Section(BaseModel):
        documented: int = Field(1, description="says what it does")
        undocumented: int = 2

    with pytest.raises(ValueError, match="undocumented has no description"):
        settings_table(Section)
