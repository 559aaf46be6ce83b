"""CallControl: dials due calls and turns each Telnyx event into the next command.

answered -> speak the joke; speak ended -> hang up; hangup -> record the outcome.
A 9 pressed while the joke plays puts the number on the do-not-call list, and the
confirmation is spoken in the joke's place before the hangup.
Webhooks come late, twice, or out of order (reference sections 5.3 and 6.2), so every
step is a conditional status move in the store: a step that has already happened, or
that the call has gone past, changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from ..background import BackgroundTasks
from ..clock import Clock
from ..config import TelnyxConfig
from ..logs import about_call, logs_about_its_call
from ..models import Call, CallStatus, Direction
from ..scheduler import UnifiedTimedQueue
from ..store import CallStore, StorageUnavailable
from ..telnyx.client import COMMAND_ID_WINDOW_S, TelnyxClient, TelnyxError
from ..telnyx.events import TelnyxEvent, encode_client_state
from .bookings import QueuedCall
from .calling_hours import CallingHours
from .destinations import Destinations
from .dialer import DialGate, GateClosed, Owner
from .jokes import JokeSource
from .opt_out import (
    CONFIRMATION,
    OPT_OUT_DIGIT,
    OPTED_OUT,
    dialable,
    fit_joke,
    number_opting_out,
    opt_out_note,
    opted_out_by,
    with_offer,
)

logger = logging.getLogger(__name__)

HANGUP_OUTCOMES = {
    "normal_clearing": CallStatus.COMPLETED,
    "time_limit": CallStatus.COMPLETED,
    "user_busy": CallStatus.BUSY,
    "call_rejected": CallStatus.BUSY,
    "timeout": CallStatus.NO_ANSWER,
    "no_answer": CallStatus.NO_ANSWER,
    "originator_cancel": CallStatus.NO_ANSWER,
}
"""Telnyx's hangup_cause -> our final status; anything else (not_found, unspecified) is a failure."""


def outcome_of(hangup_cause: str | None) -> CallStatus:
    return HANGUP_OUTCOMES.get(hangup_cause or "", CallStatus.FAILED)


REDIAL_WINDOW_S = COMMAND_ID_WINDOW_S - 5.0
"""A dial interrupted by a stop is sent again only this soon after, well inside Telnyx's command_id window."""

EventHandler = Callable[[Call, TelnyxEvent], Awaitable[None]]


