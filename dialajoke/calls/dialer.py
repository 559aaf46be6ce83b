"""DialGate: when a due call may be dialed, under Telnyx's account limits, taking turns between users.

Telnyx caps dials per second per account and calls in progress at once (as few as 2 on
a new account; reference section 8). Due calls beyond either limit wait here and none is
dropped. A 429 from Telnyx pauses the gate for as long as Telnyx asks, so the whole dialer
slows down instead of calls failing.

Waiting calls are served in rounds, one call per owner per round, each owner's calls in
the order they became due: a user who books hundreds of calls for one moment delays
another user's call by at most one turn, not by the whole backlog. Redials of calls a
stop interrupted go before every round: Telnyx recognises their command_id for a minute
only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict, deque
from collections.abc import Iterator

from ..clock import Alarm, Clock

logger = logging.getLogger(__name__)

Owner = int | None
"""Whose turn a call takes: the id of the user who booked it, or None for calls no user booked."""

Line = deque[tuple[int, asyncio.Future[None]]]
"""Calls waiting, oldest first, each with the future its admission completes."""


class GateClosed(Exception):
    """The service is stopping: the call was not dialed and stays scheduled for the next start."""


class DialGate:
    """An admission gate: a token bucket for the rate, a set of calls for the cap, turns between owners.

    :param rate_per_s: dials per second on average; up to one second's worth may go at once.
    :param max_active: calls in progress at once, from dial (or an incoming call's arrival) to
        hangup; a call holds its place until :meth:`release`.
    :param clock: where "now" comes from, for the rate and for pauses; tests pass one they
        can move by hand.

    Every admission costs O(1) however many calls wait: each owner has a line of their own,
    and the rounds are two ordered maps of owners (this round's, still to be served in it,
    and the next round's, served in this one), so no admission looks at calls that are not
    its own. An owner stays in the next round's map until that round comes, even with an
    empty line, so that a user who books one call after another still waits for the others'
    turns.
    """

    def __init__(self, rate_per_s: float, max_active: int, clock: Clock) -> None:
        self._rate_per_s = rate_per_s
        self._capacity = max(1.0, rate_per_s)
        self._tokens = self._capacity
        self._refilled_at: float | None = None
        self._max_active = max_active
        self._active: set[int] = set()
        self._urgent: Line = deque()
        self._this_round: OrderedDict[Owner, Line] = OrderedDict()
        self._next_round: OrderedDict[Owner, Line] = OrderedDict()
        self._waiting = 0
        """Tickets in the lines, including cancelled ones not yet skipped."""
        self._paused_until = 0.0
        self._pause_s = 0.0
        """The longest pause asked for since the gate last admitted anyone."""
        self._clock = clock
        self._alarm: Alarm | None = None
        self._closed = False
        self._version = 0
        """Counts the moves of the line (a call joined it or left it), so that a watcher knows it missed none."""
        self._moved = asyncio.Event()
        """Set, and replaced by a fresh one, each time the line moves."""
        self._turns: dict[int, asyncio.Future[None]] = {}
        """The turn of each call waiting, by call id, so that one can leave the line at once (:meth:`leave`)."""

    def ticket(self, call_id: int, owner: Owner, *, urgent: bool = False) -> asyncio.Future[None]:
        """Join the line without waiting: the future completes when the call's turn comes.

        From then on the call holds a place until released. A call waiting in line costs
        a future, not a task, so a burst of due calls waits cheaply. Cancel the future to
        leave the line (once admitted, release the call instead).

        :param owner: whose turn the call takes (see :data:`Owner`).
        :param urgent: goes before every owner's turn; for redials that must reach Telnyx
            within its command_id window.
        :raises GateClosed: when the service is stopping; the future fails with it when
            the service stops while the call waits.
        """
        if self._closed:
            raise GateClosed()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line_of(owner, urgent).append((call_id, turn))
        self._turns[call_id] = turn
        turn.add_done_callback(functools.partial(self._forget_turn, call_id))
        self._waiting += 1
        self._line_moved()
        self._dispatch()
        return turn

    def leave(self, call_id: int) -> None:
        """A waiting call was cancelled: it leaves the line now, and the calls behind it move up.

        Nothing happens for a call not waiting (admitted already, or never due).
        """
        turn = self._turns.pop(call_id, None)
        if turn is not None and not turn.done():
            turn.cancel()
            self._line_moved()

    def _forget_turn(self, call_id: int, turn: asyncio.Future[None]) -> None:
        if self._turns.get(call_id) is turn:
            del self._turns[call_id]

    @property
    def version(self) -> int:
        """How many times the line has moved so far: the argument of :meth:`wait_moved`."""
        return self._version

    async def wait_moved(self, seen: int) -> None:
        """Return once the line has moved since :attr:`version` was ``seen``."""
        while self._version == seen:
            await self._moved.wait()

    def ahead(self) -> dict[int, int]:
        """How many calls wait before each waiting call (call id -> count), in the order the gate will admit them.

        Urgent redials first, then the rounds between owners, played forward on copies of the
        lines: O(calls waiting). A call cancelled while it waits has left the line (:meth:`leave`).
        """
        order = [call_id for call_id, turn in self._urgent if not turn.done()]
        this_round = deque((owner, deque(self._live(line))) for owner, line in self._this_round.items())
        next_round = deque((owner, deque(self._live(line))) for owner, line in self._next_round.items())
        while this_round or next_round:
            if not this_round:
                this_round, next_round = next_round, this_round
            owner, line = this_round.popleft()
            if line:
                order.append(line.popleft())
                next_round.append((owner, line))
        return {call_id: position for position, call_id in enumerate(order)}

    @staticmethod
    def _live(line: Line) -> Iterator[int]:
        return (call_id for call_id, turn in line if not turn.done())

    def try_occupy(self, call_id: int) -> bool:
        """Take a free place at once for a call that is already ringing (an incoming one).

        It goes ahead of the calls waiting to be dialed and is not a dial, so the rate does
        not apply. False when every place is taken: the call must be turned away.
        """
        if len(self._active) >= self._max_active:
            return False
        self._active.add(call_id)
        return True

    def close(self) -> int:
        """Turn away every call still waiting; nothing is dialed from now on. Returns how many waited."""
        self._closed = True
        if self._alarm is not None:
            self._alarm.cancel()
        turned_away = 0
        for _, turn in self._every_ticket():
            if not turn.done():
                turn.set_exception(GateClosed())
                turned_away += 1
        self._urgent.clear()
        self._this_round.clear()
        self._next_round.clear()
        self._waiting = 0
        self._line_moved()
        return turned_away

    def occupy(self, call_id: int) -> None:
        """Count a call already in progress (found at start-up) against the cap."""
        self._active.add(call_id)

    def release(self, call_id: int) -> None:
        """The call has ended (or was never placed): its place goes to the next in line."""
        if call_id in self._active:
            self._active.discard(call_id)
            self._dispatch()

    def slow_down(self, pause_s: float) -> None:
        """Telnyx said 429: admit nobody for ``pause_s`` and start again with an empty bucket."""
        self._paused_until = max(self._paused_until, self._clock.time() + pause_s)
        self._pause_s = max(self._pause_s, pause_s)
        self._tokens = 0.0
        logger.warning("Telnyx is rate limiting dials; pausing the dialer for %.2f s", pause_s)
        self._dispatch()

    def _dispatch(self) -> None:
        now = self._clock.time()
        if now < self._paused_until:
            # A wall clock stepped back must not stretch a pause beyond what Telnyx asked for.
            self._paused_until = min(self._paused_until, now + self._pause_s)
            if self._waiting:
                self._wake_at(self._paused_until)
            return
        self._pause_s = 0.0
        self._refill(now)
        while self._waiting and len(self._active) < self._max_active:
            if self._tokens < 1:
                self._wake_at(now + (1 - self._tokens) / self._rate_per_s)
                return
            admitted = self._next_in_line()
            if admitted is None:
                return
            call_id, turn = admitted
            self._tokens -= 1
            self._active.add(call_id)
            turn.set_result(None)
            self._line_moved()

    def _line_of(self, owner: Owner, urgent: bool) -> Line:
        if urgent:
            return self._urgent
        line = self._this_round.get(owner)
        if line is None:
            line = self._next_round.get(owner)
        if line is None:
            # Not served in this round yet: the owner's turn comes in this one.
            line = self._this_round[owner] = deque()
        return line

    def _next_in_line(self) -> tuple[int, asyncio.Future[None]] | None:
        """Take the next ticket still wanted: urgent ones first, then the next owner's oldest."""
        while self._urgent:
            ticket = self._urgent.popleft()
            self._waiting -= 1
            if not ticket[1].done():
                return ticket
        while True:
            if not self._this_round:
                if not self._next_round:
                    return None
                self._this_round, self._next_round = self._next_round, self._this_round
            owner, line = self._this_round.popitem(last=False)
            while line:
                ticket = line.popleft()
                self._waiting -= 1
                if not ticket[1].done():
                    self._next_round[owner] = line
                    return ticket
            # Nothing left in the owner's line: they leave the rounds until they have a call again.

    def _every_ticket(self) -> Iterator[tuple[int, asyncio.Future[None]]]:
        yield from self._urgent
        for rounds in (self._this_round, self._next_round):
            for line in rounds.values():
                yield from line

    def _line_moved(self) -> None:
        self._version += 1
        self._moved.set()
        self._moved = asyncio.Event()

    def _refill(self, now: float) -> None:
        # Tokens gather only from the end of a pause, so the bucket starts it empty; and a
        # wall clock stepped back must not take tokens away.
        since = self._paused_until if self._refilled_at is None else max(self._refilled_at, self._paused_until)
        elapsed_s = max(0.0, now - since)
        self._tokens = min(self._capacity, self._tokens + elapsed_s * self._rate_per_s)
        self._refilled_at = now

    def _wake_at(self, when: float) -> None:
        """Look at the line again at ``when`` (or earlier: the clock may wake us early, and we re-arm)."""
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm = self._clock.wake_at(when, self._dispatch)
