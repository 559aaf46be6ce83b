#!/usr/bin/env python3
"""Check that this machine can run Dial-A-Joke, and say how to fix what is missing.

Run it on a new machine after ``make install``, or whenever the service will not start::

    python3 setup/confirm_environment.py            # also: make check, .venv/bin/invoke check
    python3 setup/confirm_environment.py --config other.json --online

Each check prints one line: ``[ ok ]`` when it is fine, ``[FAIL]`` with the command or
change that fixes it, ``[skip]`` when it cannot run until an earlier problem is fixed.
When nothing failed it prints "Success! Your local environment is set up correctly."
and exits 0; otherwise it exits 1.

Why it is written the way it is: it must give useful answers on a machine that is *not*
set up yet, run by the system ``python3``, outside the virtual environment, perhaps
with an older Python. So only the standard library is imported at the top; the
service's own code (``dialajoke``) and its dependencies are imported inside the checks
that need them, and their absence is reported rather than crashing. The configuration
is validated by the service's own ``load_config``, so this check and ``make run`` can
never disagree about what a valid setting is. Nothing goes over the network unless
``--online`` asks for it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import re
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

MINIMUM_PYTHON = (3, 11)
"""The oldest Python the project supports; the README ("The two commands") says the same."""

PROJECT = Path(__file__).resolve().parent.parent
VENV = PROJECT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = PROJECT / "requirements.txt"
DEFAULT_CONFIG = PROJECT / "config.dev.json"
SUCCESS = "Success! Your local environment is set up correctly."
RERUN_IN_VENV = "make install, then .venv/bin/python setup/confirm_environment.py"

if TYPE_CHECKING:  # at run time dialajoke is imported only where it is needed, as it may be missing
    from dialajoke.config import Config, TelnyxConfig


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was found and, when it is a problem, how to fix it."""

    status: str  # "ok", "FAIL" or "skip"
    what: str
    fix: str = ""

    @classmethod
    def ok(cls, what: str) -> Check:
        return cls("ok", what)

    @classmethod
    def fail(cls, what: str, fix: str) -> Check:
        return cls("FAIL", what, fix)

    @classmethod
    def skip(cls, what: str) -> Check:
        return cls("skip", what)

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        text = f"[{self.status:^4}] {self.what}"
        return f"{text} -> fix: {self.fix}" if self.fix else text


# --- Python and the virtual environment -------------------------------------------------


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    """The service's code uses 3.11 features (datetime.UTC, for one): an older Python cannot even import it."""
    needed = ".".join(map(str, MINIMUM_PYTHON))
    found = ".".join(map(str, version))
    if version[:2] >= MINIMUM_PYTHON:
        return Check.ok(f"Python {found} (Dial-A-Joke needs {needed} or newer)")
    return Check.fail(
        f"Python {found} is too old: Dial-A-Joke needs {needed} or newer",
        f"install Python {needed} or newer, then: make clean && make install PYTHON=python{needed}",
    )


def check_virtualenv() -> Check:
    """Packages are installed into .venv by `make install`; another Python does not see them."""
    if _same_path(Path(sys.prefix), VENV):
        return Check.ok(f"running inside the project's virtual environment ({_shown(VENV)})")
    if sys.prefix != sys.base_prefix:
        where = f"inside another virtual environment ({sys.prefix})"
    else:
        where = f"with {sys.executable}, outside any virtual environment"
    return Check.fail(f"not inside the project's virtual environment ({_shown(VENV)}): running {where}", RERUN_IN_VENV)


# --- Packages from requirements.txt ----------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One line of requirements.txt: a distribution name and its version specifier (``==3.14.5``)."""

    name: str
    specifier: str

    def allows(self, version: str) -> bool:
        """Judge with ``packaging`` when it is importable, else compare ``==`` pins as text."""
        try:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet
        except ImportError:
            return self._allows_without_packaging(version)
        try:
            return SpecifierSet(self.specifier).contains(version, prereleases=True)
        except InvalidSpecifier:
            return self._allows_without_packaging(version)

    def _allows_without_packaging(self, version: str) -> bool:
        # The project pins exact versions; any other operator cannot be judged here, so it passes
        # and only the import is checked.
        pinned = re.fullmatch(r"==\s*(\S+)", self.specifier)
        return pinned is None or pinned.group(1).lower() == version.strip().lower()


