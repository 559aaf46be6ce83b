"""Settings: one JSON file, every key overridable from the environment.

``DIALAJOKE_`` + the key path in capitals, levels joined by ``__``, overrides a key:
``DIALAJOKE_TELNYX__API_KEY`` sets ``telnyx.api_key``. The dataclass defaults below are
the working development settings; config.dev.json spells the same values out so a
newcomer can see every knob. Everything is validated once, at start-up, and a bad
value stops the service with one line naming the key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

ENV_PREFIX = "DIALAJOKE_"
ENV_LEVEL_SEPARATOR = "__"
DEFAULT_CONFIG_PATH = Path("config.dev.json")
TELNYX_API_BASE_URL = "https://api.telnyx.com/v2"
JOKE_TIME_LIMIT_S = 240
"""Telnyx's time_limit_secs for our calls: a 3,000-character joke takes about 200 s to speak."""


class ConfigError(Exception):
    """A setting is missing, malformed or out of range; the message names the key."""


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    client_max_size: int = 64 * 1024
    shutdown_grace_s: float = 10.0


@dataclass(frozen=True)
class TelnyxConfig:
    api_key: str = field(default="", repr=False)
    connection_id: str = ""
    from_number: str = ""
    public_key: str = ""
    api_base_url: str = TELNYX_API_BASE_URL
    voice: str = "female"
    language: str = "en-US"
    ring_timeout_s: int = 30
    request_timeout_s: float = 10.0
    webhook_tolerance_s: int = 300
    max_attempts: int = 5
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 8.0
    max_dials_per_second: float = 30.0
    max_concurrent_calls: int = 2

    @property
    def is_live(self) -> bool:
        """With an API key the service talks to the real Telnyx, without one to the simulator."""
        return bool(self.api_key)


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = "var/dialajoke.sqlite3"


@dataclass(frozen=True)
class JokesConfig:
    api_url: str = ""
    timeout_s: float = 2.0


@dataclass(frozen=True)
class SimulatorConfig:
    time_scale: float = 1.0


@dataclass(frozen=True)
class SchedulerConfig:
    default_region: str = "US"
    default_timezone: str = ""
    max_days_ahead: int = 30
    misfire_grace_s: float = 300.0
    horizon_s: float = 3600.0


@dataclass(frozen=True)
class WebhooksConfig:
    workers: int = 32
    queue_size: int = 1000
    max_attempts: int = 5
    retry_delay_s: float = 0.5


@dataclass(frozen=True)
class CallsConfig:
    stale_after_s: float = 300.0


@dataclass(frozen=True)
class CorsConfig:
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    public_url: str = "http://127.0.0.1:8080"
    templates_dir: str = "templates"
    log_level: str = "INFO"
    http: HttpConfig = HttpConfig()
    telnyx: TelnyxConfig = TelnyxConfig()
    database: DatabaseConfig = DatabaseConfig()
    jokes: JokesConfig = JokesConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    calls: CallsConfig = CallsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    cors: CorsConfig = CorsConfig()

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + "/webhook"


SECRET_KEYS = frozenset({"telnyx.api_key"})


