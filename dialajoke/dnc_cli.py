"""``python -m dialajoke [--config PATH] dnc ...``: the do-not-call list from the command line.

For the operator asked by mail or phone never to ring a number again, or to ring it
once more. It reads the service's own settings and opens the database beside a running
service, as ``users`` does: a number added here is refused at the next booking and the
next dial, and the calls scheduled to it are cancelled at once. Each change is logged
on stderr with the operating-system user who made it, the number masked as in every log.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
from collections.abc import Awaitable, Callable

from .calls.validation import phone_number
from .clock import SystemClock
from .config import Config
from .logs import E164_NUMBER
from .store import CallStore, SqliteCallStore
from .users_cli import print_table, run_action, when

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "Add, remove and list the numbers the service never rings, with its own settings"
    " (--config, DIALAJOKE_*), even while it runs."
)
ADDED_BY = "the command line"
"""Who the list says added a number from here."""
LIST_LIMIT = 1_000_000
"""``dnc list`` prints the whole list, latest first: it is for people and scripts alike, never paged."""

Action = Callable[[CallStore, argparse.Namespace], Awaitable[None]]


class Refused(Exception):
    """A refusal of the command itself (a number that is not one); nothing was changed."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``dnc`` command and its actions, under the service's own parser."""
    dnc = commands.add_parser("dnc", help="the do-not-call list: numbers never rung", description=DESCRIPTION)
    actions = dnc.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="never ring the number; cancels the calls scheduled to it")
    add.add_argument("number", help="with its country code, e.g. +13125550100 (without one: scheduler.default_region)")
    add.set_defaults(run=_add)

    remove = actions.add_parser("remove", help="take the number off the list: it can be booked again")
    remove.add_argument("number")
    remove.set_defaults(run=_remove)

    actions.add_parser("list", help="list the numbers, the latest added first").set_defaults(run=_list)


def main(args: argparse.Namespace) -> int:
    """Run one ``dnc`` action: 0 done, 1 refused (the reason on one line of stderr), 2 a settings error."""

    def act(config: Config) -> None:
        logger.setLevel(logging.INFO)
        if "number" in args:
            args.number = _number(args.number, config, as_stored=args.action == "remove")
        asyncio.run(_run(config, args.run, args))

    return run_action("dnc", args, act, (Refused,))


def _number(typed: str, config: Config, *, as_stored: bool) -> str:
    """The number in E.164, checked as a booking's is.

    With ``as_stored``, a number already in E.164 is taken as it is, so that whatever came
    onto the list (an inbound caller pressing 9) can be taken off it.
    """
    if as_stored and E164_NUMBER.fullmatch(typed):
        return typed
    try:
        return phone_number(typed, config.scheduler.default_region)
    except ValueError as exc:
        raise Refused(f"{typed!r}: {exc}") from None


async def _run(config: Config, action: Action, args: argparse.Namespace) -> None:
    store = await SqliteCallStore.open(config.database.path, SystemClock(), exclusive=False)
    try:
        await action(store, args)
    finally:
        await store.close()


async def _add(store: CallStore, args: argparse.Namespace) -> None:
    if (known := await store.do_not_call_entry(args.number)) is not None:
        print(f"{args.number} is on the do-not-call list already (added by {known.added_by})")
        return
    _, cancelled = await store.add_to_do_not_call(args.number, added_by=ADDED_BY)
    logger.info("do-not-call: %s added by %s; %d scheduled calls cancelled", args.number, _who(), len(cancelled))
    print(f"added {args.number} to the do-not-call list; scheduled calls to it cancelled: {len(cancelled)}")


async def _remove(store: CallStore, args: argparse.Namespace) -> None:
    if await store.remove_from_do_not_call(args.number) is None:
        raise Refused(f"{args.number} is not on the do-not-call list; nothing was changed")
    logger.info("do-not-call: %s removed by %s", args.number, _who())
    print(f"removed {args.number} from the do-not-call list: it can be booked again")


async def _list(store: CallStore, args: argparse.Namespace) -> None:
    entries = await store.list_do_not_call(limit=LIST_LIMIT)
    if not entries:
        print("no number is on the do-not-call list")
        return
    rows = [
        (entry.number, when(entry.added_at), str(entry.call_id) if entry.call_id is not None else "-", entry.added_by)
        for entry in entries
    ]
    print_table(("NUMBER", "ADDED", "CALL", "ADDED BY"), rows)


def _who() -> str:
    """The command line and the operating-system user running it: the list's ``added_by`` cannot say who."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{ADDED_BY} (user {user})"
