"""``python -m dialajoke dnc ...`` as an operator runs it: a real process on the service's own settings."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialajoke.models import Call, CallStatus, Direction, DoNotCallEntry
from dialajoke.store import SqliteCallStore

from .clock import ManualClock
from .service import PROJECT

COMMAND_TIMEOUT_S = 60
NUMBER = "+12025550142"


class Cli:
    """The ``dnc`` command on one settings file, and a look at the database it writes."""

    def __init__(self, tmp_path: Path, clock: ManualClock) -> None:
        self.database = tmp_path / "data" / "dialajoke.sqlite3"
        self.config = tmp_path / "config.json"
        self.config.write_text(json.dumps({"database": {"path": str(self.database)}}))
        self.clock = clock

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``dnc ARGS`` with the service's variables cleared."""
        environ = {name: value for name, value in os.environ.items() if not name.startswith("DIALAJOKE_")}
        return subprocess.run(
            [sys.executable, "-m", "dialajoke", "--config", str(self.config), "dnc", *args],
            cwd=PROJECT,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str) -> tuple[list[str], list[str]]:
        """The lines of stdout and of stderr (the log of what changed) of a command that succeeded."""
        result = self.run(*args)
        assert result.returncode == 0, result
        return result.stdout.splitlines(), result.stderr.splitlines()

    def refused(self, *args: str, status: int = 1) -> str:
        """The one line on stderr of a command refused with ``status``, having checked stdout is empty."""
        result = self.run(*args)
        assert (result.returncode, result.stdout) == (status, ""), result
        assert result.stderr.count("\n") == 1, result.stderr
        return result.stderr.strip()

    async def entry(self, number: str) -> DoNotCallEntry | None:
        store = await SqliteCallStore.open(self.database, self.clock, exclusive=False)
        try:
            return await store.do_not_call_entry(number)
        finally:
            await store.close()


@pytest.fixture
def cli(tmp_path: Path, clock: ManualClock) -> Cli:
    return Cli(tmp_path, clock)


async def test_dnc_add_puts_the_number_on_the_list_and_logs_who_did(cli: Cli) -> None:
    said, logged = cli.ok("add", "(202) 555-0142")

    assert said == [f"added {NUMBER} to the do-not-call list; scheduled calls to it cancelled: 0"]
    assert len(logged) == 1
    assert logged[0].endswith(
        f"do-not-call: +1202555****42 added by the command line (user {getpass.getuser()}); 0 scheduled calls cancelled"
    )
    entry = await cli.entry(NUMBER)
    assert entry is not None
    assert (entry.added_by, entry.call_id) == ("the command line", None)


async def test_dnc_add_cancels_the_calls_scheduled_to_the_number(cli: Cli, clock: ManualClock) -> None:
    cli.database.parent.mkdir()
    service_store = await SqliteCallStore.open(cli.database, clock)
    try:
        booked = await _book(service_store, NUMBER)
        other = await _book(service_store, "+12025550143")

        said, _ = cli.ok("add", NUMBER)

        assert said == [f"added {NUMBER} to the do-not-call list; scheduled calls to it cancelled: 1"]
        assert [await _status(service_store, call) for call in (booked, other)] == [
            CallStatus.CANCELLED,
            CallStatus.SCHEDULED,
        ]
        assert await service_store.do_not_call_entry(NUMBER) is not None
    finally:
        await service_store.close()


async def test_dnc_remove_takes_the_number_off_and_logs_who_did(cli: Cli) -> None:
    cli.ok("add", NUMBER)

    said, logged = cli.ok("remove", "+1 202 555 0142")

    assert said == [f"removed {NUMBER} from the do-not-call list: it can be booked again"]
    assert logged[0].endswith(f"do-not-call: +1202555****42 removed by the command line (user {getpass.getuser()})")
    assert await cli.entry(NUMBER) is None
    assert cli.ok("list")[0] == ["no number is on the do-not-call list"]


async def test_a_number_no_booking_would_take_can_still_be_removed(cli: Cli, clock: ManualClock) -> None:
    cli.database.parent.mkdir()
    store = await SqliteCallStore.open(cli.database, clock, exclusive=False)
    try:
        await store.add_to_do_not_call("+1202555", added_by="the callee, pressing 9 on call 7", call_id=7)
    finally:
        await store.close()
    assert "wrong length" in cli.refused("add", "+1202555")

    said, _ = cli.ok("remove", "+1202555")

    assert said == ["removed +1202555 from the do-not-call list: it can be booked again"]
    assert await cli.entry("+1202555") is None


def test_dnc_list_shows_the_latest_first_with_who_added_each(cli: Cli) -> None:
    assert cli.ok("list") == (["no number is on the do-not-call list"], [])
    cli.ok("add", NUMBER)
    cli.ok("add", "+442079460958")

    said, logged = cli.ok("list")

    assert logged == []
    header, *rows = said
    assert header.split() == ["NUMBER", "ADDED", "CALL", "ADDED", "BY"]
    assert [row.split()[0] for row in rows] == ["+442079460958", NUMBER]
    assert all(row.split()[3:] == ["UTC", "-", "the", "command", "line"] for row in rows)


def test_adding_a_number_twice_keeps_the_first_entry(cli: Cli) -> None:
    cli.ok("add", NUMBER)

    said, logged = cli.ok("add", NUMBER)

    assert said == [f"{NUMBER} is on the do-not-call list already (added by the command line)"]
    assert logged == []


def test_refusals_are_one_line_on_stderr_with_status_1(cli: Cli) -> None:
    assert "'+1 202 555': this number has the wrong length" in cli.refused("add", "+1 202 555")
    assert "this is not a phone number" in cli.refused("remove", "call me")
    assert f"{NUMBER} is not on the do-not-call list; nothing was changed" in cli.refused("remove", NUMBER)


def test_a_settings_error_is_status_2(cli: Cli) -> None:
    cli.config.write_text("{not json")

    assert "configuration error" in cli.refused("list", status=2)


def test_a_database_that_cannot_be_opened_is_status_1(cli: Cli, tmp_path: Path) -> None:
    cli.config.write_text(json.dumps({"database": {"path": str(tmp_path)}}))

    assert "set database.path" in cli.refused("list")


async def _book(store: SqliteCallStore, to: str) -> Call:
    return await store.add_call(
        direction=Direction.OUTBOUND,
        to=to,
        from_="+13125550100",
        at=datetime.now(UTC) + timedelta(hours=1),
        timezone="UTC",
        status=CallStatus.SCHEDULED,
        detail="booked",
    )


async def _status(store: SqliteCallStore, call: Call) -> CallStatus:
    found = await store.get_call(call.id)
    assert found is not None
    return found.status
