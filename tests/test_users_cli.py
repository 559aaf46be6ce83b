"""``python -m dialajoke users ...`` as an operator runs it: a real process on the service's own settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dialajoke.accounts import Accounts, SignInRefused
from dialajoke.config import AuthConfig
from dialajoke.models import Principal
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .service import PROJECT

PASSWORD = "correct horse battery"
COMMAND_TIMEOUT_S = 60


class Cli:
    """The command line on one settings file, and a look at the database it writes."""

    def __init__(self, tmp_path: Path, clock: ManualClock) -> None:
        self.database = tmp_path / "data" / "dialajoke.sqlite3"
        self.config = tmp_path / "config.json"
        self.config.write_text(json.dumps({"database": {"path": str(self.database)}}))
        self.clock = clock

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run ``users ARGS`` with ``stdin`` piped in (never a terminal), and the service's variables cleared."""
        environ = {name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")}
        return subprocess.run(
            [sys.executable, "-m", "dialajoke", "--config", str(self.config), "users", *args],
            cwd=PROJECT,
            env=environ,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> list[str]:
        """The lines of stdout of a command that succeeded, having checked it said nothing on stderr."""
        result = self.run(*args, stdin=stdin)
        assert (result.returncode, result.stderr) == (0, ""), result
        return result.stdout.splitlines()

    def refused(self, *args: str, stdin: str = "", status: int = 1) -> str:
        """The one line on stderr of a command refused with ``status``, having checked stdout is empty."""
        result = self.run(*args, stdin=stdin)
        assert (result.returncode, result.stdout) == (status, ""), result
        assert result.stderr.count("\n") == 1, result.stderr
        return result.stderr.strip()

    async def principal_for(self, key: str) -> Principal | None:
        store = await SqliteCallStore.open(self.database, self.clock, exclusive=False)
        accounts = Accounts(store, self.clock, AuthConfig())
        try:
            return await accounts.principal_for_key(key)
        finally:
            accounts.close()
            await store.close()

    async def signs_in(self, name: str, password: str) -> bool:
        store = await SqliteCallStore.open(self.database, self.clock, exclusive=False)
        accounts = Accounts(store, self.clock, AuthConfig(login_failure_delay_s=0))
        try:
            await accounts.sign_in(name, password, "::1")
        except SignInRefused:
            return False
        finally:
            accounts.close()
            await store.close()
        return True


@pytest.fixture
def cli(tmp_path: Path, clock: ManualClock) -> Cli:
    return Cli(tmp_path, clock)


async def test_users_add_prints_a_working_key_as_its_last_line(cli: Cli) -> None:
    result = cli.run("add", "bob", "--password-stdin", stdin=PASSWORD + "\n")

    assert (result.returncode, result.stderr) == (0, ""), result
    *said, key = result.stdout.splitlines()
    principal = await cli.principal_for(key)
    assert principal is not None
    assert (principal.name, principal.is_admin) == ("bob", False)
    assert not any(key in line or PASSWORD in line for line in said)
    assert await cli.signs_in("bob", PASSWORD)
    assert not await cli.signs_in("bob", PASSWORD + "\n")


async def test_without_a_password_or_a_terminal_the_user_has_api_keys_only(cli: Cli) -> None:
    *said, key = cli.ok("add", "robot", "--admin")

    principal = await cli.principal_for(key)
    assert principal is not None
    assert (principal.name, principal.is_admin) == ("robot", True)
    assert "uses API keys only" in said[0]
    assert not await cli.signs_in("robot", "")


def test_refusals_are_one_line_on_stderr_with_status_1(cli: Cli) -> None:
    cli.ok("add", "bob")

    assert "a user named 'BOB' exists already" in cli.refused("add", "BOB")
    assert "at least 12 characters" in cli.refused("add", "carol", "--password-stdin", stdin="hunter2\n")
    assert "1 to 64 letters, digits" in cli.refused("add", "carol smith", "--password-stdin", stdin=PASSWORD)
    assert "no user named 'nobody'" in cli.refused("disable", "nobody")
    assert "no user named 'nobody'" in cli.refused("keys", "add", "nobody")
    assert "no key 'abcdefgh'" in cli.refused("keys", "revoke", "bob", "abcdefgh")
    assert "--password-stdin" in cli.refused("password", "bob")
    cli.ok("add", "root", "--admin")
    assert "root is the last admin" in cli.refused("disable", "root")
    assert [line.split()[0] for line in cli.ok("list")] == ["NAME", "bob", "root"]


def test_a_settings_error_is_status_2(cli: Cli, tmp_path: Path) -> None:
    cli.config.write_text("{not json")
    assert "configuration error" in cli.refused("list", status=2)

    cli.config.write_text(json.dumps({"auth": {"max_login_failures": -1}}))
    assert "auth.max_login_failures" in cli.refused("list", status=2)


def test_a_database_that_cannot_be_opened_is_status_1(cli: Cli, tmp_path: Path) -> None:
    cli.config.write_text(json.dumps({"database": {"path": str(tmp_path)}}))

    assert "set database.path" in cli.refused("list")


def test_users_list_shows_who_is_admin_disabled_and_how_many_keys_are_in_use(cli: Cli) -> None:
    assert "no users yet" in cli.ok("list")[0]
    cli.ok("add", "root", "--admin")
    cli.ok("add", "bob")
    cli.ok("keys", "add", "bob", "--name", "ci")
    revoked = cli.ok("keys", "list", "bob")[1].split()[0]
    cli.ok("keys", "revoke", "bob", revoked)
    cli.ok("add", "carol")
    cli.ok("disable", "carol")

    header, *rows = cli.ok("list")

    assert header.split() == ["NAME", "ADMIN", "DISABLED", "KEYS"]
    assert [row.split() for row in rows] == [
        ["bob", "no", "-", "1"],
        ["carol", "no", *rows[1].split()[2:5], "1"],
        ["root", "yes", "-", "1"],
    ]
    assert rows[1].split()[4] == "UTC"


async def test_a_disabled_users_keys_stop_working(cli: Cli) -> None:
    key = cli.ok("add", "bob")[-1]

    said = cli.ok("disable", "bob")

    assert "disabled bob" in said[0]
    assert "auth.key_cache_s" in said[0]
    assert await cli.principal_for(key) is None


async def test_keys_are_added_listed_and_revoked_by_id(cli: Cli) -> None:
    first = cli.ok("add", "bob")[-1]
    *said, second = cli.ok("keys", "add", "bob", "--name", "deploy bot")

    header, *rows = cli.ok("keys", "list", "bob")
    assert header.split() == ["ID", "NAME", "CREATED", "LAST", "USED", "REVOKED"]
    assert [row.split()[0] for row in rows] == [second[3:11], first[3:11]]
    assert "deploy bot" in rows[0]
    assert not any(first in line or second in line for line in [*said, header, *rows])

    revoked = cli.ok("keys", "revoke", "bob", second[3:11])

    assert f"revoked API key {second[3:11]} (deploy bot) of bob" in revoked[0]
    assert await cli.principal_for(second) is None
    assert await cli.principal_for(first) is not None
    assert cli.ok("keys", "list", "bob")[1].split()[-1] == "UTC"


async def test_users_password_sets_a_new_password(cli: Cli) -> None:
    cli.ok("add", "bob", "--password-stdin", stdin=PASSWORD)

    said = cli.ok("password", "bob", "--password-stdin", stdin="a brand new passphrase\n")

    assert "new password set for bob" in said[0]
    assert not any("passphrase" in line for line in said)
    assert await cli.signs_in("bob", "a brand new passphrase")
    assert not await cli.signs_in("bob", PASSWORD)


async def test_users_are_managed_while_the_service_holds_the_database(cli: Cli, clock: ManualClock) -> None:
    cli.database.parent.mkdir()
    service_store = await SqliteCallStore.open(cli.database, clock)
    try:
        key = cli.ok("add", "bob")[-1]
        principal = await Accounts(service_store, clock, AuthConfig()).principal_for_key(key)
    finally:
        await service_store.close()

    assert principal is not None
    assert principal.name == "bob"
