"""Settings: the JSON file, DIALAJOKE_* overrides, and refusals that name the key (never the API key's value)."""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from pydantic import ValidationError

from dialajoke.config import Config, ConfigError, load_config
from dialajoke.telnyx.signing import public_key_b64

PROJECT = Path(__file__).resolve().parent.parent
SECRET = "KEY0123SECRETVALUE_9f8e7d"
PUBLIC_KEY = public_key_b64(nacl.signing.SigningKey.generate())
LIVE_TELNYX = {
    "api_key": SECRET,
    "connection_id": "1494404757140276705",
    "from_number": "+13125550100",
    "public_key": PUBLIC_KEY,
}


def write_config(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def config_error(path: Path, environ: dict[str, str] | None = None) -> str:
    """The message of the ConfigError that loading ``path`` raises."""
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ)
    return str(raised.value)


def test_the_dev_config_file_spells_out_exactly_the_defaults() -> None:
    assert load_config(PROJECT / "config.dev.json", {}) == Config()


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, {}), {}) == Config()


def test_values_in_the_file_are_used(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"log_level": "DEBUG", "http": {"port": 8081}, "jokes": {"timeout_s": 3}})

    config = load_config(path, {})

    assert config.log_level == "DEBUG"
    assert config.http.port == 8081
    assert config.jokes.timeout_s == 3.0
    assert isinstance(config.jokes.timeout_s, float)
    assert config.http.host == Config().http.host


@pytest.mark.parametrize(
    ("name", "value", "read", "expected"),
    [
        pytest.param("DIALAJOKE_HTTP__PORT", "9090", lambda c: c.http.port, 9090, id="int"),
        pytest.param(
            "DIALAJOKE_TELNYX__REQUEST_TIMEOUT_S", "2.5", lambda c: c.telnyx.request_timeout_s, 2.5, id="float"
        ),
        pytest.param("DIALAJOKE_SIMULATOR__TIME_SCALE", "3", lambda c: c.simulator.time_scale, 3.0, id="float-whole"),
        pytest.param(
            "DIALAJOKE_TELNYX__VOICE", "AWS.Polly.Joanna", lambda c: c.telnyx.voice, "AWS.Polly.Joanna", id="str"
        ),
        pytest.param(
            "DIALAJOKE_PUBLIC_URL",
            "https://jokes.example.com",
            lambda c: c.public_url,
            "https://jokes.example.com",
            id="top-level-str",
        ),
        pytest.param(
            "DIALAJOKE_CORS__ORIGINS",
            "https://a.example.com, https://b.example.com,,",
            lambda c: c.cors.origins,
            ("https://a.example.com", "https://b.example.com"),
            id="tuple",
        ),
        pytest.param("DIALAJOKE_CORS__ORIGINS", "", lambda c: c.cors.origins, (), id="empty-tuple"),
        pytest.param(
            "DIALAJOKE_CORS__ORIGINS",
            '["https://a.example.com", "https://b.example.com"]',
            lambda c: c.cors.origins,
            ("https://a.example.com", "https://b.example.com"),
            id="tuple-as-json",
        ),
    ],
)
def test_an_environment_variable_overrides_the_file(
    tmp_path: Path, name: str, value: str, read: Callable[[Config], object], expected: object
) -> None:
    path = write_config(tmp_path, {"http": {"port": 8081}, "cors": {"origins": ["*"]}})

    got = read(load_config(path, {name: value}))

    assert got == expected
    assert type(got) is type(expected)


def test_the_environment_wins_over_the_file_and_leaves_other_keys_alone(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"http": {"host": "::1", "port": 8081}})

    config = load_config(path, {"DIALAJOKE_HTTP__PORT": "9090", "UNRELATED": "x", "PATH": "/usr/bin"})

    assert config.http.port == 9090
    assert config.http.host == "::1"


def test_an_override_works_for_a_section_the_file_lacks(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"http": {"port": 8081}})

    config = load_config(path, {"DIALAJOKE_SCHEDULER__DEFAULT_REGION": "IE"})

    assert config.scheduler.default_region == "IE"
    assert config.scheduler.max_days_ahead == Config().scheduler.max_days_ahead
    assert config.http.port == 8081


@pytest.mark.parametrize("name", ["DIALAJOKE_HTTP__PROT", "DIALAJOKE_HTTP", "DIALAJOKE_HTTP__PORT__X", "DIALAJOKE_"])
def test_an_unknown_environment_key_is_refused_by_name(tmp_path: Path, name: str) -> None:
    message = config_error(write_config(tmp_path, {}), {name: "9090"})

    assert message.startswith(f"{name} does not name a setting")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"http": {"prot": 9090}}, "http.prot", id="in-a-section"),
        pytest.param({"logging": "DEBUG"}, "logging", id="top-level"),
        pytest.param({"HTTP": {"port": 9090}}, "HTTP", id="in-capitals"),
    ],
)
def test_an_unknown_file_key_is_refused_by_name(tmp_path: Path, settings: dict[str, Any], key: str) -> None:
    message = config_error(write_config(tmp_path, settings))

    assert message.startswith(f"{key} ")
    assert "not a known setting" in message


