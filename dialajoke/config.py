"""Settings: one JSON file, every key overridable from the environment.

``DIALAJOKE_`` + the key path in capitals, levels joined by ``__``, overrides a key:
``DIALAJOKE_TELNYX__API_KEY`` sets ``telnyx.api_key``. The models' defaults are the working
development settings: config.dev.json spells them out, and README's table of settings is
rendered from the descriptions (settings_table.py). The models are strict, so a value in
the file must have its JSON type; a value from the environment is text, which
pydantic-settings converts first. A bad value stops start-up with one line naming the key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import typing
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .config_messages import Refusal, one_line

ENV_PREFIX = "DIALAJOKE_"
ENV_LEVEL_SEPARATOR = "__"
DEFAULT_CONFIG_PATH = Path("config.dev.json")
TELNYX_API_BASE_URL = "https://api.telnyx.com/v2"
JOKE_TIME_LIMIT_S = 240
"""Telnyx's time_limit_secs for our calls: a 3,000-character joke takes about 200 s to speak."""
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})
LOG_FORMATS = frozenset({"auto", "console", "json"})
KeyPath = tuple[str, ...]


class ConfigError(Exception):
    """A setting is missing, malformed or out of range; the message names the key."""


# --- Rules that a type alone cannot express -------------------------------------------------------


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


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a setting such as http.host) names this machine only; empty means every address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError unless the port is a number from 0 to 65535
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _rule(holds: Callable[[str], bool], problem: str) -> AfterValidator:
    """A check on a text setting; ``problem`` follows the key in the start-up error."""

    def check(value: str) -> str:
        if not holds(value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _or_empty(holds: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda value: not value or holds(value)


HttpUrl = Annotated[str, _rule(_is_http_url, "must be an http(s) URL such as https://example.com")]
HttpUrlOrEmpty = Annotated[str, _rule(_or_empty(_is_http_url), "must be empty or an http(s) URL")]
Origin = Annotated[str, _rule(lambda origin: origin == "*" or _is_http_url(origin), "must be '*' or an http(s) origin")]
Proxies = Annotated[
    tuple[Annotated[str, _rule(_is_network, "must be an IP address or network such as 10.0.0.0/8")], ...],
    Field(strict=False),
]
Origins = Annotated[tuple[Origin, ...], Field(strict=False)]  # not strict: a JSON array is a tuple's input
E164OrEmpty = Annotated[str, _rule(_or_empty(is_e164), "must be a valid number in E.164 form such as +13125550100")]
Ed25519KeyOrEmpty = Annotated[
    str,
    _rule(
        _or_empty(is_ed25519_public_key),
        "must be the base64 of a 32-byte Ed25519 key (Telnyx portal: Keys & Credentials)",
    ),
]
Region = Annotated[
    str,
    _rule(phonenumbers.SUPPORTED_REGIONS.__contains__, "must be a two-letter region code such as US, GB or IE"),
]
TimeZoneOrEmpty = Annotated[
    str,
    _rule(_or_empty(_is_timezone), "must be empty (the server's zone) or an IANA zone such as Europe/Dublin"),
]
DatabaseFile = Annotated[
    str,
    _rule(
        lambda path: path != ":memory:" and not path.startswith("file:"),
        "must name a file such as var/dialajoke.sqlite3: the schedule has to survive a restart",
    ),
]
LogLevel = Annotated[str, _rule(lambda level: level.upper() in LOG_LEVELS, "must be DEBUG, INFO, WARNING or ERROR")]
LogFormat = Annotated[str, _rule(LOG_FORMATS.__contains__, "must be auto, console or json")]
CALLABLE_NUMBER_TYPES = frozenset(
    {
        "mobile",
        "fixed_line",
        "fixed_line_or_mobile",
        "toll_free",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "voicemail",
    }
)
"""phonenumbers' number types, by the names a setting uses, that a setting may allow. Premium-rate,
shared-cost and unknown numbers are never called, whatever the settings say."""


def is_calling_hours(text: str) -> bool:
    """``HH:MM-HH:MM`` with the start before the end, on one day (``24:00`` ends at midnight)."""
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])", text)
    if match is None:
        return False
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    return (end_h, end_m) <= (24, 0) and (start_h, start_m) < (end_h, end_m)