_REQUIREMENT_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def read_requirements(path: Path) -> list[Pin]:
    """The pins of a requirements file; comments, blank lines and pip options (``-r``) are left out."""
    pins = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _REQUIREMENT_LINE.match(line)
        if match:
            pins.append(Pin(match.group(1), match.group(2).strip()))
    return pins


def check_packages(requirements: Path = REQUIREMENTS) -> list[Check]:
    """One line per installed package, and one naming every package that is not installed."""
    fix = _pip_install_fix()
    try:
        import importlib.metadata
    except ImportError:  # Python 3.7 and older
        return [Check.fail("cannot list the installed packages: this Python has no importlib.metadata", fix)]
    try:
        pins = read_requirements(requirements)
    except OSError as exc:
        return [Check.fail(f"cannot read {_shown(requirements)}: {exc.strerror}", "git checkout requirements.txt")]
    checks: list[Check] = []
    missing = []
    for pin in pins:
        try:
            version = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(pin.name)
            continue
        checks.append(_check_installed(pin, version, fix))
    if missing:
        checks.append(Check.fail(f"not installed for this Python: {', '.join(missing)}", fix))
    return checks


def _check_installed(pin: Pin, version: str, fix: str) -> Check:
    if not pin.allows(version):
        return Check.fail(f"{pin.name} {version} is installed, requirements.txt wants {pin.specifier}", fix)
    for module in _modules_of(pin.name):
        try:
            importlib.import_module(module)
        except Exception as exc:  # a broken install can fail in any way; report it, do not crash
            return Check.fail(
                f"{pin.name} {version} is installed but `import {module}` fails: {exc}",
                f"{_shown(VENV_PYTHON)} -m pip install --force-reinstall '{pin.name}{pin.specifier}'",
            )
    return Check.ok(f"{pin.name} {version} imports (requirements.txt: {pin.specifier or 'any version'})")


def _modules_of(distribution: str) -> list[str]:
    """The top-level modules a distribution provides: PyNaCl -> nacl, aiohttp-cors -> aiohttp_cors.

    Private modules are left out unless they are all it provides (argon2-cffi-bindings -> _argon2_cffi_bindings).
    """
    wanted = _normalized(distribution)
    modules = sorted(module for module, owners in _module_owners().items() if wanted in owners)
    public = [module for module in modules if not module.startswith("_")]
    return public or modules or [distribution.lower().replace("-", "_")]


@functools.lru_cache(maxsize=None)  # noqa: UP033 - functools.cache is 3.9+; older Pythons must still get their report
def _module_owners() -> dict[str, set[str]]:
    """Top-level module -> normalized names of the distributions providing it (one scan of site-packages)."""
    import importlib.metadata

    scan = getattr(importlib.metadata, "packages_distributions", dict)  # Python 3.10 and newer
    return {module: {_normalized(owner) for owner in owners} for module, owners in scan().items()}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_install_fix() -> str:
    """Installing for another Python would not help the service: the fix is to use (or make) the venv."""
    if _same_path(Path(sys.prefix), VENV):
        return f"{_shown(VENV_PYTHON)} -m pip install -r requirements.txt"
    return RERUN_IN_VENV


# --- The configuration ------------------------------------------------------------------------