def test_a_non_number_from_the_environment_is_refused_naming_the_key(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, {}), {"DIALAJOKE_HTTP__PORT": "abc"})

    assert message.startswith("http.port ")
    assert "whole number" in message
    assert "'abc'" in message


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"http": {"port": "8080"}}, "http.port", id="int-as-string"),
        pytest.param({"http": {"port": True}}, "http.port", id="int-as-bool"),
        pytest.param({"http": {"port": 80.5}}, "http.port", id="int-as-float"),
        pytest.param({"jokes": {"timeout_s": "2"}}, "jokes.timeout_s", id="float-as-string"),
        pytest.param({"log_level": 10}, "log_level", id="str-as-number"),
        pytest.param({"cors": {"origins": "*"}}, "cors.origins", id="list-as-string"),
        pytest.param({"http": 8080}, "http", id="section-as-number"),
    ],
)
def test_a_value_of_the_wrong_type_in_the_file_is_refused_naming_the_key(
    tmp_path: Path, settings: dict[str, Any], key: str
) -> None:
    assert config_error(write_config(tmp_path, settings)).startswith(f"{key} must be")


def test_malformed_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"http": {"port": 8080,}}', encoding="utf-8")

    message = config_error(path)

    assert "not valid JSON" in message
    assert str(path) in message


def test_a_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    assert "JSON object" in config_error(write_config(tmp_path, ["http"]))


@pytest.mark.parametrize("path", [":memory:", "file:calls?mode=memory"])
def test_a_database_that_would_not_survive_a_restart_is_refused(tmp_path: Path, path: str) -> None:
    message = config_error(write_config(tmp_path, {"database": {"path": path}}))

    assert message.startswith("database.path must name a file such as var/dialajoke.sqlite3")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    message = config_error(path)

    assert "cannot read config file" in message
    assert str(path) in message


def test_a_complete_live_telnyx_section_loads(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"telnyx": LIVE_TELNYX}), {})

    assert config.telnyx.is_live
    assert config.telnyx.api_key.get_secret_value() == SECRET
    assert config.telnyx.public_key == PUBLIC_KEY


@pytest.mark.parametrize("missing", ["public_key", "connection_id", "from_number"])
def test_an_api_key_without_the_other_live_settings_is_refused_naming_the_missing_key(
    tmp_path: Path, missing: str
) -> None:
    telnyx = {key: value for key, value in LIVE_TELNYX.items() if key != missing}

    message = config_error(write_config(tmp_path, {"telnyx": telnyx}))

    assert message.startswith(f"telnyx.{missing} must be set when telnyx.api_key is set")
    assert SECRET not in message


@pytest.mark.parametrize(
    "public_key",
    [
        pytest.param("not a key!", id="not-base64"),
        pytest.param(base64.b64encode(bytes(31)).decode(), id="31-bytes"),
        pytest.param(base64.b64encode(bytes(33)).decode(), id="33-bytes"),
        pytest.param(base64.b64encode(bytes(32)).decode()[:-1], id="truncated"),
    ],
)
def test_a_public_key_that_is_not_32_bytes_of_base64_is_refused(tmp_path: Path, public_key: str) -> None:
    message = config_error(write_config(tmp_path, {"telnyx": {"public_key": public_key}}))

    assert message.startswith("telnyx.public_key must be the base64 of a 32-byte Ed25519 key")


def test_the_api_key_never_appears_in_the_config_repr_or_a_dump(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {"telnyx": LIVE_TELNYX}), {})

    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in repr(config.telnyx)
    assert SECRET not in config.model_dump_json()
    assert PUBLIC_KEY in repr(config.telnyx)


@pytest.mark.parametrize(
    ("telnyx", "key"),
    [
        pytest.param({**LIVE_TELNYX, "api_kye": SECRET}, "telnyx.api_kye", id="under-a-misspelt-key"),
        pytest.param([SECRET], "telnyx", id="in-a-section-that-is-not-an-object"),
        pytest.param(SECRET, "telnyx", id="as-the-whole-section"),
        pytest.param({**LIVE_TELNYX, "ring_timeout_s": 1}, "telnyx.ring_timeout_s", id="beside-a-value-out-of-range"),
    ],
)
def test_no_refusal_shows_the_api_key_not_even_in_its_traceback(tmp_path: Path, telnyx: object, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, {"telnyx": telnyx}), {})

    assert str(raised.value).startswith(f"{key} ")
    assert SECRET not in "".join(traceback.format_exception(raised.value))