CallingHoursText = Annotated[
    str,
    _rule(
        _or_empty(is_calling_hours),
        "must be empty (any time) or HH:MM-HH:MM with the start first, on one day, e.g. 09:00-20:00",
    ),
]
Regions = Annotated[
    tuple[
        Annotated[
            str,
            _rule(
                lambda code: code == "*" or code in phonenumbers.SUPPORTED_REGIONS,
                "must be two-letter region codes such as US, GB or IE, or '*' alone for every country",
            ),
        ],
        ...,
    ],
    Field(strict=False),
]
NumberTypes = Annotated[
    tuple[
        Annotated[
            str,
            _rule(
                CALLABLE_NUMBER_TYPES.__contains__,
                f"must be number types among {', '.join(sorted(CALLABLE_NUMBER_TYPES))}"
                " (premium-rate, shared-cost and unknown numbers are never called)",
            ),
        ],
        ...,
    ],
    Field(strict=False),
]


# --- The models: one per section, frozen, each field with its one-line description -----------------

_STRICT = SettingsConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False, hide_input_in_errors=True)


class _Section(BaseModel):
    model_config = _STRICT


class HttpConfig(_Section):
    host: str = Field("127.0.0.1", description="the address the service listens on")
    port: int = Field(8080, ge=0, le=65535, description="the port the service listens on; change `public_url` with it")
    client_max_size: int = Field(64 * 1024, ge=1024, description="largest request body accepted (bytes)")
    shutdown_grace_s: PositiveFloat = Field(
        10.0, description="on SIGTERM/SIGINT, time given to requests and webhook work in flight"
    )
    body_timeout_s: PositiveFloat = Field(
        30.0, description="a request body not fully received this long after its headers is refused (408)"
    )
    idle_timeout_s: PositiveFloat = Field(
        15.0,
        description=(
            "a connection that brings no complete request for this long is closed: idle between requests,"
            " or sending its headers a byte at a time"
        ),
    )
    max_event_streams_per_user: PositiveInt = Field(
        5,
        description=(
            "live event streams (`/events`, one per open booking page) a user may hold at once; past this, 429:"
            " close a tab, or raise it for users who keep many open"
        ),
    )
    max_connections: PositiveInt = Field(
        512, description="open connections at once; past this, new ones are closed at once (a proxy queues them)"
    )
    trusted_proxies: Proxies = Field(
        ("127.0.0.1", "::1"),
        description=(
            "addresses (or networks) of the reverse proxies in front of the service, whose X-Forwarded-For names"
            " the client: sign-in limits count per client address, and the simulator serves only this machine"
        ),
    )
    session_secret: SecretStr = Field(
        SecretStr(""),
        description=(
            "key of the sign-in cookies (32 bytes as url-safe base64); empty: generated on first start and kept"
            " in `session.key` beside the database (never logged)"
        ),
    )


class TelnyxConfig(_Section):
    api_key: SecretStr = Field(
        SecretStr(""), description="empty: calls go to the embedded simulator; set: to the real Telnyx (never logged)"
    )
    connection_id: str = Field("", description="the Call Control App (connection) id")
    from_number: E164OrEmpty = Field("", description="your Telnyx number in E.164, the caller id of our calls")
    public_key: Ed25519KeyOrEmpty = Field("", description="base64 Ed25519 webhook key (portal: Keys & Credentials)")
    api_base_url: HttpUrl = Field(TELNYX_API_BASE_URL, description="the Telnyx API")
    voice: str = Field(
        "female",
        min_length=1,
        description=(
            "text-to-speech voice: `male` or `female` (Telnyx's `basic` level, `en-US` only), or a provider voice"
            " such as `AWS.Polly.Joanna`, `Azure.<voice>` or `Telnyx.<model>.<voice>` (`premium`); a pairing"
            " Telnyx would refuse stops start-up"
        ),
    )
    language: str = Field("en-US", description="text-to-speech language, one of those Telnyx lists for speak")
    ring_timeout_s: int = Field(
        30, ge=5, le=600, description="how long a call rings before it counts as unanswered (Telnyx allows 5 to 600)"
    )
    request_timeout_s: PositiveFloat = Field(10.0, description="timeout of one Telnyx API request")
    webhook_tolerance_s: PositiveInt = Field(
        300, description="how old a signed webhook may be before it is refused as a replay"
    )
    max_attempts: PositiveInt = Field(
        5, description="tries of one Telnyx request before the call fails (429s do not count)"
    )
    retry_base_delay_s: PositiveFloat = Field(
        0.5, description="first backoff between tries of a Telnyx request; it doubles, with jitter"
    )
    retry_max_delay_s: PositiveFloat = Field(8.0, description="longest backoff between tries of a Telnyx request")
    max_dials_per_second: PositiveFloat = Field(30.0, description="dial rate (Telnyx's default account limit)")
    max_concurrent_calls: PositiveInt = Field(2, description="calls in progress at once (a new Telnyx account's limit)")

    @property
    def is_live(self) -> bool:
        """With an API key the service talks to the real Telnyx, without one to the simulator."""
        return bool(self.api_key.get_secret_value())

    @model_validator(mode="after")
    def _live_account_is_complete(self) -> Self:
        for key in ("connection_id", "from_number", "public_key"):
            if self.is_live and not getattr(self, key):
                raise Refusal(key, "must be set when telnyx.api_key is set (see README: Using a real Telnyx account)")
        return self


