"""GET /events: the signed-in user's calls as they change, over Server-Sent Events, for the booking page.

The feed is the calls' timeline: each change a user sees is an entry with an increasing id,
sent as the event's id, so a browser that reconnects names the last one it had
(Last-Event-ID) and gets exactly what it missed. The stream waits on the store, which
wakes it when a call changes, so it reads the database once per wake-up, never on a timer.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from .. import keys
from ..calls.payloads import shortened
from ..clock import sleep
from ..followers import TooManyStreams
from ..models import FINAL_STATUSES, Call
from ..store import MAX_ID
from . import sessions, views
from .formats import for_people
from .problems import Problem
from .security import CROSS_SITE_DETAIL
from .sessions import csrf_token

CHANGE_ID = re.compile(r"[0-9]{1,19}")
BATCH = 100
"""Changes read at once: a page back from a long sleep catches up in several reads, never one huge one."""
KEEP_ALIVE_S = 15.0
"""A comment line this often, so that proxies keep a quiet stream open."""
SESSION_CHECK_S = 15.0
"""How often a stream checks its session again, for a sign-out or a disable in another process."""
MAX_REPLAYED_CHANGES = 5_000
"""Changes of every user a reconnecting page may ask to go back over; beyond, it draws its lists again.
Reading the feed is a range of all users' changes, so this bounds what one reconnect costs."""
OTHER_SITES = frozenset({"cross-site", "same-site"})
"""Sec-Fetch-Site values of a request another site's page made the browser send."""
POSITIONS_EVERY_S = 1.0
"""Places in the line are sent again at most this often per stream: a busy line moves many times a second."""


async def call_events(request: web.Request) -> web.StreamResponse:
    """The stream: ``Last-Event-ID`` (a reconnect), else ``?after=`` (the page's own), else from now."""
    store = request.app[keys.STORE]
    after = _change_id(request, "Last-Event-ID", request.headers.get("Last-Event-ID"))
    if after is None:
        after = _change_id(request, "after", request.query.get("after"))
    if after is None:
        after = await store.last_change()
    if request.headers.get("Sec-Fetch-Site") in OTHER_SITES:
        # Safe as a GET is, a stream holds one of the user's few places for as long as it is open.
        raise Problem.of("cross-site-request", 403, CROSS_SITE_DETAIL)
    _, owner_id = await views.owner_shown(request)
    followers = request.app[keys.FOLLOWERS]
    try:
        with followers.follow(request[keys.PRINCIPAL].user_id) as user_ended:
            async with sse_response(request, ping_interval=KEEP_ALIVE_S) as stream:
                feed = _Feed(request, stream, owner_id, await _card_context(request))
                await feed.run(after, user_ended)
            return stream
    except TooManyStreams as exc:
        detail = (
            f"You have {exc.allowed} live event streams open already (http.max_event_streams_per_user):"
            " close a page of the service, then reload this one."
        )
        raise Problem.of("too-many-event-streams", 429, detail) from None


async def stop_streams(app: web.Application) -> None:
    """on_shutdown: end every stream now, so that a stop never waits for pages left open."""
    app[keys.FOLLOWERS].stop()