def load_service_config(path: Path) -> tuple[Check, Config | None]:
    """Validate with the service's own load_config and voice check; the Config, or None when it is unusable."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))  # run as a script, only setup/ is on the path
    try:
        from dialajoke.app import check_voice
        from dialajoke.config import ConfigError, load_config
    except Exception as exc:  # missing dependencies, or a Python too old for the service's code
        reason = f"{type(exc).__name__}: {exc}"
        return Check.fail(f"cannot load the service's code to validate {_shown(path)} ({reason})", RERUN_IN_VENV), None
    try:
        config = load_config(path, os.environ)
        check_voice(config.telnyx)
    except ConfigError as exc:
        fix = f"edit {_shown(path)}, or the DIALAJOKE_* variable that overrides that key (README: Configuration)"
        return Check.fail(f"{_shown(path)}: {exc}", fix), None
    overrides = sorted(name for name in os.environ if name.startswith("DIALAJOKE_"))
    note = f", with overrides from {', '.join(overrides)}" if overrides else ""
    return Check.ok(f"{_shown(path)} is readable and valid{note}"), config


def check_port(host: str, port: int) -> Check:
    """Bind the address briefly, as the service will: a running copy or another program may hold it."""
    if port == 0:
        return Check.ok("http.port is 0: the system will pick a free port at start-up")
    problem = _bind_problem(host, port)
    if problem is None:
        return Check.ok(f"http.port {port} on {host or 'all interfaces'} is free")
    return Check.fail(
        f"http.port {port} on {host or 'all interfaces'} cannot be used: {problem}",
        f"stop what listens there (`ss -ltnp 'sport = :{port}'` names it) or choose another port,"
        f" e.g. DIALAJOKE_HTTP__PORT={port + 1 if port < 65535 else 8080}",
    )


def _bind_problem(host: str, port: int) -> str | None:
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"http.host {host!r} does not resolve ({exc.strerror})"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            if os.name == "posix":
                # As asyncio does for the service: a recently closed connection lingering in TIME_WAIT
                # does not stop it from listening, so it must not fail this check either.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return f"{address[0]}: {exc.strerror}"
    return None


def check_database_folder(database_path: str) -> Check:
    """SQLite needs to create the file and its -wal/-shm companions next to it, so the folder must be writable."""
    database = _from_project(database_path)
    folder = database.parent
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return Check.fail(
            f"database folder {_shown(existing)} is not writable ({exc.strerror})",
            f"chmod u+w {_shown(existing)}, or set database.path to a file in a writable folder",
        )
    if database.exists() and not os.access(database, os.W_OK):
        return Check.fail(f"database {_shown(database)} is read-only", f"chmod u+w {_shown(database)}")
    if existing != folder:
        return Check.ok(f"database folder {_shown(folder)} will be created in {_shown(existing)}, which is writable")
    return Check.ok(f"database folder {_shown(folder)} is writable")


# --- Telnyx ------------------------------------------------------------------------------------


def check_telnyx(telnyx: TelnyxConfig) -> list[Check]:
    """Offline: do the four settings look like what the Telnyx portal hands out? The key is never shown."""
    if not telnyx.is_live:
        return [Check.ok("Telnyx: no telnyx.api_key, so calls go to the embedded simulator")]
    from dialajoke.config import is_e164, is_ed25519_public_key

    portal = "copy it from the Telnyx portal (README: Using a real Telnyx account)"
    return [
        _looks(
            telnyx.api_key.get_secret_value().startswith("KEY"),
            "telnyx.api_key looks like a Telnyx API v2 key (starts with KEY)",
            "telnyx.api_key does not start with KEY, so it is not a Telnyx API v2 key",
            f"{portal}: Account settings, API Keys",
        ),
        _looks(
            telnyx.connection_id.isdigit(),
            f"telnyx.connection_id {telnyx.connection_id} looks like a Call Control Application id (digits)",
            f"telnyx.connection_id {telnyx.connection_id!r} is not a Call Control Application id (digits only)",
            f"{portal}: Voice, Programmable Voice, your application's id",
        ),
        _looks(
            is_e164(telnyx.from_number),
            f"telnyx.from_number {telnyx.from_number} is a valid number in E.164 form",
            f"telnyx.from_number {telnyx.from_number!r} is not a valid number in E.164 form such as +13125550100",
            f"{portal}: Numbers, My Numbers",
        ),
        _looks(
            is_ed25519_public_key(telnyx.public_key),
            "telnyx.public_key is the base64 of a 32-byte Ed25519 key",
            "telnyx.public_key is not the base64 of a 32-byte Ed25519 key",
            f"{portal}: Keys & Credentials, Public Key",
        ),
    ]


def _looks(fine: bool, ok: str, wrong: str, fix: str) -> Check:
    return Check.ok(ok) if fine else Check.fail(wrong, fix)


def check_telnyx_online(telnyx: TelnyxConfig) -> list[Check]:
    """Ask Telnyx itself, with two cheap read-only requests: is the key accepted, does the application exist?"""
    if not telnyx.is_live:
        return [Check.skip("--online: there is no telnyx.api_key to try")]
    key = _telnyx_get(telnyx, "/balance")
    if key is not None:
        return [key, Check.skip("--online: telnyx.connection_id is checked once the API key works")]
    checks = [Check.ok(f"Telnyx accepted telnyx.api_key (GET {telnyx.api_base_url}/balance)")]
    application_path = "/call_control_applications/" + urllib.parse.quote(telnyx.connection_id, safe="")
    application = _telnyx_get(telnyx, application_path)
    if application is None:
        checks.append(Check.ok(f"Telnyx knows the Call Control Application {telnyx.connection_id}"))
    else:
        checks.append(application)
    return checks


def _telnyx_get(telnyx: TelnyxConfig, path: str) -> Check | None:
    """None when Telnyx answers 2xx, else the failed check that says why."""
    request = urllib.request.Request(
        telnyx.api_base_url.rstrip("/") + path,
        headers={"Authorization": f"Bearer {telnyx.api_key.get_secret_value()}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=telnyx.request_timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        return _telnyx_refusal(path, exc.code, _telnyx_detail(exc.read()))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check.fail(
            f"cannot reach Telnyx at {telnyx.api_base_url}: {reason}",
            "check the network and telnyx.api_base_url, or run without --online",
        )


def _telnyx_refusal(path: str, status: int, detail: str) -> Check:
    if status in (401, 403):
        return Check.fail(
            f"Telnyx refused telnyx.api_key ({status}{detail})",
            "create a new API key in the Telnyx portal (Account settings, API Keys) and set telnyx.api_key",
        )
    if status == 404 and path.startswith("/call_control_applications/"):
        return Check.fail(
            f"this Telnyx account has no Call Control Application with telnyx.connection_id ({status}{detail})",
            "copy the application's id from the Telnyx portal (Voice, Programmable Voice) into telnyx.connection_id",
        )
    return Check.fail(f"Telnyx answered GET {path} with {status}{detail}", "try again later, or run without --online")


def _telnyx_detail(body: bytes) -> str:
    """Telnyx's own words from an error body ({"errors": [{"title": ..., "detail": ...}]}), if any."""
    try:
        error = json.loads(body)["errors"][0]
        return f": {error.get('detail') or error['title']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