@pytest.mark.parametrize(
    "api_key",
    [
        pytest.param(int(SECRET.encode().hex(), 16), id="number"),
        pytest.param([SECRET], id="list"),
        pytest.param({"value": SECRET}, id="object"),
    ],
)
def test_an_api_key_of_the_wrong_type_is_refused_without_showing_it(tmp_path: Path, api_key: object) -> None:
    message = config_error(write_config(tmp_path, {"telnyx": {**LIVE_TELNYX, "api_key": api_key}}))

    assert message.startswith("telnyx.api_key must be a string")
    assert SECRET not in message
    assert str(api_key) not in message


def test_an_api_key_from_the_environment_never_appears_in_an_error(tmp_path: Path) -> None:
    environ = {"DIALAJOKE_TELNYX__API_KEY": SECRET, "DIALAJOKE_TELNYX__FROM_NUMBER": "12345"}

    message = config_error(write_config(tmp_path, {"telnyx": LIVE_TELNYX}), environ)

    assert message.startswith("telnyx.from_number ")
    assert SECRET not in message


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("DIALAJOKE_TELNYX__REQUEST_TIMEOUT_S", "telnyx.request_timeout_s"),
        ("DIALAJOKE_JOKES__TIMEOUT_S", "jokes.timeout_s"),
        ("DIALAJOKE_SIMULATOR__TIME_SCALE", "simulator.time_scale"),
    ],
)
def test_nan_from_the_environment_is_refused_naming_the_key(tmp_path: Path, name: str, key: str) -> None:
    assert config_error(write_config(tmp_path, {}), {name: "nan"}).startswith(f"{key} ")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"http": {"port": 70000}}, "http.port must be at most 65535, not 70000", id="above-the-range"),
        pytest.param({"telnyx": {"ring_timeout_s": 3}}, "telnyx.ring_timeout_s must be at least 5, not 3", id="below"),
        pytest.param({"jokes": {"timeout_s": 0}}, "jokes.timeout_s must be more than 0, not 0", id="not-positive"),
        pytest.param({"webhooks": {"queue_size": 1}}, "webhooks.queue_size must be at least 2, not 1", id="queue"),
        pytest.param({"telnyx": {"voice": ""}}, "telnyx.voice must not be empty", id="empty"),
        pytest.param({"log_level": "LOUD"}, "log_level must be DEBUG, INFO, WARNING or ERROR, not 'LOUD'", id="level"),
        pytest.param({"log_format": "xml"}, "log_format must be auto, console or json, not 'xml'", id="log-format"),
        pytest.param(
            {"cors": {"origins": ["https://a.example", "ftp://b.example"]}},
            "cors.origins[1] must be '*' or an http(s) origin, not 'ftp://b.example'",
            id="list-item",
        ),
        pytest.param(
            {"cors": {"origins": ["*", "https://a.example"]}},
            "cors.origins lists `*` beside other origins: `*` allows every origin, so list it alone",
            id="any-origin-beside-others",
        ),
    ],
)
def test_a_value_out_of_bounds_is_refused_saying_what_would_do(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    assert config_error(write_config(tmp_path, settings)) == message


@pytest.mark.parametrize(
    ("settings", "longest_silence_s"),
    [
        pytest.param({"calls": {"stale_after_s": 240}}, 240, id="the-joke-time-limit"),
        pytest.param({"calls": {"stale_after_s": 400}, "telnyx": {"ring_timeout_s": 600}}, 600, id="the-ring-timeout"),
    ],
)
def test_calls_must_outlast_the_longest_silence_before_counting_as_stale(
    tmp_path: Path, settings: dict[str, Any], longest_silence_s: int
) -> None:
    message = config_error(write_config(tmp_path, settings))

    assert message.startswith(f"calls.stale_after_s must be more than {longest_silence_s} s: a call may ring")


def test_the_log_level_may_be_written_in_lower_case(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, {"log_level": "debug"}), {}).log_level.upper() == "DEBUG"


def test_settings_cannot_be_changed_once_loaded(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, {}), {})

    with pytest.raises(ValidationError, match="frozen"):
        config.http.port = 9090


def test_nan_in_the_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"jokes": {"timeout_s": NaN}}', encoding="utf-8")

    assert config_error(path).startswith("jokes.timeout_s ")


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.0.2.7"])
def test_the_simulator_is_refused_on_an_address_beyond_this_machine(tmp_path: Path, host: str) -> None:
    path = write_config(tmp_path, {"http": {"host": host}})

    with pytest.raises(ConfigError, match=r"^http.host .*not loopback.*set telnyx.api_key"):
        load_config(path, {})


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_the_simulator_serves_on_loopback(tmp_path: Path, host: str) -> None:
    assert load_config(write_config(tmp_path, {"http": {"host": host}}), {}).http.host == host


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    good = load_config(write_config(tmp_path, {"http": {"trusted_proxies": ["10.0.0.0/8", "::1"]}}), {})
    message = config_error(write_config(tmp_path, {"http": {"trusted_proxies": ["proxy.example"]}}))

    assert good.http.trusted_proxies == ("10.0.0.0/8", "::1")
    assert message.startswith("http.trusted_proxies")
    assert "IP address or network" in message