class DatabaseConfig(_Section):
    path: DatabaseFile = Field(
        "var/dialajoke.sqlite3", min_length=1, description="the SQLite database (created when missing)"
    )
    retry_after_s: PositiveInt = Field(
        5,
        description=(
            "while the database cannot be written (disk full, read-only, locked): how long clients are told to wait"
            " (Retry-After) and how often due calls and webhook events are tried again"
        ),
    )


class JokesConfig(_Section):
    api_url: HttpUrlOrEmpty = Field(
        "", description="an icanhazdadjoke-style JSON API; empty: offline jokes from pyjokes"
    )
    timeout_s: PositiveFloat = Field(
        2.0, description="how long to wait for the joke API before an offline joke is told instead"
    )


class SchedulerConfig(_Section):
    default_region: Region = Field("US", description="region for numbers typed without `+`")
    default_timezone: TimeZoneOrEmpty = Field(
        "", description="IANA zone for bookings without one, e.g. `Europe/Dublin`; empty: the server's"
    )
    max_days_ahead: int = Field(30, ge=1, description="how far ahead a call can be booked (days)")
    misfire_grace_s: NonNegativeFloat = Field(
        300.0, description="a call that fell due while the service was down still rings if at most this late"
    )
    horizon_s: float = Field(
        3600.0,
        ge=60,
        description="only calls due this soon wait in memory; later ones are read from the database in time",
    )


class CallsConfig(_Section):
    stale_after_s: PositiveFloat = Field(
        300.0,
        description="a call in progress that hears nothing for this long ends `failed` (and is hung up); more than"
        f" the ring timeout and the {JOKE_TIME_LIMIT_S} s time limit",
    )


class WebhooksConfig(_Section):
    workers: PositiveInt = Field(32, description="webhook events processed at once")
    queue_size: int = Field(1000, ge=2, description="webhook events held in memory")
    max_attempts: PositiveInt = Field(5, description="tries to process one event before it is logged and set aside")
    retry_delay_s: NonNegativeFloat = Field(
        0.5, description="first pause between tries to process one event; it doubles, with jitter, up to 8 s"
    )


class SimulatorConfig(_Section):
    time_scale: NonNegativeFloat = Field(
        1.0, description="speed of the simulated calls: 1 is real time, 0 as fast as possible"
    )


