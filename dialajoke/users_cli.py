"""``python -m dialajoke [--config PATH] users ...``: manage users and their API keys from the command line.

It reads the service's own settings (the file and ``DIALAJOKE_*``), and opens the
database beside a running service: SQLite keeps the two apart, and the service sees a
key revoked or a user disabled here within ``auth.key_cache_s``. A command that makes a
key prints it as the last line of its standard output, for scripts to take; no other
line ever holds a password or a key.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from .accounts import Accounts, AccountsError, LastAdmin, UserExists, check_user_name
from .clock import SystemClock
from .config import Config, ConfigError, load_config
from .logs import configure_logging
from .models import ApiKey, User
from .store import CannotOpenDatabase, SqliteCallStore, StorageUnavailable

DESCRIPTION = (
    "Manage users and their API keys, with the service's own settings (--config, DIALAJOKE_*), even while it runs."
    " A command that makes a key prints it as the last line of its output."
)
DEFAULT_KEY_NAME = "default"
QUIET_LOG_LEVEL = "WARNING"
"""Each action says what it did; what the store tells the service's log (a schema brought up to date) is noise here."""

Action = Callable[[Accounts, argparse.Namespace], Awaitable[None]]


class Refused(Exception):
    """A refusal of the command line itself (no password given, two that differ); nothing was changed."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``users`` command and its actions, under the service's own parser."""
    users = commands.add_parser("users", help="manage users and their API keys", description=DESCRIPTION)
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a user and print a new API key for them (last line)")
    add.add_argument("name", help="1 to 64 letters, digits, '.', '_', '-' or '@'")
    add.add_argument("--admin", action="store_true", help="may see and manage every call and user")
    _password_argument(add, "without it, asked for at a terminal; elsewhere the user signs in with API keys only")
    add.set_defaults(run=_add)

    actions.add_parser("list", help="list users: name, admin, disabled, keys in use").set_defaults(run=_list)

    disable = actions.add_parser("disable", help="refuse a user's sign-ins and keys from now on")
    disable.add_argument("name")
    disable.set_defaults(run=_disable)

    password = actions.add_parser("password", help="set a user's password (ends their sessions on the page)")
    password.add_argument("name")
    _password_argument(password, "without it, asked for at a terminal")
    password.set_defaults(run=_password)

    keys = actions.add_parser("keys", help="a user's API keys").add_subparsers(
        dest="keys_action", metavar="ACTION", required=True
    )
    add_key = keys.add_parser("add", help="print a new API key for the user (last line)")
    add_key.add_argument("name", help="the user")
    add_key.add_argument(
        "--name", dest="label", default=DEFAULT_KEY_NAME, help="what the key is for (default: %(default)s)"
    )
    add_key.set_defaults(run=_add_key)
    list_keys = keys.add_parser("list", help="list the user's keys with their last use")
    list_keys.add_argument("name", help="the user")
    list_keys.set_defaults(run=_list_keys)
    revoke = keys.add_parser("revoke", help="refuse one of the user's keys from now on")
    revoke.add_argument("name", help="the user")
    revoke.add_argument("key_id", help="the key's id, as `users keys list` shows it")
    revoke.set_defaults(run=_revoke_key)


def _password_argument(parser: argparse.ArgumentParser, without: str) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help=f"read the password from the first line of stdin; {without}"
    )


def main(args: argparse.Namespace) -> int:
    """Run one ``users`` action: 0 done, 1 refused (the reason on one line of stderr), 2 a settings error."""

    def act(config: Config) -> None:
        args.password = _read_password(args)
        asyncio.run(_run(config, args.run, args))

    return run_action("users", args, act, (Refused, AccountsError, UserExists, LastAdmin))