def load_config(path: Path | str = DEFAULT_CONFIG_PATH, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path``, apply ``DIALAJOKE_*`` overrides from ``environ``, validate.

    :raises ConfigError: with one line naming the offending key.
    """
    raw = _read_json(Path(path))
    _apply_environment(raw, {} if environ is None else environ)
    config = typing.cast(Config, _build(Config, raw, prefix=""))
    _check(config)
    return config


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of settings")
    return data


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_LEVEL_SEPARATOR)]
        if not _is_known_key(Config, path):
            raise ConfigError(f"{name} does not name a setting (levels are joined by '__', e.g. DIALAJOKE_HTTP__PORT)")
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(path[:-1])} must be an object of settings")
            node = child
        node[path[-1]] = _EnvText(value)


class _EnvText(str):
    """A value that came from the environment: text that may still need converting."""


def _is_known_key(cls: type, path: list[str]) -> bool:
    hints = typing.get_type_hints(cls)
    head, *rest = path
    if head not in hints:
        return False
    if dataclasses.is_dataclass(hints[head]):
        return bool(rest) and _is_known_key(hints[head], rest)
    return not rest


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.')} must be an object of settings")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]} is not a known setting")
    values = {}
    for name, hint in hints.items():
        if name not in raw:
            continue
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            values[name] = _build(typing.cast(type, hint), raw[name], key + ".")
        else:
            values[name] = _coerce(key, hint, raw[name])
    return cls(**values)


def _coerce(key: str, hint: Any, value: Any) -> Any:
    from_env = isinstance(value, _EnvText)
    shown = "(secret)" if key in SECRET_KEYS else repr(str(value) if from_env else value)
    try:
        return _CONVERTERS[_kind(hint)](value, from_env)
    except (ValueError, TypeError):
        raise ConfigError(f"{key} must be {_DESCRIPTIONS[_kind(hint)]}, not {shown}") from None


def _kind(hint: Any) -> Any:
    return tuple if typing.get_origin(hint) is tuple else hint


def _to_str(value: Any, from_env: bool) -> str:
    if not isinstance(value, str):
        raise TypeError
    return str(value)


def _to_int(value: Any, from_env: bool) -> int:
    if from_env:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _to_float(value: Any, from_env: bool) -> float:
    if not from_env and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise TypeError
    number = float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _to_tuple(value: Any, from_env: bool) -> tuple[str, ...]:
    if from_env:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError
    return tuple(value)


_CONVERTERS: dict[Any, Callable[[Any, bool], Any]] = {str: _to_str, int: _to_int, float: _to_float, tuple: _to_tuple}
_DESCRIPTIONS = {
    str: "a string",
    int: "a whole number",
    float: "a finite number",
    tuple: "a list of strings (comma-separated in the environment)",
}


def _check(config: Config) -> None:
    """Range and format checks that the types alone cannot express."""
    for key, problem in _problems(config):
        raise ConfigError(f"{key} {problem}")


def _problems(config: Config) -> typing.Iterator[tuple[str, str]]:
    yield from _http_problems(config)
    yield from _limit_problems(config)
    yield from _scheduler_problems(config.scheduler)
    yield from _telnyx_problems(config.telnyx)


def _http_problems(config: Config) -> typing.Iterator[tuple[str, str]]:
    if not 0 <= config.http.port <= 65535:
        yield "http.port", f"must be between 0 and 65535, not {config.http.port}"
    if config.http.client_max_size < 1024:
        yield "http.client_max_size", "must be at least 1024 bytes"
    for key, url in (("public_url", config.public_url), ("telnyx.api_base_url", config.telnyx.api_base_url)):
        if not _is_http_url(url):
            yield key, f"must be an http(s) URL such as https://example.com, not {url!r}"
    if config.jokes.api_url and not _is_http_url(config.jokes.api_url):
        yield "jokes.api_url", f"must be empty or an http(s) URL, not {config.jokes.api_url!r}"
    for origin in config.cors.origins:
        if origin != "*" and not _is_http_url(origin):
            yield "cors.origins", f"must hold '*' or http(s) origins, not {origin!r}"


def _limit_problems(config: Config) -> typing.Iterator[tuple[str, str]]:
    telnyx = config.telnyx
    if not config.database.path:
        yield "database.path", "must name a file, e.g. var/dialajoke.sqlite3"
    if not telnyx.voice:
        yield "telnyx.voice", "must name a Telnyx voice, e.g. female or AWS.Polly.Joanna"
    if not 5 <= telnyx.ring_timeout_s <= 600:
        yield "telnyx.ring_timeout_s", "must be between 5 and 600 seconds (Telnyx's timeout_secs range)"
    for key, value in (
        ("telnyx.max_attempts", telnyx.max_attempts),
        ("telnyx.retry_base_delay_s", telnyx.retry_base_delay_s),
        ("telnyx.retry_max_delay_s", telnyx.retry_max_delay_s),
        ("telnyx.max_dials_per_second", telnyx.max_dials_per_second),
        ("telnyx.max_concurrent_calls", telnyx.max_concurrent_calls),
        ("telnyx.request_timeout_s", telnyx.request_timeout_s),
        ("telnyx.webhook_tolerance_s", telnyx.webhook_tolerance_s),
        ("jokes.timeout_s", config.jokes.timeout_s),
        ("calls.stale_after_s", config.calls.stale_after_s),
        ("http.shutdown_grace_s", config.http.shutdown_grace_s),
        ("webhooks.workers", config.webhooks.workers),
        ("webhooks.queue_size", config.webhooks.queue_size),
        ("webhooks.max_attempts", config.webhooks.max_attempts),
    ):
        if value <= 0:
            yield key, f"must be positive, not {value}"
    if config.webhooks.queue_size < 2:
        yield "webhooks.queue_size", "must be at least 2"
    longest_silence_s = max(telnyx.ring_timeout_s, JOKE_TIME_LIMIT_S)
    if config.calls.stale_after_s <= longest_silence_s:
        yield (
            "calls.stale_after_s",
            (
                f"must be more than {longest_silence_s} s: a call may ring that long (telnyx.ring_timeout_s), or"
                f" speak up to {JOKE_TIME_LIMIT_S} s, without a word from Telnyx"
            ),
        )
    if config.simulator.time_scale < 0:
        yield "simulator.time_scale", "must be 0 or more (1 plays calls in real time, 0 as fast as possible)"
    if config.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        yield "log_level", "must be one of DEBUG, INFO, WARNING, ERROR"


def _scheduler_problems(scheduler: SchedulerConfig) -> typing.Iterator[tuple[str, str]]:
    if scheduler.max_days_ahead < 1:
        yield "scheduler.max_days_ahead", "must be at least 1"
    if scheduler.misfire_grace_s < 0:
        yield "scheduler.misfire_grace_s", "must be 0 or more seconds"
    if scheduler.horizon_s < 60:
        yield "scheduler.horizon_s", "must be at least 60 seconds"
    if scheduler.default_region not in phonenumbers.SUPPORTED_REGIONS:
        yield "scheduler.default_region", "must be a two-letter region code such as US, GB or IE"
    if scheduler.default_timezone and not _is_timezone(scheduler.default_timezone):
        yield "scheduler.default_timezone", "must be empty (the server's zone) or an IANA zone such as Europe/Dublin"


def _telnyx_problems(telnyx: TelnyxConfig) -> typing.Iterator[tuple[str, str]]:
    if telnyx.public_key and not is_ed25519_public_key(telnyx.public_key):
        yield "telnyx.public_key", "must be the base64 of a 32-byte Ed25519 key (Telnyx portal: Keys & Credentials)"
    if telnyx.from_number and not is_e164(telnyx.from_number):
        yield (
            "telnyx.from_number",
            f"must be a valid number in E.164 form such as +13125550100, not {telnyx.from_number!r}",
        )
    if not telnyx.is_live:
        return
    for key, value in (
        ("telnyx.connection_id", telnyx.connection_id),
        ("telnyx.from_number", telnyx.from_number),
        ("telnyx.public_key", telnyx.public_key),
    ):
        if not value:
            yield key, "must be set when telnyx.api_key is set (see README: Using a real Telnyx account)"


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def is_ed25519_public_key(text: str) -> bool:
    """Whether ``text`` is the base64 of a 32-byte Ed25519 key, as the Telnyx portal shows it."""
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def is_e164(number: str) -> bool:
    """Whether ``number`` is a valid phone number written in E.164 (+ and digits)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return False
    return number.startswith("+") and phonenumbers.is_valid_number(parsed)


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