class ProtectionConfig(_Section):
    """What protects the people the service rings; every limit is 0 (or empty) to turn it off."""

    calling_hours: CallingHoursText = Field(
        "09:00-20:00",
        description=(
            "when calls may ring, on the callee's clock (the zones their number may be in, every one of them);"
            " checked at booking and again just before dialing; empty: any time"
        ),
    )
    calling_hours_on_simulator: bool = Field(
        False,
        description=(
            "enforce calling hours on the embedded simulator too; off, a booking outside them is accepted there"
            " (nobody real is rung) with a note that live mode would refuse it"
        ),
    )
    allowed_countries: Regions = Field(
        (),
        description=(
            'region codes of the numbers that may be called, e.g. `["US", "CA"]`; empty: the country of'
            ' `telnyx.from_number` (the simulator\'s number is in the US); `["*"]`: every country. Satellite and'
            " international networks (+870, +881, +882, +883) are never called"
        ),
    )
    allowed_number_types: NumberTypes = Field(
        ("mobile", "fixed_line", "fixed_line_or_mobile"),
        description=(
            "kinds of number that may be called (phonenumbers' types: also `toll_free`, `voip`, `personal_number`,"
            " `pager`, `uan`, `voicemail`); premium-rate, shared-cost and unknown numbers never are"
        ),
    )
    max_calls_per_number_per_day: NonNegativeInt = Field(
        3, description="calls to one number in any 24 hours, by all users together, pending ones included; 0: off"
    )
    max_pending_per_number_per_user: NonNegativeInt = Field(
        1, description="calls one user may have waiting to ring the same number; 0: off"
    )
    max_pending_per_user: NonNegativeInt = Field(20, description="calls one user may have waiting to ring; 0: off")
    max_bookings_per_user_per_hour: NonNegativeInt = Field(
        30, description="bookings one user may make in any hour (429 with Retry-After past it); 0: off"
    )
    admin_max_pending_per_user: NonNegativeInt = Field(
        100,
        description="`max_pending_per_user` for an admin, so that a stolen admin key cannot ring the country; 0: off",
    )
    admin_max_bookings_per_user_per_hour: NonNegativeInt = Field(
        100, description="`max_bookings_per_user_per_hour` for an admin; 0: off"
    )
    max_calls_per_day: NonNegativeInt = Field(
        500,
        description=(
            "calls the service dials in any 24 hours, a ceiling on the bill: bookings past it are refused, and a due"
            " call past it ends `missed`; 0: off"
        ),
    )

    @model_validator(mode="after")
    def _every_country_stands_alone(self) -> Self:
        if "*" in self.allowed_countries and len(self.allowed_countries) > 1:
            raise Refusal(
                "allowed_countries", "lists `*` beside region codes: `*` allows every country, so list it alone"
            )
        return self


class AuthConfig(_Section):
    max_login_failures: NonNegativeInt = Field(
        5, description="failed sign-ins per name, and per address, before further tries are refused (429); 0: off"
    )
    login_window_s: int = Field(900, ge=1, le=86400, description="the window in which failed sign-ins are counted (s)")
    login_failure_delay_s: NonNegativeFloat = Field(
        1.0, description="a failed sign-in is answered after this pause, to slow down guessing (s)"
    )
    session_max_age_s: PositiveInt = Field(
        14 * 24 * 3600, description="how long a sign-in on the page lasts (s); changing the password ends the others"
    )
    password_threads: PositiveInt = Field(
        2, description="threads that check passwords (argon2id takes about 64 MiB and a good part of a second each)"
    )
    max_waiting_password_checks: NonNegativeInt = Field(
        16, description="password checks waiting for a thread before further sign-ins are refused at once (429)"
    )
    key_cache_s: NonNegativeFloat = Field(
        10.0,
        description=(
            "how long a checked API key or session is trusted without reading the database again (s): a key revoked"
            " or a user disabled from the command line is refused at most this much later"
        ),
    )


class MetricsConfig(_Section):
    token: SecretStr = Field(
        SecretStr(""),
        description="bearer token Prometheus presents for `/metrics`; empty: only admins may read it (never logged)",
    )


class CorsConfig(_Section):
    origins: Origins = Field(
        (), description="origins allowed to call `/api` from a browser (`*` alone for any; never with cookies)"
    )

    @model_validator(mode="after")
    def _any_origin_stands_alone(self) -> Self:
        if "*" in self.origins and len(self.origins) > 1:
            raise Refusal("origins", "lists `*` beside other origins: `*` allows every origin, so list it alone")
        return self