def _change_id(request: web.Request, name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not CHANGE_ID.fullmatch(value) or int(value) > MAX_ID:
        raise Problem.of(
            "invalid-request",
            400,
            f"{name} must be the id of a change this service sent (a whole number from 0), not {shortened(value)!r}.",
            errors={name: "must be a whole number from 0, as the stream's event ids are"},
        )
    return int(value)


async def _card_context(request: web.Request) -> dict[str, Any]:
    """What _call.html needs beside the call, the same for every card the stream draws."""
    return {"owners": await views.owner_names(request), "csrf_token": await csrf_token(request), "booked": None}


@dataclass
class _Feed:
    request: web.Request
    stream: EventSourceResponse
    owner_id: int | None
    """Whose calls are sent; None: every call (an admin's page)."""
    card: dict[str, Any]
    positions_sent: dict[int, int | None] = field(default_factory=dict)
    """The place in line each card sent last showed."""
    owners: dict[int, int | None] = field(default_factory=dict)
    """The owner of each call the line held, so that another user's is looked up once."""

    async def run(self, after: int, user_ended: asyncio.Event) -> None:
        """Send changes until the page goes, the service stops, or the user's session may no longer see them.

        :param user_ended: set when a session of the user ended in this process (sign-out, password
            change, disabled): the stream ends at once, and a page still signed in reconnects.
        """
        app = self.request.app
        store, call_control, clock = app[keys.STORE], app[keys.CALL_CONTROL], app[keys.CLOCK]
        ended = [
            asyncio.ensure_future(app[keys.FOLLOWERS].stopping.wait()),
            asyncio.ensure_future(self.stream.wait()),
            asyncio.ensure_future(user_ended.wait()),
        ]
        line_seen = call_control.line_version
        positions_due = clock.time()
        session_due = clock.time() + SESSION_CHECK_S
        try:
            after = await self._resume_point(after)
            while True:
                if clock.time() >= session_due:
                    if not await self._still_signed_in():
                        return
                    session_due = clock.time() + SESSION_CHECK_S
                after = await self._send_changes(after)
                if line_seen != call_control.line_version and clock.time() >= positions_due:
                    line_seen = call_control.line_version
                    positions_due = clock.time() + POSITIONS_EVERY_S
                    await self._send_positions()
                if line_seen == call_control.line_version:
                    line: Awaitable[None] = call_control.wait_line_moved(line_seen)
                else:
                    line = sleep(clock, positions_due - clock.time())
                session = sleep(clock, session_due - clock.time())
                if await _first_of(ended, [store.wait_for_change(after), line, session]):
                    return
        except (ConnectionResetError, TimeoutError):
            return  # the page went away (or stalled, and aiohttp-sse cut it off)
        finally:
            for waiter in ended:
                waiter.cancel()

    async def _resume_point(self, after: int) -> int:
        """Where the feed goes on from: ``after``, unless the page missed too much (or names a change
        this database never made): then it is told to draw its lists again, and goes on from now."""
        newest = await self.request.app[keys.STORE].last_change()
        if 0 <= newest - after <= MAX_REPLAYED_CHANGES:
            return after
        await self.stream.send("{}", id=str(newest), event="reset")
        return newest

    async def _still_signed_in(self) -> bool:
        """Whether the session the stream was opened with still speaks for its user: not signed out,
        disabled or its password changed, also by another process."""
        principal = await sessions.signed_in(self.request)
        return principal is not None and principal.user_id == self.request[keys.PRINCIPAL].user_id

    async def _send_changes(self, after: int) -> int:
        """Send the cards of the calls changed since ``after``; the id of the last change sent."""
        store = self.request.app[keys.STORE]
        while True:
            # Every change up to ``newest`` is read by the query below: when none of them is this
            # page's, the next wake-up starts after them, so other users' busy calls are read once.
            newest = await store.last_change()
            changes = await store.call_changes(after=after, owner_id=self.owner_id, limit=BATCH)
            if not changes:
                return max(after, newest)
            latest = {change.call_id: change.change_id for change in changes}
            # Each call once, in the order of its latest change, with that change's id: a page
            # cut off half way resumes after the last card it had, and misses none after it.
            calls = await asyncio.gather(
                *(store.get_call(call_id) for call_id in sorted(latest, key=latest.__getitem__))
            )
            positions = views.queue_positions(self.request)
            for call in calls:
                if call is not None:
                    await self._send_card(call, positions.get(call.id), change_id=latest[call.id])
            after = changes[-1].change_id
            if len(changes) < BATCH:
                return max(after, newest)

    async def _send_positions(self) -> None:
        """Send again the cards of this page's waiting calls whose place in line changed."""
        store = self.request.app[keys.STORE]
        positions = views.queue_positions(self.request)
        for call_id in _changed(self.positions_sent, positions):
            if self.owner_id is not None and self.owners.get(call_id, self.owner_id) != self.owner_id:
                continue
            call = await store.get_call(call_id)
            if call is None:
                continue
            self.owners[call_id] = call.owner_id
            if self.owner_id is None or call.owner_id == self.owner_id:
                await self._send_card(call, positions.get(call_id))
        for call_id in set(self.owners) - set(positions):
            del self.owners[call_id]

    async def _send_card(self, call: Call, waiting: int | None, *, change_id: int | None = None) -> None:
        """One ``call`` event; with an id only for a change, so that a place in line never moves the resume point."""
        reasons = views.reasons(self.request, [call])
        context = {**self.card, "call": call, "reasons": reasons, "waiting": waiting}
        data = {
            "id": call.id,
            "status": str(call.status),
            "section": "recent" if call.status in FINAL_STATUSES else "upcoming",
            "html": aiohttp_jinja2.render_string("_call.html", self.request, context),
            "announce": _announcement(call, reasons.get(call.id)) if change_id is not None else "",
        }
        await self.stream.send(json.dumps(data), id=None if change_id is None else str(change_id), event="call")
        if waiting is None:
            self.positions_sent.pop(call.id, None)
        else:
            self.positions_sent[call.id] = waiting


def _announcement(call: Call, reason: str | None) -> str:
    """What a screen reader says of the change: the call, its number, its status and why."""
    number = for_people(call.to if call.direction == "outbound" else call.from_)
    words = str(call.status).replace("_", " ")
    return f"Call {call.id} to {number}: {words}" + (f", {reason}" if reason else "")


def _changed(sent: dict[int, int | None], now: dict[int, int]) -> Iterable[int]:
    """Calls whose place in line is not the one last sent: moved, joined or left."""
    return [call_id for call_id in {*sent, *now} if sent.get(call_id) != now.get(call_id)]


async def _first_of(ended: Sequence[asyncio.Future[Any]], waits: list[Awaitable[None]]) -> bool:
    """Wait for the first of ``waits`` or of ``ended``; True when one of ``ended`` happened."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait([*ended, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return any(waiter.done() for waiter in ended)