class CallControl:
    """The call flow, between the store and Telnyx.

    :param settings: connection, caller number, voice and language for commands.
    :param webhook_url: where Telnyx should report the calls we place.
    :param gate: admits due calls under the account's dial rate and concurrency limits.
    :param stale_after_s: a call in progress that hears nothing for this long has failed.
    :param misfire_grace_s: a due call held back by a store that could not be written
        still rings if at most this late once it can; later than that, it is missed.
    :param calling_hours: checked again when a due call is about to be dialed: one pushed
        out of them (by a backlog, or a stop) is not dialed and ends ``missed``; None: any time.
    :param destinations: checked again too, for calls booked before the settings narrowed them.
    :param max_calls_per_day: calls dialed in any 24 hours; past it a due call ends
        ``missed`` (0: no limit).

    While the store cannot be written, a due call and the watchdog's expiry wait and are
    tried again every ``storage_retry_s``: the store logs the outage once, and nothing is
    lost to it. ``async with call_control:`` runs the watchdog that ends silent calls and
    the timer of those retries.
    """

    def __init__(
        self,
        store: CallStore,
        telnyx: TelnyxClient,
        jokes: JokeSource,
        settings: TelnyxConfig,
        webhook_url: str,
        clock: Clock,
        gate: DialGate,
        stale_after_s: float,
        misfire_grace_s: float = math.inf,
        storage_retry_s: float = 5.0,
        calling_hours: CallingHours | None = None,
        destinations: Destinations | None = None,
        max_calls_per_day: int = 0,
    ) -> None:
        self._store = store
        self._telnyx = telnyx
        self._jokes = jokes
        self._settings = settings
        self._webhook_url = webhook_url
        self._clock = clock
        self._gate = gate
        self._stale_after_s = stale_after_s
        self._misfire_grace_s = misfire_grace_s
        self._storage_retry_s = storage_retry_s
        self._calling_hours = calling_hours
        self._destinations = destinations
        self._max_calls_per_day = max_calls_per_day
        self._watchdog: UnifiedTimedQueue[int] = UnifiedTimedQueue(self._expire_silent_call, clock=clock)
        self._held_back: UnifiedTimedQueue[int] = UnifiedTimedQueue(self._due_again, clock=clock)
        self._dials = BackgroundTasks()
        self._interrupted_dials: list[QueuedCall] = []
        self._stopping = False
        self._opting_out: set[int] = set()
        """Calls whose 9 is being acted on, so that a second 9 arriving meanwhile is not."""
        self._speeches_before_goodbye: dict[int, int] = {}
        """Calls opted out during this run, each with how many speeches (the joke, stopped)
        are still to report their end before the confirmation's end says to hang up."""
        self._handlers: dict[str, EventHandler] = {
            "call.initiated": self._on_initiated,
            "call.answered": self._on_answered,
            "call.speak.ended": self._on_speak_ended,
            "call.dtmf.received": self._on_key,
            "call.hangup": self._on_hangup,
        }

    async def __aenter__(self) -> CallControl:
        await self._watchdog.__aenter__()
        await self._held_back.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_dialing(grace_s=0)
        await self._watchdog.close()

    @property
    def from_number(self) -> str:
        """The caller id our calls present."""
        return self._settings.from_number

    def queue_positions(self) -> dict[int, int]:
        """Due calls waiting for a free line: call id -> how many calls the gate admits before it."""
        return self._gate.ahead()

    def leave_line(self, call_id: int) -> None:
        """A due call waiting for a free line was cancelled: the calls behind it move up at once."""
        self._gate.leave(call_id)

    @property
    def line_version(self) -> int:
        """How many times the line of due calls has moved: the argument of :meth:`wait_line_moved`."""
        return self._gate.version

    async def wait_line_moved(self, seen: int) -> None:
        """Return once the line of due calls has moved since :attr:`line_version` was ``seen``."""
        await self._gate.wait_moved(seen)

    async def recover(self) -> None:
        """Take back the calls that were in progress when the service last stopped.

        Their webhooks keep arriving, so they hold their place under the concurrency cap
        (incoming calls too) and are watched for silence. Calls that crashed between being marked ``dialing``
        and Telnyx's answer are kept for :meth:`redial_interrupted`; those interrupted too
        long ago for Telnyx to recognise the command_id are marked missed. Run it before
        anything can dial or process events.
        """
        interrupted = []
        async for call_id, status, _, call_control_id in self._store.in_progress():
            if status is CallStatus.DIALING and call_control_id is None:
                interrupted.append(call_id)
                continue
            self._gate.occupy(call_id)
            self._watch(call_id)
        for call_id in interrupted:
            call = await self._store.get_call(call_id)
            if call is not None and await self._can_dial_again(call):
                self._interrupted_dials.append((call.id, call.owner_id))

    def redial_interrupted(self) -> None:
        """Dial again, with the same command_id, the calls :meth:`recover` found interrupted while dialing.

        They go before every owner's turn in the dial gate: Telnyx recognises a repeated
        command_id for a short while only.
        """
        redials, self._interrupted_dials = self._interrupted_dials, []
        if redials:
            logger.info("%d calls were interrupted while dialing; dialing them again", len(redials))
        for call_id, owner in redials:
            self._join_line(call_id, owner, urgent=True)

    async def _can_dial_again(self, call: Call) -> bool:
        """Whether a dial interrupted by a stop may be sent again: soon enough, and to a number still callable."""
        entry = await self._store.do_not_call_entry(call.to)
        if entry is not None:
            detail = f"cancelled: its dial was interrupted by a stop, and {call.to} went on the do-not-call list since"
            await self._store.move(call.id, CallStatus.CANCELLED, detail, only_from={CallStatus.DIALING})
            return False
        since_dial_s = self._clock.time() - call.updated_at.timestamp()
        if since_dial_s <= REDIAL_WINDOW_S:
            return True
        detail = (
            f"missed: its dial was interrupted by a stop {since_dial_s:.0f} s ago, too long for Telnyx to"
            " recognise a repeat, so it is not sent again (it may have rung)"
        )
        await self._store.move(call.id, CallStatus.MISSED, detail, only_from={CallStatus.DIALING})
        return False

    def due(self, queued: QueuedCall) -> None:
        """A scheduled call's time has come: it joins the dial gate's line, to wait for its owner's turn.

        The timed queue calls this in its timer task for each due call, so it only takes
        a ticket; a task is started for the call once the gate lets it through.
        """
        call_id, owner = queued
        self._join_line(call_id, owner)

    def _join_line(self, call_id: int, owner: Owner, *, urgent: bool = False) -> None:
        try:
            turn = self._gate.ticket(call_id, owner, urgent=urgent)
        except GateClosed:
            logger.info("call %s not dialed: the service is stopping; it stays scheduled", call_id)
            return
        turn.add_done_callback(functools.partial(self._admitted, call_id))

    def _admitted(self, call_id: int, turn: asyncio.Future[None]) -> None:
        if turn.cancelled() or turn.exception() is not None:
            return  # turned away at shutdown (counted by stop_dialing): it stays scheduled
        if self._stopping:
            self._gate.release(call_id)  # admitted just before the stop: it stays scheduled
            return
        self._dials.spawn(self._dial(call_id), name=f"dial call {call_id}")

    async def dials_finished(self) -> None:
        """Wait until every dial the gate has admitted has had its answer from Telnyx (or given up)."""
        await self._dials.wait()

    async def stop_dialing(self, grace_s: float) -> None:
        """Dial no more; dials in flight get ``grace_s``, then are cancelled.

        Calls still waiting for the gate, or for the store to be writable, stay scheduled,
        and a call left ``dialing`` is dialed again at the next start (see :meth:`recover`).
        """
        self._stopping = True
        await self._held_back.close()
        waiting = self._gate.close()
        if waiting:
            logger.info("%d due calls were waiting for the dial gate; they stay scheduled", waiting)
        await self._dials.close(grace_s)

    @logs_about_its_call
    async def _dial(self, call_id: int) -> None:
        """Place a call the gate has admitted; a call cancelled meanwhile is left alone."""
        try:
            call = await self._start_dialing(call_id)
        except StorageUnavailable:
            self._gate.release(call_id)
            self._hold_back(call_id)
            return
        except BaseException:
            self._gate.release(call_id)
            raise
        if call is None:
            self._gate.release(call_id)
            return
        self._watch(call.id)
        try:
            dialed = await self._telnyx.dial(
                to=call.to,
                from_=call.from_,
                connection_id=self._settings.connection_id,
                webhook_url=self._webhook_url,
                client_state=encode_client_state(call.ref),
                command_id=f"{call.ref}:dial",
                timeout_secs=self._settings.ring_timeout_s,
            )
        except TelnyxError as exc:
            try:
                await self._dial_failed(call, exc)
            except StorageUnavailable:
                logger.debug("call %s: its failed dial could not be written; the watchdog ends it", call.id)
            return
        try:
            await self._store.attach_call_control_id(call.id, dialed.call_control_id)
        except StorageUnavailable:
            # Its webhooks find the call by client_state and bring the id along.
            logger.debug("call %s: its call_control_id could not be written yet", call.id)

    def _hold_back(self, call_id: int) -> None:
        """The store could not mark the due call ``dialing``: it is still scheduled, so try again later."""
        if self._stopping:
            return  # still scheduled in the store: the next start takes it up
        logger.debug("call %s is due but cannot be written to; trying again in %g s", call_id, self._storage_retry_s)
        self._held_back.put(call_id, self._clock.time() + self._storage_retry_s)

    @logs_about_its_call
    async def _due_again(self, call_id: int) -> None:
        """A call held back by the store: it rings, unless it became too late to (as after a restart)."""
        try:
            call = await self._store.get_call(call_id)
            if call is None or call.status.is_final:
                return
            late_s = self._clock.time() - call.at.timestamp()
            if call.status is CallStatus.SCHEDULED and late_s > self._misfire_grace_s:
                detail = (
                    f"missed: due {late_s:.0f} s before the database could be written again"
                    f" (misfire_grace_s={self._misfire_grace_s:g})"
                )
                await self._store.move(call_id, CallStatus.MISSED, detail, only_from={CallStatus.SCHEDULED})
                return
        except StorageUnavailable:
            self._hold_back(call_id)
            return
        self._join_line(call_id, call.owner_id)

    async def _dial_failed(self, call: Call, exc: TelnyxError) -> None:
        if exc.outcome_unknown:
            # An answer was lost: Telnyx may be ringing the callee. Its webhooks (matched by
            # client_state) move the call on; the watchdog ends it if none ever come.
            await self._store.add_note(call.id, f"dial outcome unknown ({exc.describe()}); waiting for Telnyx")
            return
        await self._finish(call.id, CallStatus.FAILED, f"dial failed: {exc.describe()}", only_from={CallStatus.DIALING})

    async def _start_dialing(self, call_id: int) -> Call | None:
        """Mark the call ``dialing`` (durably) before the request leaves, so a crash cannot lose it.

        In the same write, a call that may no longer ring is ended instead: its number asked
        not to be called, the day's calls are used up, or it is outside calling hours now.
        """
        call = await self._store.claim_for_dialing(
            call_id, calls_per_day=self._max_calls_per_day, refuse=self._may_not_ring
        )
        if call is not None:
            return call if call.status is CallStatus.DIALING else None
        call = await self._store.get_call(call_id)
        if call is None or call.status is not CallStatus.DIALING or call.call_control_id is not None:
            return None
        # Checked again now that the gate has let it through: waiting for a place may
        # have taken it past the window in which Telnyx recognises the command_id.
        if not await self._can_dial_again(call):
            return None
        await self._store.add_note(call_id, "dialing again after a restart, with the same command_id")
        return call

    def _may_not_ring(self, call: Call) -> str | None:
        """Run by the store in the claim's transaction (on its writer thread): pure, and quick."""
        if self._destinations is not None and (reason := self._destinations.refusal(call.to)) is not None:
            return f"not dialed: {reason}"
        if self._calling_hours is None:
            return None
        return self._calling_hours.not_now(call.to, datetime.fromtimestamp(self._clock.time(), UTC))

    async def handle(self, event: TelnyxEvent) -> None:
        """Act on one verified, first-seen webhook event."""
        call = await self._store.find_call(ref=event.ref, call_control_id=event.call_control_id)
        if call is None:
            if event.event_type == "call.initiated" and event.is_incoming:
                await self._answer_incoming(event)
            else:
                logger.warning(
                    "%s %s is for a call we do not know (call_control_id %s); acknowledged and ignored",
                    event.event_type,
                    event.id,
                    event.call_control_id,
                )
            return
        with about_call(call.id):
            await self._act_on(call, event)

    async def _act_on(self, call: Call, event: TelnyxEvent) -> None:
        if not call.status.is_final:
            self._watch(call.id)
        if event.call_control_id and call.call_control_id is None:
            await self._store.attach_call_control_id(call.id, event.call_control_id)
        handler = self._handlers.get(event.event_type)
        if handler is None:
            logger.debug("call %s: no action for %s", call.id, event.event_type)
            return
        await handler(call, event)

    async def _on_initiated(self, call: Call, event: TelnyxEvent) -> None:
        await self._store.move(call.id, CallStatus.RINGING, "call.initiated: ringing")

    async def _on_answered(self, call: Call, event: TelnyxEvent) -> None:
        answered = await self._store.move(call.id, CallStatus.ANSWERED, "call.answered")
        if answered is None:
            if call.status is not CallStatus.ANSWERED:
                return
            # Answered, but the joke never began: an earlier try at this event was cut
            # short (by a store that could not be written), so it is taken up again.
            answered = call
        call_control_id = event.call_control_id or answered.call_control_id
        if not call_control_id:
            await self._unreachable(answered, event, "speak the joke")
            return
        await self._tell_joke(answered, call_control_id)

    async def _tell_joke(self, call: Call, call_control_id: str) -> None:
        """Speak the joke and, in the same breath, the offer to press 9 (see :mod:`.opt_out`)."""
        joke = fit_joke(await self._jokes.joke(), call.direction)
        speaking = await self._store.move(call.id, CallStatus.SPEAKING, "speaking the joke", joke=joke)
        if speaking is None:
            return
        if self._has_opted_out(speaking):
            await self._store.add_note(call.id, "the joke is not told: the number opted out as the call was answered")
            return
        try:
            await self._telnyx.speak(
                call_control_id,
                payload=with_offer(joke, call.direction),
                voice=self._settings.voice,
                language=self._settings.language,
                command_id=f"{call.ref}:speak",
            )
        except TelnyxError as exc:
            if exc.call_has_ended:
                await self._store.add_note(call.id, "the callee hung up before the joke began")
                return
            if exc.outcome_unknown:
                # Telnyx may be speaking: call.speak.ended moves the call on, the watchdog if nothing comes.
                await self._store.add_note(call.id, f"speak outcome unknown ({exc.describe()}); waiting for Telnyx")
                return
            await self._finish(call.id, CallStatus.FAILED, f"speak failed: {exc.describe()}")
            await self._hang_up(call, call_control_id)

    async def _on_speak_ended(self, call: Call, event: TelnyxEvent) -> None:
        if event.status not in (None, "completed"):
            await self._store.add_note(call.id, f"the joke was cut short ({event.status})")
            return
        call_control_id = event.call_control_id or call.call_control_id
        if not call_control_id:
            await self._unreachable(call, event, "hang up")
            return
        if self._has_opted_out(call):
            await self._after_opt_out_speech(call, call_control_id)
            return
        await self._store.add_note(call.id, "joke spoken; hanging up")
        await self._hang_up(call, call_control_id)

    async def _on_key(self, call: Call, event: TelnyxEvent) -> None:
        """A key pressed on the call: 9 opts the number out for good; any other means nothing.

        The number goes on the list whatever the call has become meanwhile: webhooks come in
        any order, so "press 9, hang up" may reach the service hangup first, and the person
        must still never be rung again. Only the spoken confirmation needs a call still up.
        """
        if event.digit != OPT_OUT_DIGIT:
            logger.debug("call %s: key %r pressed; only %s does anything", call.id, event.digit, OPT_OUT_DIGIT)
            return
        if self._has_opted_out(call) or call.id in self._opting_out:
            logger.debug("call %s: 9 pressed again; the number is on the do-not-call list already", call.id)
            return
        self._opting_out.add(call.id)
        try:
            if not await self._list_number(call):
                return
            if call.status in (CallStatus.ANSWERED, CallStatus.SPEAKING):
                await self._confirm_opt_out(call, event.call_control_id or call.call_control_id)
        finally:
            self._opting_out.discard(call.id)

    async def _list_number(self, call: Call) -> bool:
        """Put the number that pressed 9 on the do-not-call list (its pending calls end cancelled)."""
        number = dialable(number_opting_out(call))
        if number is None:
            await self._store.add_note(call.id, "9 was pressed, but from an unknown number: nothing to put on the list")
            return False
        _, cancelled = await self._store.add_to_do_not_call(number, added_by=opted_out_by(call), call_id=call.id)
        await self._store.add_note(call.id, opt_out_note(call, cancelled=len(cancelled)))
        logger.info("call %s: the number opted out by pressing 9 and is on the do-not-call list", call.id)
        return True

    async def _confirm_opt_out(self, call: Call, call_control_id: str | None) -> None:
        """Say the number is listed; the confirmation stops the joke, so the person hears it at once.

        The call is hung up when it has been spoken (see :meth:`_after_opt_out_speech`).
        """
        self._speeches_before_goodbye[call.id] = 1 if call.status is CallStatus.SPEAKING else 0
        if not call_control_id:
            await self._store.add_note(call.id, "no call_control_id, so the confirmation cannot be spoken")
            return
        try:
            await self._telnyx.speak(
                call_control_id,
                payload=CONFIRMATION,
                voice=self._settings.voice,
                language=self._settings.language,
                command_id=f"{call.ref}:opt-out",
                stop="current",
            )
        except TelnyxError as exc:
            if exc.call_has_ended:
                await self._store.add_note(call.id, "the call ended before the confirmation could be spoken")
            elif exc.outcome_unknown:
                await self._store.add_note(call.id, f"confirmation outcome unknown ({exc.describe()})")
            else:
                await self._store.add_note(call.id, f"confirmation failed: {exc.describe()}; hanging up")
                await self._hang_up(call, call_control_id)

    async def _after_opt_out_speech(self, call: Call, call_control_id: str) -> None:
        """A speech ended after the opt-out: the joke it stopped, or the confirmation, which ends the call.

        Telnyx documents no status of its own for a speech stopped by a later speak, so
        the joke's end is told apart by counting: while the joke was playing at the
        opt-out, the first speech to end is the joke. After a restart the count is gone,
        and any speech that ends hangs up.
        """
        still_to_end = self._speeches_before_goodbye.get(call.id, 0)
        if still_to_end:
            self._speeches_before_goodbye[call.id] = still_to_end - 1
            await self._store.add_note(call.id, "the joke stopped for the confirmation")
            return
        await self._store.add_note(call.id, "confirmation spoken; hanging up")
        await self._hang_up(call, call_control_id)

    def _has_opted_out(self, call: Call) -> bool:
        return call.id in self._speeches_before_goodbye or any(
            entry.detail.startswith(OPTED_OUT) for entry in call.events
        )

    async def _unreachable(self, call: Call, event: TelnyxEvent, action: str) -> None:
        """No call_control_id, from the event or from before, so no command can reach the call.

        Sending one anyway would address no call at all. The call keeps its place until
        Telnyx reports the hangup, or the watchdog gives up on it.
        """
        detail = f"{event.event_type} came without a call_control_id, so the service cannot {action}"
        logger.warning("call %s: %s (event %s)", call.id, detail, event.id)
        await self._store.add_note(call.id, detail)

    async def _on_hangup(self, call: Call, event: TelnyxEvent) -> None:
        cause = event.hangup_cause or "unspecified"
        await self._finish(call.id, outcome_of(cause), f"call.hangup: {cause}", hangup_cause=cause)

    async def _finish(
        self,
        call_id: int,
        status: CallStatus,
        detail: str,
        hangup_cause: str | None = None,
        only_from: Iterable[CallStatus] = (),
    ) -> Call | None:
        """End the call (unless it has ended or moved past ``only_from``) and free its place."""
        ended = await self._store.move(call_id, status, detail, hangup_cause=hangup_cause, only_from=only_from)
        if ended is not None:
            self._gate.release(call_id)
            self._watchdog.cancel(call_id)
            self._speeches_before_goodbye.pop(call_id, None)
        return ended

    def _watch(self, call_id: int) -> None:
        self._watchdog.put(call_id, self._clock.time() + self._stale_after_s)

    @logs_about_its_call
    async def _expire_silent_call(self, call_id: int) -> None:
        """Nothing heard for too long: give up on the call, and hang it up in case it still lives.

        While the store cannot record that, the call keeps its place and is expired a little later.
        """
        try:
            ended = await self._finish(call_id, CallStatus.FAILED, f"no events for {self._stale_after_s:g} s")
        except StorageUnavailable:
            logger.debug(
                "call %s: its expiry cannot be written yet; trying again in %g s", call_id, self._storage_retry_s
            )
            self._watchdog.put(call_id, self._clock.time() + self._storage_retry_s)
            return
        if ended is not None and ended.call_control_id:
            try:
                await self._hang_up(ended, ended.call_control_id)
            except StorageUnavailable:
                logger.debug("call %s: a note on its hangup could not be written", call_id)

    async def _hang_up(self, call: Call, call_control_id: str) -> None:
        try:
            await self._telnyx.hangup(call_control_id, command_id=f"{call.ref}:hangup")
        except TelnyxError as exc:
            if not (exc.call_has_ended or exc.call_is_unknown):
                logger.warning("call %s: hangup refused: %s", call.id, exc.describe())
                await self._store.add_note(call.id, f"hangup failed: {exc.describe()}")

    async def _answer_incoming(self, event: TelnyxEvent) -> None:
        """Someone rang the joke line: answer if a line is free, and the answered event tells the joke.

        An incoming call counts against ``telnyx.max_concurrent_calls`` as a dialed one does,
        and takes a free place at once, ahead of calls waiting to be dialed. With every place
        taken it is rejected: the caller hears busy, and no place the account lacks is used.
        """
        if event.call_control_id is None:
            # Nothing can answer a call that has no call_control_id, nor would any later
            # event find it: there is no call to keep.
            logger.warning(
                "an incoming call (event %s) came without a call_control_id: it cannot be answered", event.id
            )
            return
        call = await self._store.add_call(
            direction=Direction.INBOUND,
            to=event.to or self._settings.from_number,
            from_=event.from_ or "unknown",
            at=datetime.fromtimestamp(self._clock.time(), UTC),
            timezone="UTC",
            status=CallStatus.RINGING,
            detail=f"incoming call from {event.from_ or 'an unknown number'}",
            call_control_id=event.call_control_id,
        )
        if not self._gate.try_occupy(call.id):
            await self._reject_busy(call, event.call_control_id)
            return
        self._watch(call.id)
        try:
            await self._telnyx.answer(
                event.call_control_id,
                client_state=encode_client_state(call.ref),
                command_id=f"{call.ref}:answer",
            )
        except TelnyxError as exc:
            if exc.call_has_ended:
                await self._finish(call.id, CallStatus.NO_ANSWER, "the caller hung up before we answered")
            else:
                await self._finish(call.id, CallStatus.FAILED, f"answer failed: {exc.describe()}")

    async def _reject_busy(self, call: Call, call_control_id: str) -> None:
        """Every line is taken: the call ends ``busy`` (recorded first, so it holds no place), then is rejected."""
        limit = self._settings.max_concurrent_calls
        await self._finish(
            call.id, CallStatus.BUSY, f"rejected: every line was busy (telnyx.max_concurrent_calls={limit})"
        )
        try:
            await self._telnyx.reject(
                call_control_id,
                cause="USER_BUSY",
                client_state=encode_client_state(call.ref),
                command_id=f"{call.ref}:reject",
            )
        except TelnyxError as exc:
            if not (exc.call_has_ended or exc.call_is_unknown):
                logger.warning("call %s: reject refused: %s", call.id, exc.describe())
                await self._store.add_note(call.id, f"reject failed: {exc.describe()}")