class Config(BaseSettings):
    """All the settings. ``Config()`` is the defaults alone: only load_config reads a file and the environment."""

    model_config = _STRICT | SettingsConfigDict(
        case_sensitive=True, env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_LEVEL_SEPARATOR
    )

    public_url: HttpUrl = Field(
        "http://127.0.0.1:8080",
        description="where Telnyx reaches the service; webhooks go to `public_url` + `/webhook`",
    )
    templates_dir: str = Field("templates", description="the folder of the Jinja2 templates")
    static_dir: str = Field(
        "static", description="the folder of the page's script and stylesheet, served at `/static/`"
    )
    log_level: LogLevel = Field("INFO", description="how much the service logs: `DEBUG`, `INFO`, `WARNING` or `ERROR`")
    log_format: LogFormat = Field(
        "auto",
        description="how log lines are written: `console` for a person, `json` for one object a line,"
        " or `auto`: `console` when stderr is a terminal, else `json`",
    )
    http: HttpConfig = HttpConfig()
    telnyx: TelnyxConfig = TelnyxConfig()
    database: DatabaseConfig = DatabaseConfig()
    jokes: JokesConfig = JokesConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    calls: CallsConfig = CallsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    cors: CorsConfig = CorsConfig()
    protection: ProtectionConfig = ProtectionConfig()
    auth: AuthConfig = AuthConfig()
    metrics: MetricsConfig = MetricsConfig()

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + "/webhook"

    @model_validator(mode="after")
    def _stale_calls_outlast_every_silence(self) -> Self:
        longest_silence_s = max(self.telnyx.ring_timeout_s, JOKE_TIME_LIMIT_S)
        if self.calls.stale_after_s <= longest_silence_s:
            raise Refusal(
                "calls.stale_after_s",
                f"must be more than {longest_silence_s} s: a call may ring that long (telnyx.ring_timeout_s), or"
                f" speak up to {JOKE_TIME_LIMIT_S} s, without a word from Telnyx",
            )
        return self

    @model_validator(mode="after")
    def _simulator_stays_on_this_machine(self) -> Self:
        if not self.telnyx.is_live and not is_loopback_host(self.http.host):
            raise Refusal(
                "http.host",
                f"is {self.http.host!r}, not loopback, and no telnyx.api_key is set: the embedded simulator is for"
                " trying the service on one machine; set telnyx.api_key (see README: Using a real Telnyx account)"
                " or listen on 127.0.0.1",
            )
        return self

    @property
    def is_public(self) -> bool:
        """Whether anyone beyond this machine can reach the service: it listens beyond it, or a proxy forwards
        ``public_url`` to it."""
        return not is_loopback_host(self.http.host) or not is_loopback_host(urlsplit(self.public_url).hostname or "")

    @property
    def data_dir(self) -> Path:
        """The folder of the database, where generated secrets are kept too."""
        return Path(self.database.path).parent

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The keyword arguments only: a config built in code must not change with the shell's environment."""
        return (init_settings,)


def each_setting(model: type[BaseModel] = Config, path: KeyPath = ()) -> Iterator[tuple[KeyPath, FieldInfo]]:
    """Every setting (not section) under ``model`` with its key path, in the models' order."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from each_setting(field.annotation, (*path, name))
        else:
            yield (*path, name), field


_SETTINGS = dict(each_setting())
_SECRET_KEYS = frozenset(".".join(path) for path, field in _SETTINGS.items() if field.annotation is SecretStr)
"""Keys whose values no error message shows: telnyx.api_key."""


# --- Loading ---------------------------------------------------------------------------------------


def load_config(path: Path | str = DEFAULT_CONFIG_PATH, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path``, apply ``DIALAJOKE_*`` overrides from ``environ``, validate.

    :raises ConfigError: with one line naming the offending key.
    """
    sources = (_Environment(environ or {}), InitSettingsSource(Config, init_kwargs=_read_json(Path(path))))
    try:
        return Config(_build_sources=(sources, {}))
    except ValidationError as error:
        raise ConfigError(one_line(error, _SECRET_KEYS)) from None


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


class _Environment(EnvSettingsSource):
    """The ``DIALAJOKE_*`` variables of the mapping load_config was given (tests pass dicts, not os.environ).

    A variable that names no setting is refused, not ignored, so a typo cannot pass
    unnoticed; a list is JSON (``["a","b"]``) or comma-separated (``a, b``).
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Config)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        variables: dict[str, str | None] = {}
        for name, text in self._environ.items():
            if not name.startswith(ENV_PREFIX):
                continue
            key = name.removeprefix(ENV_PREFIX).lower()
            field = _SETTINGS.get(tuple(key.split(ENV_LEVEL_SEPARATOR)))
            if field is None:
                raise ConfigError(
                    f"{name} does not name a setting (levels are joined by '__', e.g. DIALAJOKE_HTTP__PORT)"
                )
            variables[ENV_PREFIX + key] = _list_as_json(text) if typing.get_origin(field.annotation) is tuple else text
        return variables


def _list_as_json(text: str) -> str:
    """A list from the environment, ``["a","b"]`` or ``a, b``, as the JSON that pydantic-settings reads."""
    try:
        if isinstance(json.loads(text), list):
            return text
    except ValueError:
        pass
    return json.dumps([part.strip() for part in text.split(",") if part.strip()])