# --- Putting it together ---------------------------------------------------------------------


def run_checks(config_path: Path, online: bool) -> Iterator[Check]:
    """Every check in order; those that need a valid configuration are skipped without one."""
    yield check_python()
    yield check_virtualenv()
    yield from check_packages()
    config_check, config = load_service_config(config_path)
    yield config_check
    if config is None:
        yield Check.skip("http.port, database folder and Telnyx settings: checked once the configuration loads")
        return
    yield check_port(config.http.host, config.http.port)
    yield check_database_folder(config.database.path)
    yield from check_telnyx(config.telnyx)
    if online:
        yield from check_telnyx_online(config.telnyx)


def report(checks: Iterable[Check]) -> int:
    """Print each check as it finishes; the exit status is 0 only when none failed."""
    failures = 0
    for check in checks:
        print(check.line(), flush=True)
        failures += check.failed
    if failures:
        print(f"{failures} problem{'s' if failures > 1 else ''} found: fix the [FAIL] lines above and run this again.")
        return 1
    print(SUCCESS)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="confirm_environment.py",
        description="Check that this machine can run Dial-A-Joke, one line per check, with the fix for each problem.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="settings file to validate (default: config.dev.json); DIALAJOKE_* variables override it",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask Telnyx whether the API key and connection id work (two read-only requests)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return report(run_checks(args.config, args.online))


def _from_project(path: str) -> Path:
    """Relative paths in the configuration are taken from the project folder, where `make run` starts."""
    return Path(path) if Path(path).is_absolute() else PROJECT / path


def _same_path(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a.resolve())) == os.path.normcase(str(b.resolve()))


def _shown(path: Path) -> str:
    """Paths inside the project relative to it (.venv, var), others as they are."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(PROJECT))  # not resolve(): .venv/bin/python is a link
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