def run_action(
    command: str, args: argparse.Namespace, act: Callable[[Config], None], refusals: tuple[type[Exception], ...]
) -> int:
    """What every command of the service's own command line does around its action (``users``, ``dnc``).

    The service's settings are read as the service reads them; the store's own log is quiet. Exit
    0 done, 1 refused (one of ``refusals``, or the database could not be opened or written: the
    reason on one line of stderr), 2 a settings error.
    """
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as exc:
        print(f"dialajoke: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(QUIET_LOG_LEVEL)
    refused: tuple[type[Exception], ...] = (*refusals, CannotOpenDatabase, StorageUnavailable)
    try:
        act(config)
    except refused as exc:
        print(f"dialajoke {command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dialajoke {command}: interrupted; nothing was changed", file=sys.stderr)
        return 1
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    """The password an action sets: from stdin's first line, or asked twice at a terminal; None when neither.

    Read before the database is opened, so nothing waits on someone typing.
    """
    if "password_stdin" not in args:
        return None
    if args.action == "add":
        check_user_name(args.name)
    if args.password_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("The same again: ") != password:
            raise Refused("the two passwords differ; nothing was changed")
        return password
    if args.action == "password":
        raise Refused("no password given: type it at a terminal, or give it on stdin with --password-stdin")
    return None


async def _run(config: Config, action: Action, args: argparse.Namespace) -> None:
    clock = SystemClock()
    store = await SqliteCallStore.open(config.database.path, clock, exclusive=False)
    accounts = Accounts(store, clock, config.auth)
    try:
        await action(accounts, args)
    finally:
        accounts.close()
        await store.close()


async def _add(accounts: Accounts, args: argparse.Namespace) -> None:
    user = await accounts.create_user(args.name, args.password, admin=args.admin)
    how = "signs in with a password or an API key" if args.password is not None else "uses API keys only"
    print(f"added {'admin' if user.is_admin else 'user'} {user.name} ({how})")
    await _print_new_key(accounts, user, DEFAULT_KEY_NAME)


async def _add_key(accounts: Accounts, args: argparse.Namespace) -> None:
    await _print_new_key(accounts, await accounts.user_named(args.name), args.label)


async def _print_new_key(accounts: Accounts, user: User, label: str) -> None:
    record, key = await accounts.add_key(user.id, label)
    print(f"API key {record.id} ({record.name}) for {user.name}; it is shown this once, on the next line:")
    print(key)


async def _list(accounts: Accounts, args: argparse.Namespace) -> None:
    users = await accounts.list_users()
    if not users:
        print("no users yet: add one with `python -m dialajoke users add NAME --admin`")
        return
    rows = []
    for user in users:
        in_use = [key for key in await accounts.list_keys(user.id) if not key.is_revoked]
        rows.append((user.name, _yes_no(user.is_admin), when(user.disabled_at), str(len(in_use))))
    print_table(("NAME", "ADMIN", "DISABLED", "KEYS"), rows)


async def _disable(accounts: Accounts, args: argparse.Namespace) -> None:
    user = await accounts.disable_user(args.name)
    print(
        f"disabled {user.name}: their sign-ins and API keys are refused"
        f" (by a running service within auth.key_cache_s, {accounts.key_cache_s:g} s)"
    )


async def _password(accounts: Accounts, args: argparse.Namespace) -> None:
    user = await accounts.set_password(args.name, args.password)
    print(f"new password set for {user.name}; their sessions on the page have ended")


async def _list_keys(accounts: Accounts, args: argparse.Namespace) -> None:
    user = await accounts.user_named(args.name)
    keys = await accounts.list_keys(user.id)
    if not keys:
        print(f"{user.name} has no API keys: add one with `python -m dialajoke users keys add {user.name}`")
        return
    print_table(("ID", "NAME", "CREATED", "LAST USED", "REVOKED"), [_key_row(key) for key in keys])


def _key_row(key: ApiKey) -> tuple[str, ...]:
    return key.id, key.name, when(key.created_at), when(key.last_used_at), when(key.revoked_at)


async def _revoke_key(accounts: Accounts, args: argparse.Namespace) -> None:
    user = await accounts.user_named(args.name)
    key = await accounts.revoke_key(user.id, args.key_id)
    print(
        f"revoked API key {key.id} ({key.name}) of {user.name}"
        f" (a running service refuses it within auth.key_cache_s, {accounts.key_cache_s:g} s)"
    )


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Columns as wide as their widest cell, for people and ``awk`` alike (the ``dnc`` command prints with it too)."""
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
