"""The CallStore contract: every backend runs this whole suite.

The ``backend`` fixture is parametrised with every store there is (today SQLite on disk);
a new backend is one more entry in BACKENDS. What is particular to one backend (SQLite's
WAL, group commit, its lock file) is tested on its own, in tests/test_sqlite_store.py and
tests/test_sqlite_thread.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from dialajoke.models import ApiKey, Call, CallStatus, Direction, DoNotCallEntry, TimelineEntry, User
from dialajoke.store import (
    DAY_S,
    HOUR_S,
    IDEMPOTENCY_KEYS_KEPT_S,
    AlreadyBooked,
    BookingQuota,
    CallChange,
    CallStore,
    Idempotency,
    IdempotencyKeyReused,
    LastAdmin,
    Limit,
    LimitReached,
    OnDoNotCallList,
    SqliteCallStore,
    UserExists,
)
from dialajoke.store.contract import LOGIN_FAILURES_KEPT_S

from .clock import ManualClock
from .service import START

STARTED = datetime.fromtimestamp(START, UTC)


class Backend(Protocol):
    """One kind of store, as the suite needs it: opened on the same data as often as a test likes."""

    async def open(self, clock: ManualClock) -> CallStore: ...


@dataclasses.dataclass(frozen=True)
class SqliteOnDisk:
    path: Path

    async def open(self, clock: ManualClock) -> CallStore:
        return await SqliteCallStore.open(self.path, clock)


BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "sqlite": lambda tmp_path: SqliteOnDisk(tmp_path / "calls.sqlite3"),
}
"""Each backend, made from the test's own temporary folder: its data starts empty in every test."""


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
async def store(backend: Backend, clock: ManualClock) -> AsyncIterator[CallStore]:
    opened = await backend.open(clock)
    yield opened
    await opened.close()


async def book(
    store: CallStore,
    in_s: float = 3600,
    to: str = "+12025550142",
    status: CallStatus = CallStatus.SCHEDULED,
    call_control_id: str | None = None,
    owner_id: int | None = None,
    quota: BookingQuota | None = None,
    idempotency: Idempotency | None = None,
) -> Call:
    return await store.add_call(
        direction=Direction.OUTBOUND,
        to=to,
        from_="+13125550100",
        at=STARTED + timedelta(seconds=in_s),
        timezone="Europe/Dublin",
        status=status,
        detail="booked",
        call_control_id=call_control_id,
        owner_id=owner_id,
        quota=quota,
        idempotency=idempotency,
    )


# Adding and reading calls


async def test_add_call_then_get_call_round_trips_every_field(store: CallStore) -> None:
    added = await store.add_call(
        direction=Direction.INBOUND,
        to="+12025550142",
        from_="+353861234567",
        at=datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
        timezone="America/Chicago",
        status=CallStatus.RINGING,
        detail="someone rang the joke line",
        call_control_id="v3:inbound-1",
    )

    fetched = await store.get_call(added.id)

    assert fetched == added
    assert fetched is not None
    assert fetched.direction is Direction.INBOUND
    assert (fetched.to, fetched.from_) == ("+12025550142", "+353861234567")
    assert fetched.at == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert fetched.timezone == "America/Chicago"
    assert fetched.status is CallStatus.RINGING
    assert fetched.call_control_id == "v3:inbound-1"
    assert (fetched.joke, fetched.hangup_cause) == (None, None)
    assert fetched.created_at == fetched.updated_at == STARTED
    assert fetched.events == (TimelineEntry(STARTED, CallStatus.RINGING, "someone rang the joke line"),)


async def test_each_call_gets_its_own_id_and_ref(store: CallStore) -> None:
    first = await book(store)
    second = await book(store)

    assert first.id != second.id
    assert first.ref != second.ref
    assert first.ref


async def test_get_call_of_an_unknown_id_is_none(store: CallStore) -> None:
    assert await store.get_call(404) is None


async def test_the_due_time_keeps_its_microseconds(store: CallStore) -> None:
    at = datetime(2026, 11, 24, 10, 30, 15, 123456, tzinfo=UTC)
    call = await store.add_call(
        direction=Direction.OUTBOUND,
        to="+12025550142",
        from_="+13125550100",
        at=at,
        timezone="UTC",
        status=CallStatus.SCHEDULED,
        detail="booked",
    )

    assert call.at == at


# Moving through statuses


async def test_move_goes_forward_and_adds_to_the_timeline(store: CallStore, clock: ManualClock) -> None:
    call = await book(store)

    clock.advance(10)
    dialing = await store.move(call.id, CallStatus.DIALING, "dialing")
    clock.advance(5)
    ringing = await store.move(call.id, CallStatus.RINGING, "ringing")

    assert dialing is not None
    assert dialing.status is CallStatus.DIALING
    assert ringing is not None
    assert ringing.status is CallStatus.RINGING
    assert ringing.updated_at == STARTED + timedelta(seconds=15)
    assert ringing.created_at == STARTED
    assert ringing.events == (
        TimelineEntry(STARTED, CallStatus.SCHEDULED, "booked"),
        TimelineEntry(STARTED + timedelta(seconds=10), CallStatus.DIALING, "dialing"),
        TimelineEntry(STARTED + timedelta(seconds=15), CallStatus.RINGING, "ringing"),
    )


async def test_move_may_skip_ahead(store: CallStore) -> None:
    call = await book(store)

    answered = await store.move(call.id, CallStatus.ANSWERED, "answered before ringing was reported")

    assert answered is not None
    assert answered.status is CallStatus.ANSWERED


@pytest.mark.parametrize("back_to", [CallStatus.DIALING, CallStatus.SCHEDULED, CallStatus.RINGING])
async def test_move_backwards_or_in_place_is_refused_and_leaves_no_trace(store: CallStore, back_to: CallStatus) -> None:
    call = await book(store)
    await store.move(call.id, CallStatus.DIALING, "dialing")
    before = await store.move(call.id, CallStatus.RINGING, "ringing")

    moved = await store.move(call.id, back_to, "a late webhook")

    assert moved is None
    assert await store.get_call(call.id) == before


@pytest.mark.parametrize("final", [CallStatus.COMPLETED, CallStatus.CANCELLED, CallStatus.FAILED])
@pytest.mark.parametrize("then", [CallStatus.DIALING, CallStatus.SPEAKING, CallStatus.BUSY, CallStatus.COMPLETED])
async def test_a_final_status_is_never_left(store: CallStore, final: CallStatus, then: CallStatus) -> None:
    call = await book(store)
    ended = await store.move(call.id, final, "ended")

    moved = await store.move(call.id, then, "too late", hangup_cause="normal_clearing")

    assert moved is None
    assert await store.get_call(call.id) == ended


async def test_move_of_an_unknown_call_is_none(store: CallStore) -> None:
    assert await store.move(404, CallStatus.DIALING, "dialing") is None


async def test_cancel_only_from_scheduled_cancels_a_scheduled_call(store: CallStore) -> None:
    call = await book(store)

    cancelled = await store.move(call.id, CallStatus.CANCELLED, "cancelled", only_from={CallStatus.SCHEDULED})

    assert cancelled is not None
    assert cancelled.status is CallStatus.CANCELLED
    assert cancelled.events[-1].detail == "cancelled"


async def test_cancel_only_from_scheduled_leaves_a_dialing_call_alone(store: CallStore) -> None:
    call = await book(store)
    dialing = await store.move(call.id, CallStatus.DIALING, "dialing")

    cancelled = await store.move(call.id, CallStatus.CANCELLED, "cancelled", only_from={CallStatus.SCHEDULED})

    assert cancelled is None
    assert await store.get_call(call.id) == dialing


async def test_only_from_cannot_widen_what_the_status_rules_allow(store: CallStore) -> None:
    call = await book(store)
    completed = await store.move(call.id, CallStatus.COMPLETED, "done")

    moved = await store.move(call.id, CallStatus.FAILED, "retry", only_from={CallStatus.COMPLETED})

    assert moved is None
    assert await store.get_call(call.id) == completed


async def test_move_saves_the_fields_it_is_given(store: CallStore) -> None:
    call = await book(store)
    await store.move(call.id, CallStatus.ANSWERED, "answered")

    speaking = await store.move(call.id, CallStatus.SPEAKING, "telling the joke", joke="Why did the chicken...")
    completed = await store.move(call.id, CallStatus.COMPLETED, "hung up", hangup_cause="normal_clearing")

    assert speaking is not None
    assert speaking.joke == "Why did the chicken..."
    assert completed is not None
    assert (completed.joke, completed.hangup_cause) == ("Why did the chicken...", "normal_clearing")
    assert await store.get_call(call.id) == completed


async def test_a_field_given_as_none_keeps_its_value(store: CallStore) -> None:
    call = await book(store)
    await store.move(call.id, CallStatus.SPEAKING, "telling the joke", joke="A joke")

    completed = await store.move(call.id, CallStatus.COMPLETED, "hung up", joke=None)

    assert completed is not None
    assert completed.joke == "A joke"


async def test_a_refused_move_saves_none_of_its_fields(store: CallStore) -> None:
    call = await book(store)
    await store.move(call.id, CallStatus.COMPLETED, "done", hangup_cause="normal_clearing")

    await store.move(call.id, CallStatus.BUSY, "late", hangup_cause="user_busy")

    stored = await store.get_call(call.id)
    assert stored is not None
    assert (stored.status, stored.hangup_cause) == (CallStatus.COMPLETED, "normal_clearing")


async def test_move_refuses_a_field_it_does_not_know(store: CallStore) -> None:
    call = await book(store)

    with pytest.raises(TypeError, match="status"):
        await store.move(call.id, CallStatus.DIALING, "dialing", status="completed")  # type: ignore[call-arg]

    assert await store.get_call(call.id) == call


async def test_add_note_adds_to_the_timeline_without_changing_the_status(store: CallStore, clock: ManualClock) -> None:
    call = await book(store)
    clock.advance(3)

    await store.add_note(call.id, "the joke API was slow")

    stored = await store.get_call(call.id)
    assert stored is not None
    assert stored.status is CallStatus.SCHEDULED
    assert stored.events[-1] == TimelineEntry(
        STARTED + timedelta(seconds=3), CallStatus.SCHEDULED, "the joke API was slow"
    )


# Telnyx's call_control_id


async def test_attach_call_control_id_sets_it(store: CallStore) -> None:
    call = await book(store)

    await store.attach_call_control_id(call.id, "v3:first")

    stored = await store.get_call(call.id)
    assert stored is not None
    assert stored.call_control_id == "v3:first"


async def test_attach_call_control_id_never_overwrites(store: CallStore) -> None:
    call = await book(store)
    await store.attach_call_control_id(call.id, "v3:first")

    await store.attach_call_control_id(call.id, "v3:second")

    stored = await store.get_call(call.id)
    assert stored is not None
    assert stored.call_control_id == "v3:first"


async def test_attach_call_control_id_keeps_one_given_when_the_call_was_added(store: CallStore) -> None:
    call = await book(store, call_control_id="v3:inbound")

    await store.attach_call_control_id(call.id, "v3:other")

    stored = await store.get_call(call.id)
    assert stored is not None
    assert stored.call_control_id == "v3:inbound"


async def test_find_call_by_ref(store: CallStore) -> None:
    await book(store)
    wanted = await book(store)

    assert await store.find_call(ref=wanted.ref) == wanted


async def test_find_call_by_call_control_id(store: CallStore) -> None:
    wanted = await book(store)
    await book(store)
    await store.attach_call_control_id(wanted.id, "v3:abc/def+=")

    found = await store.find_call(call_control_id="v3:abc/def+=")

    assert found is not None
    assert found.id == wanted.id


async def test_find_call_prefers_the_ref(store: CallStore) -> None:
    by_ref = await book(store)
    by_id = await book(store, call_control_id="v3:other")

    found = await store.find_call(ref=by_ref.ref, call_control_id="v3:other")

    assert found is not None
    assert found.id == by_ref.id
    assert found.id != by_id.id


async def test_find_call_falls_back_to_the_call_control_id(store: CallStore) -> None:
    wanted = await book(store, call_control_id="v3:known")

    found = await store.find_call(ref="not-a-ref-we-made", call_control_id="v3:known")

    assert found is not None
    assert found.id == wanted.id


async def test_find_call_of_nothing_known_is_none(store: CallStore) -> None:
    await book(store, call_control_id="v3:known")

    assert await store.find_call(ref="nope", call_control_id="v3:unknown") is None
    assert await store.find_call() is None


# Listing


async def three_calls(store: CallStore) -> tuple[Call, Call, Call]:
    """Booked out of order: due in 3 h, 1 h and 2 h; the 2 h one is then cancelled."""
    late = await book(store, in_s=3 * 3600)
    soon = await book(store, in_s=3600)
    middle = await book(store, in_s=2 * 3600)
    await store.move(middle.id, CallStatus.CANCELLED, "cancelled")
    return late, soon, middle


async def test_list_calls_upcoming_is_soonest_first(store: CallStore) -> None:
    late, soon, middle = await three_calls(store)

    listed = await store.list_calls(upcoming=True)

    assert [call.id for call in listed] == [soon.id, middle.id, late.id]


async def test_list_calls_otherwise_is_latest_first(store: CallStore) -> None:
    late, soon, middle = await three_calls(store)

    listed = await store.list_calls()

    assert [call.id for call in listed] == [late.id, middle.id, soon.id]


async def test_list_calls_filters_by_status(store: CallStore) -> None:
    late, soon, middle = await three_calls(store)

    scheduled = await store.list_calls(statuses=[CallStatus.SCHEDULED], upcoming=True)
    cancelled = await store.list_calls(statuses={CallStatus.CANCELLED, CallStatus.COMPLETED})

    assert [call.id for call in scheduled] == [soon.id, late.id]
    assert [call.id for call in cancelled] == [middle.id]
    assert cancelled[0].status is CallStatus.CANCELLED


async def test_list_calls_with_no_statuses_lists_nothing(store: CallStore) -> None:
    await three_calls(store)

    assert await store.list_calls(statuses=[]) == []


async def test_list_calls_honours_limit(store: CallStore) -> None:
    late, soon, middle = await three_calls(store)

    upcoming = await store.list_calls(upcoming=True, limit=2)
    recent = await store.list_calls(limit=1)

    assert [call.id for call in upcoming] == [soon.id, middle.id]
    assert [call.id for call in recent] == [late.id]


async def test_list_calls_includes_each_timeline(store: CallStore) -> None:
    _, soon, middle = await three_calls(store)

    listed = {call.id: call for call in await store.list_calls()}

    assert [entry.status for entry in listed[middle.id].events] == [CallStatus.SCHEDULED, CallStatus.CANCELLED]
    assert [entry.status for entry in listed[soon.id].events] == [CallStatus.SCHEDULED]


async def test_scheduled_yields_only_scheduled_calls_soonest_first(store: CallStore) -> None:
    late, soon, _ = await three_calls(store)
    dialing = await book(store, in_s=60)
    await store.move(dialing.id, CallStatus.DIALING, "dialing")

    due = [item async for item in store.scheduled()]

    assert due == [(soon.id, START + 3600, None), (late.id, START + 3 * 3600, None)]


async def test_scheduled_names_the_owner_of_each_call(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    alices = await book(store, in_s=60, owner_id=alice.id)
    nobodys = await book(store, in_s=120)

    due = [item async for item in store.scheduled()]

    assert due == [(alices.id, START + 60, alice.id), (nobodys.id, START + 120, None)]


async def test_scheduled_of_an_empty_store_yields_nothing(store: CallStore) -> None:
    assert [item async for item in store.scheduled()] == []


async def test_in_progress_yields_every_call_dialed_or_answered_and_not_ended(store: CallStore) -> None:
    waiting = await book(store)
    dialing = await book(store)
    await store.move(dialing.id, CallStatus.DIALING, "dialing")
    speaking = await book(store, call_control_id="v3:speaking")
    await store.move(speaking.id, CallStatus.SPEAKING, "speaking")
    ended = await book(store)
    await store.move(ended.id, CallStatus.COMPLETED, "call.hangup")
    inbound = await store.add_call(
        direction=Direction.INBOUND,
        to="+13125550100",
        from_="+353861234567",
        at=STARTED,
        timezone="UTC",
        status=CallStatus.RINGING,
        detail="incoming call",
        call_control_id="v3:inbound",
    )

    found = sorted([item async for item in store.in_progress()])

    assert waiting.id not in [call_id for call_id, *_ in found]
    assert found == [
        (dialing.id, CallStatus.DIALING, Direction.OUTBOUND, None),
        (speaking.id, CallStatus.SPEAKING, Direction.OUTBOUND, "v3:speaking"),
        (inbound.id, CallStatus.RINGING, Direction.INBOUND, "v3:inbound"),
    ]


async def test_count_by_status_counts_every_call_once(store: CallStore) -> None:
    for _ in range(3):
        await book(store)
    cancelled = await book(store)
    await store.move(cancelled.id, CallStatus.CANCELLED, "cancelled")

    counts = await store.count_by_status()

    assert {status: count for status, count in counts.items() if count} == {
        CallStatus.SCHEDULED: 3,
        CallStatus.CANCELLED: 1,
    }


# The calls' timeline as a feed of changes, for the live page


async def test_call_changes_are_every_timeline_entry_after_the_id_given_oldest_first(store: CallStore) -> None:
    assert await store.last_change() == 0
    first = await book(store, owner_id=None)
    second = await book(store)
    await store.move(first.id, CallStatus.CANCELLED, "cancelled by its owner")
    await store.add_note(second.id, "a note")

    changes = await store.call_changes(after=0)

    assert [change.call_id for change in changes] == [first.id, second.id, first.id, second.id]
    ids = [change.change_id for change in changes]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    assert await store.last_change() == ids[-1]
    assert await store.call_changes(after=ids[1]) == changes[2:]
    assert await store.call_changes(after=ids[0], limit=2) == changes[1:3]
    assert await store.call_changes(after=ids[-1]) == []


async def test_call_changes_of_one_owner_leave_out_every_other_call(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=False)
    mine = await book(store, owner_id=alice.id)
    theirs = await book(store, owner_id=bob.id)
    await store.move(theirs.id, CallStatus.CANCELLED, "cancelled")
    await store.move(mine.id, CallStatus.CANCELLED, "cancelled")

    changes = await store.call_changes(after=0, owner_id=alice.id)

    assert [change.call_id for change in changes] == [mine.id, mine.id]
    assert all(isinstance(change, CallChange) for change in changes)


async def test_wait_for_change_returns_at_once_when_a_newer_change_exists(store: CallStore) -> None:
    await book(store)

    await asyncio.wait_for(store.wait_for_change(0), timeout=5)


async def test_wait_for_change_waits_until_a_call_changes(store: CallStore) -> None:
    call = await book(store)
    last = await store.last_change()
    waiter = asyncio.create_task(store.wait_for_change(last))
    await store.add_user(name="carol", password_hash=None, is_admin=False)
    await asyncio.sleep(0)
    assert not waiter.done()

    await store.move(call.id, CallStatus.CANCELLED, "cancelled")

    await asyncio.wait_for(waiter, timeout=5)
    assert await store.last_change() > last


# Webhook events and durability


async def test_record_event_is_true_only_the_first_time(store: CallStore) -> None:
    assert await store.record_event("event-1", "call.answered", b"{}") is True
    assert await store.record_event("event-1", "call.answered", b"{}") is False
    assert await store.record_event("event-2", "call.answered", b"{}") is True


async def test_unprocessed_events_are_the_recorded_ones_oldest_first_leaving_out_those_excluded(
    store: CallStore, clock: ManualClock
) -> None:
    for n in range(4):
        await store.record_event(f"event-{n}", "call.answered", f'{{"n": {n}}}'.encode())
        clock.advance(1)

    assert await store.unprocessed_events(limit=10) == [(f"event-{n}", f'{{"n": {n}}}'.encode()) for n in range(4)]
    assert [event_id for event_id, _ in await store.unprocessed_events(limit=2)] == ["event-0", "event-1"]
    assert [event_id for event_id, _ in await store.unprocessed_events(limit=2, exclude={"event-0"})] == [
        "event-1",
        "event-2",
    ]


async def test_a_processed_event_is_no_longer_unprocessed_even_when_given_up_on(store: CallStore) -> None:
    for n in range(3):
        await store.record_event(f"event-{n}", "call.answered", b"{}")

    await store.mark_events_processed({"event-0": None, "event-1": "RuntimeError: gave up"})

    assert await store.unprocessed_events(limit=10) == [("event-2", b"{}")]
    assert await store.record_event("event-1", "call.answered", b"{}") is False


async def test_forget_events_deletes_only_those_processed_before_the_time(store: CallStore, clock: ManualClock) -> None:
    for n in range(3):
        await store.record_event(f"event-{n}", "call.answered", b"{}")
    await store.mark_events_processed({"event-0": None})
    clock.advance(60)
    await store.mark_events_processed({"event-1": None})

    forgotten = await store.forget_events(processed_before=START + 30)

    assert forgotten == 1
    assert await store.record_event("event-0", "call.answered", b"{}") is True
    assert await store.record_event("event-1", "call.answered", b"{}") is False
    assert [event_id for event_id, _ in await store.unprocessed_events(limit=10)] == ["event-2", "event-0"]


async def test_record_event_survives_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    assert await first.record_event("event-1", "call.hangup", b"{}") is True
    await first.close()

    second = await backend.open(clock)
    try:
        assert await second.record_event("event-1", "call.hangup", b"{}") is False
        assert await second.record_event("event-2", "call.hangup", b"{}") is True
    finally:
        await second.close()


async def test_a_call_survives_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    call = await book(first)
    clock.advance(30)
    moved = await first.move(call.id, CallStatus.DIALING, "dialing")
    await first.attach_call_control_id(call.id, "v3:survivor")
    await first.close()

    second = await backend.open(clock)
    try:
        stored = await second.get_call(call.id)
        due = [item async for item in second.scheduled()]
    finally:
        await second.close()

    assert moved is not None
    assert stored is not None
    assert stored.status is CallStatus.DIALING
    assert stored.call_control_id == "v3:survivor"
    assert stored.events == moved.events
    assert due == []


async def test_a_scheduled_call_is_still_due_after_reopening(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    call = await book(first, in_s=90)
    await first.close()

    second = await backend.open(clock)
    try:
        due = [item async for item in second.scheduled()]
        stored = await second.get_call(call.id)
    finally:
        await second.close()

    assert due == [(call.id, START + 90, None)]
    assert stored == call


async def test_an_open_store_that_can_write_answers_ping(store: CallStore) -> None:
    await store.ping()
    await book(store)

    await store.ping()


async def test_list_calls_keeps_those_due_from_the_start_up_to_the_end_of_a_range(store: CallStore) -> None:
    late, _, middle = await three_calls(store)

    listed = await store.list_calls(due_from=middle.at.timestamp(), due_until=late.at.timestamp())

    assert [call.id for call in listed] == [middle.id]


async def test_list_calls_after_a_position_goes_on_from_the_call_that_follows_it(store: CallStore) -> None:
    late, soon, middle = await three_calls(store)
    twin = await book(store, in_s=2 * 3600)

    older = await store.list_calls(after=(middle.at.timestamp(), twin.id))
    sooner = await store.list_calls(after=(middle.at.timestamp(), middle.id), upcoming=True)

    assert [call.id for call in older] == [middle.id, soon.id]
    assert [call.id for call in sooner] == [twin.id, late.id]


async def test_paging_with_every_filter_visits_each_call_once_in_order(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    calls = [await book(store, in_s=60 * (index % 7 + 1), owner_id=alice.id) for index in range(12)]
    await book(store, in_s=120)
    for call in calls[::3]:
        await store.move(call.id, CallStatus.CANCELLED, "cancelled")
    for call in calls[1::3]:
        await store.move(call.id, CallStatus.DIALING, "dialing")
    wanted = {CallStatus.SCHEDULED, CallStatus.CANCELLED}
    due_from, due_until = STARTED.timestamp() + 120, STARTED.timestamp() + 7 * 60

    seen: list[Call] = []
    after = None
    while page := await store.list_calls(
        statuses=wanted, owner_id=alice.id, due_from=due_from, due_until=due_until, limit=2, after=after
    ):
        seen.extend(page)
        after = (page[-1].at.timestamp(), page[-1].id)

    expected = sorted(
        (call for call in calls[::3] + calls[2::3] if due_from <= call.at.timestamp() < due_until),
        key=lambda call: (call.at, call.id),
        reverse=True,
    )
    assert [call.id for call in seen] == [call.id for call in expected]


# Calls and their owners


async def test_a_call_keeps_its_owner(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)

    booked = await book(store, owner_id=alice.id)

    assert booked.owner_id == alice.id
    assert await store.get_call(booked.id) == booked
    assert await store.find_call(ref=booked.ref) == booked
    assert [call.owner_id for call in await store.list_calls()] == [alice.id]


async def test_a_call_booked_without_an_owner_has_none(store: CallStore) -> None:
    booked = await book(store)

    stored = await store.get_call(booked.id)

    assert stored is not None
    assert stored.owner_id is None


async def test_list_calls_of_an_owner_lists_only_that_owners_calls(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=False)
    alices_late = await book(store, in_s=2 * 3600, owner_id=alice.id)
    bobs = await book(store, owner_id=bob.id)
    nobodys = await book(store)
    alices_soon = await book(store, in_s=60, owner_id=alice.id)
    await store.move(alices_late.id, CallStatus.CANCELLED, "cancelled")

    alices = await store.list_calls(owner_id=alice.id, upcoming=True)
    alices_scheduled = await store.list_calls(owner_id=alice.id, statuses=[CallStatus.SCHEDULED])
    everyones = await store.list_calls(upcoming=True)

    assert [call.id for call in alices] == [alices_soon.id, alices_late.id]
    assert [call.id for call in alices_scheduled] == [alices_soon.id]
    assert [call.id for call in await store.list_calls(owner_id=bob.id)] == [bobs.id]
    assert [call.id for call in everyones] == [alices_soon.id, bobs.id, nobodys.id, alices_late.id]


async def test_list_calls_of_an_owner_with_no_calls_is_empty(store: CallStore) -> None:
    carol = await store.add_user(name="carol", password_hash=None, is_admin=False)
    await book(store)

    assert await store.list_calls(owner_id=carol.id) == []


# Users


async def test_add_user_then_get_and_find_it(store: CallStore, clock: ManualClock) -> None:
    clock.advance(5)

    added = await store.add_user(name="Alice", password_hash="$argon2id$v=19$hash", is_admin=True)

    assert added == User(
        id=added.id,
        name="Alice",
        is_admin=True,
        password_hash="$argon2id$v=19$hash",
        created_at=STARTED + timedelta(seconds=5),
        disabled_at=None,
    )
    assert await store.get_user(added.id) == added
    assert await store.find_user("Alice") == added


async def test_a_user_may_have_no_password(store: CallStore) -> None:
    added = await store.add_user(name="robot", password_hash=None, is_admin=False)

    found = await store.get_user(added.id)

    assert found is not None
    assert (found.password_hash, found.is_admin, found.is_disabled) == (None, False, False)


async def test_find_user_ignores_case(store: CallStore) -> None:
    added = await store.add_user(name="Alice", password_hash=None, is_admin=False)
    accented = await store.add_user(name="Zoë", password_hash=None, is_admin=False)

    assert await store.find_user("alice") == added
    assert await store.find_user("ALICE") == added
    assert await store.find_user("ZOË") == accented


async def test_a_user_not_there_is_none(store: CallStore) -> None:
    await store.add_user(name="alice", password_hash=None, is_admin=False)

    assert await store.get_user(404) is None
    assert await store.find_user("alic") is None
    assert await store.find_user("") is None


@pytest.mark.parametrize("again", ["alice", "ALICE", "Alice"])
async def test_a_name_is_taken_whatever_its_case(store: CallStore, again: str) -> None:
    first = await store.add_user(name="Alice", password_hash="first", is_admin=False)

    with pytest.raises(UserExists, match=f"a user named '{again}' exists already") as refused:
        await store.add_user(name=again, password_hash="second", is_admin=True)

    assert refused.value.name == again
    assert await store.list_users() == [first]


async def test_a_taken_name_leaves_the_writes_beside_it_alone(store: CallStore) -> None:
    """The refusal is the one write's: others written at the same moment are saved."""
    await store.add_user(name="alice", password_hash=None, is_admin=False)

    outcomes = await asyncio.gather(
        store.add_user(name="bob", password_hash=None, is_admin=False),
        store.add_user(name="Alice", password_hash=None, is_admin=False),
        book(store),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], User)
    assert isinstance(outcomes[1], UserExists)
    assert isinstance(outcomes[2], Call)
    assert [user.name for user in await store.list_users()] == ["alice", "bob"]


async def test_list_users_is_by_name_whatever_the_case_disabled_ones_included(store: CallStore) -> None:
    for name in ["carol", "Bob", "alice", "Dave"]:
        await store.add_user(name=name, password_hash=None, is_admin=name == "carol")
    bob = await store.find_user("bob")
    assert bob is not None
    await store.disable_user(bob.id)

    listed = await store.list_users()

    assert [user.name for user in listed] == ["alice", "Bob", "carol", "Dave"]
    assert [user.is_admin for user in listed] == [False, False, True, False]
    assert [user.is_disabled for user in listed] == [False, True, False, False]


async def test_has_users_once_there_is_one(store: CallStore) -> None:
    assert await store.has_users() is False
    assert await store.list_users() == []

    await store.add_user(name="admin", password_hash=None, is_admin=True)

    assert await store.has_users() is True


async def test_set_password_hash_replaces_it(store: CallStore) -> None:
    user = await store.add_user(name="alice", password_hash="old", is_admin=False)

    assert await store.set_password_hash(user.id, "new") is True
    assert await store.find_user("alice") == dataclasses.replace(user, password_hash="new")
    assert await store.set_password_hash(user.id, None) is True
    assert await store.find_user("alice") == dataclasses.replace(user, password_hash=None)


async def test_set_password_hash_of_no_such_user_is_false(store: CallStore) -> None:
    user = await store.add_user(name="alice", password_hash="old", is_admin=False)

    assert await store.set_password_hash(user.id + 1, "new") is False
    assert await store.get_user(user.id) == user


async def test_disable_user_keeps_the_first_time(store: CallStore, clock: ManualClock) -> None:
    user = await store.add_user(name="alice", password_hash="hash", is_admin=False)
    other = await store.add_user(name="bob", password_hash="hash", is_admin=False)
    clock.advance(60)

    disabled = await store.disable_user(user.id)
    clock.advance(60)
    again = await store.disable_user(user.id)

    assert disabled == dataclasses.replace(user, disabled_at=STARTED + timedelta(seconds=60))
    assert disabled.is_disabled
    assert again == disabled
    assert await store.get_user(user.id) == disabled
    assert await store.get_user(other.id) == other


async def test_disable_user_of_no_such_user_is_none(store: CallStore) -> None:
    assert await store.disable_user(404) is None


async def test_disable_user_refuses_the_last_enabled_admin_and_changes_nothing(store: CallStore) -> None:
    root = await store.add_user(name="root", password_hash=None, is_admin=True)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=False)
    former = await store.add_user(name="former", password_hash=None, is_admin=True)
    await store.disable_user(former.id)

    with pytest.raises(LastAdmin, match=r"root is the last admin .* make another admin first"):
        await store.disable_user(root.id)

    assert await store.get_user(root.id) == root
    assert (await store.disable_user(bob.id) or bob).is_disabled
    assert (await store.disable_user(former.id) or former).is_disabled


async def test_two_admins_disabling_each_other_at_once_leave_one(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=True)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=True)

    outcomes = await asyncio.gather(store.disable_user(alice.id), store.disable_user(bob.id), return_exceptions=True)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["LastAdmin", "User"]
    assert [user.is_disabled for user in await store.list_users()].count(False) == 1


async def test_users_survive_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    user = await first.add_user(name="alice", password_hash="hash", is_admin=True)
    await first.close()

    second = await backend.open(clock)
    try:
        assert await second.find_user("ALICE") == user
        with pytest.raises(UserExists):
            await second.add_user(name="Alice", password_hash=None, is_admin=False)
    finally:
        await second.close()


# API keys


async def add_key(store: CallStore, user: User, key_id: str, name: str = "laptop") -> ApiKey:
    return await store.add_api_key(user_id=user.id, key_id=key_id, name=name, secret_hash=f"sha256 of {key_id}")


async def test_add_api_key_then_find_it(store: CallStore, clock: ManualClock) -> None:
    user = await store.add_user(name="alice", password_hash=None, is_admin=False)
    clock.advance(7)

    added = await store.add_api_key(user_id=user.id, key_id="abcd2345", name="laptop", secret_hash="0f" * 32)

    assert added == ApiKey(
        id="abcd2345",
        user_id=user.id,
        name="laptop",
        secret_hash="0f" * 32,
        created_at=STARTED + timedelta(seconds=7),
        last_used_at=None,
        revoked_at=None,
    )
    assert await store.find_api_key("abcd2345") == added


async def test_find_api_key_of_an_unknown_id_is_none(store: CallStore) -> None:
    user = await store.add_user(name="alice", password_hash=None, is_admin=False)
    await add_key(store, user, "abcd2345")

    assert await store.find_api_key("abcd2346") is None
    assert await store.find_api_key("ABCD2345") is None


async def test_a_key_id_is_never_given_twice(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=False)
    first = await add_key(store, alice, "abcd2345")

    with pytest.raises(ValueError, match="abcd2345"):
        await add_key(store, bob, "abcd2345", name="stolen")

    assert await store.find_api_key("abcd2345") == first
    assert await store.list_api_keys(bob.id) == []


async def test_list_api_keys_is_the_users_own_newest_first_revoked_ones_included(
    store: CallStore, clock: ManualClock
) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    bob = await store.add_user(name="bob", password_hash=None, is_admin=False)
    oldest = await add_key(store, alice, "aaaaaaaa")
    clock.advance(1)
    bobs = await add_key(store, bob, "bbbbbbbb")
    middle = await add_key(store, alice, "cccccccc")
    same_moment = await add_key(store, alice, "dddddddd")
    revoked = await store.revoke_api_key(alice.id, "aaaaaaaa")

    listed = await store.list_api_keys(alice.id)

    assert revoked is not None
    assert [key.id for key in listed] == [same_moment.id, middle.id, oldest.id]
    assert listed[-1] == revoked
    assert await store.list_api_keys(bob.id) == [bobs]
    assert await store.list_api_keys(404) == []


async def test_revoke_api_key_keeps_the_first_time(store: CallStore, clock: ManualClock) -> None:
    user = await store.add_user(name="alice", password_hash=None, is_admin=False)
    key = await add_key(store, user, "abcd2345")
    clock.advance(30)

    revoked = await store.revoke_api_key(user.id, "abcd2345")
    clock.advance(30)
    again = await store.revoke_api_key(user.id, "abcd2345")

    assert revoked == dataclasses.replace(key, revoked_at=STARTED + timedelta(seconds=30))
    assert revoked.is_revoked
    assert again == revoked
    assert await store.find_api_key("abcd2345") == revoked


async def test_a_key_is_revoked_only_by_its_own_user(store: CallStore) -> None:
    alice = await store.add_user(name="alice", password_hash=None, is_admin=False)
    mallory = await store.add_user(name="mallory", password_hash=None, is_admin=False)
    key = await add_key(store, alice, "abcd2345")

    assert await store.revoke_api_key(mallory.id, "abcd2345") is None
    assert await store.revoke_api_key(alice.id, "unknown0") is None
    assert await store.find_api_key("abcd2345") == key


async def test_touch_api_key_notes_the_last_use_and_never_moves_it_back(store: CallStore) -> None:
    user = await store.add_user(name="alice", password_hash=None, is_admin=False)
    key = await add_key(store, user, "abcd2345")
    other = await add_key(store, user, "efgh6789")

    await store.touch_api_key("abcd2345", START + 120)
    touched = await store.find_api_key("abcd2345")
    await store.touch_api_key("abcd2345", START + 60)
    late_write = await store.find_api_key("abcd2345")
    await store.touch_api_key("unknown0", START + 60)

    assert touched == dataclasses.replace(key, last_used_at=STARTED + timedelta(seconds=120))
    assert late_write == touched
    assert await store.find_api_key("efgh6789") == other


# Failed sign-ins


async def test_login_failures_count_per_name_whatever_its_case_and_per_address(
    store: CallStore, clock: ManualClock
) -> None:
    await store.record_login_failure(name="Alice", address="192.0.2.1")
    clock.advance(10)
    await store.record_login_failure(name="alice", address="192.0.2.2")
    clock.advance(10)
    await store.record_login_failure(name="bob", address="192.0.2.1")
    await store.record_login_failure(name="carol", address="198.51.100.7")

    since = START - 1

    assert await store.login_failures(name="ALICE", address="192.0.2.1", since=since) == (2, 2, START)
    assert await store.login_failures(name="bob", address="192.0.2.2", since=since) == (1, 1, START + 10)
    assert await store.login_failures(name="carol", address="198.51.100.7", since=since) == (1, 1, START + 20)
    assert await store.login_failures(name="dave", address="198.51.100.7", since=since) == (0, 1, START + 20)


async def test_login_failures_count_only_those_after_since(store: CallStore, clock: ManualClock) -> None:
    await store.record_login_failure(name="alice", address="192.0.2.1")
    clock.advance(100)
    await store.record_login_failure(name="alice", address="192.0.2.2")
    clock.advance(100)
    await store.record_login_failure(name="bob", address="192.0.2.1")

    assert await store.login_failures(name="alice", address="192.0.2.1", since=START + 50) == (1, 1, START + 100)
    assert await store.login_failures(name="alice", address="192.0.2.1", since=START + 100) == (0, 1, START + 200)
    assert await store.login_failures(name="alice", address="192.0.2.1", since=START + 200) == (0, 0, None)


async def test_no_login_failures_is_zero_and_no_oldest(store: CallStore) -> None:
    assert await store.login_failures(name="alice", address="192.0.2.1", since=START - 900) == (0, 0, None)


async def test_login_failures_survive_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    await first.record_login_failure(name="alice", address="192.0.2.1")
    await first.close()

    second = await backend.open(clock)
    try:
        assert await second.login_failures(name="alice", address="192.0.2.1", since=START - 900) == (1, 1, START)
    finally:
        await second.close()


async def test_login_failures_of_the_last_day_are_kept_while_new_ones_come(
    store: CallStore, clock: ManualClock
) -> None:
    await store.record_login_failure(name="alice", address="192.0.2.1")
    clock.advance(LOGIN_FAILURES_KEPT_S - 1)

    await store.record_login_failure(name="bob", address="192.0.2.1")

    assert await store.login_failures(name="alice", address="192.0.2.1", since=START - 1) == (1, 2, START)


# Ended sessions


async def test_an_ended_session_is_ended_until_the_time_given(store: CallStore, clock: ManualClock) -> None:
    await store.end_session("session-a", until=START + 60)

    assert await store.is_session_ended("session-a") is True
    assert await store.is_session_ended("session-b") is False
    clock.advance(59)
    assert await store.is_session_ended("session-a") is True
    clock.advance(1)
    assert await store.is_session_ended("session-a") is False


async def test_ending_a_session_again_keeps_the_later_time(store: CallStore, clock: ManualClock) -> None:
    await store.end_session("session-a", until=START + 60)
    await store.end_session("session-a", until=START + 30)
    await store.end_session("session-b", until=START + 30)
    clock.advance(45)

    assert await store.is_session_ended("session-a") is True
    assert await store.is_session_ended("session-b") is False


async def test_ended_sessions_survive_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    await first.end_session("session-a", until=START + 60)
    await first.close()

    second = await backend.open(clock)
    try:
        assert await second.is_session_ended("session-a") is True
    finally:
        await second.close()


# Booking limits: checked by add_call in the insert's own transaction


@pytest.fixture
async def owners(store: CallStore) -> list[int]:
    """Four users to own calls: the limits are counted per owner."""
    return [(await store.add_user(name=name, password_hash=None, is_admin=False)).id for name in "abcd"]


async def refused(store: CallStore, **booking: Any) -> LimitReached:
    """The refusal of a booking (``book``'s arguments), having checked that nothing was saved."""
    before = await store.count_by_status()
    with pytest.raises(LimitReached) as refusal:
        await book(store, **booking)
    assert await store.count_by_status() == before
    return refusal.value


async def test_a_number_takes_so_many_calls_a_day_from_every_owner_together(
    store: CallStore, owners: list[int]
) -> None:
    quota = BookingQuota(calls_per_number_per_day=3)
    for owner_id, in_s in zip(owners, (3600, 2 * 3600, 5 * 3600), strict=False):
        await book(store, in_s=in_s, owner_id=owner_id, quota=quota)

    refusal = await refused(store, in_s=4 * 3600, owner_id=owners[3], quota=quota)

    assert (refusal.limit, refusal.allowed) == (Limit.CALLS_PER_NUMBER_PER_DAY, 3)
    assert refusal.reset_at == START + 5 * 3600 + DAY_S
    await book(store, in_s=4 * 3600, to="+12025550143", owner_id=owners[3], quota=quota)


async def test_calls_to_a_number_are_limited_in_any_24_hours_not_only_the_ones_before(store: CallStore) -> None:
    quota = BookingQuota(calls_per_number_per_day=2)
    await book(store, in_s=0, quota=quota)
    await book(store, in_s=20 * 3600, quota=quota)

    between = await refused(store, in_s=10 * 3600, quota=quota)
    before_both = await book(store, in_s=-10 * 3600, quota=quota)
    a_day_after_the_first = await book(store, in_s=DAY_S, quota=quota)

    assert between.limit is Limit.CALLS_PER_NUMBER_PER_DAY
    assert between.reset_at == START + 20 * 3600 + DAY_S
    assert before_both.status is a_day_after_the_first.status is CallStatus.SCHEDULED
    assert (await refused(store, in_s=21 * 3600, quota=quota)).limit is Limit.CALLS_PER_NUMBER_PER_DAY


async def test_calls_that_never_rang_count_for_no_limit_on_the_number(store: CallStore) -> None:
    quota = BookingQuota(calls_per_number_per_day=2, calls_per_day=2)
    cancelled = await book(store, quota=quota)
    missed = await book(store, quota=quota)
    await store.move(cancelled.id, CallStatus.CANCELLED, "cancelled")
    await store.move(missed.id, CallStatus.MISSED, "missed")

    await book(store, quota=quota)
    await book(store, quota=quota)

    assert (await refused(store, quota=quota)).limit is Limit.CALLS_PER_NUMBER_PER_DAY


async def test_calls_that_rang_still_count_for_the_day(store: CallStore) -> None:
    quota = BookingQuota(calls_per_number_per_day=1)
    answered = await book(store, quota=quota)
    await store.move(answered.id, CallStatus.COMPLETED, "call.hangup")

    assert (await refused(store, in_s=2 * 3600, quota=quota)).limit is Limit.CALLS_PER_NUMBER_PER_DAY


async def test_an_owner_has_so_many_calls_pending_to_one_number(store: CallStore, owners: list[int]) -> None:
    quota = BookingQuota(pending_per_number_per_owner=1)
    first = await book(store, owner_id=owners[0], quota=quota)

    refusal = await refused(store, in_s=2 * 3600, owner_id=owners[0], quota=quota)
    await book(store, owner_id=owners[1], quota=quota)
    await book(store, to="+12025550143", owner_id=owners[0], quota=quota)
    await store.move(first.id, CallStatus.DIALING, "dialing")
    again = await book(store, in_s=2 * 3600, owner_id=owners[0], quota=quota)

    assert (refusal.limit, refusal.allowed, refusal.reset_at) == (Limit.PENDING_PER_NUMBER_PER_USER, 1, None)
    assert again.status is CallStatus.SCHEDULED


async def test_an_owner_has_so_many_calls_pending_in_all(store: CallStore, owners: list[int]) -> None:
    quota = BookingQuota(pending_per_owner=2)
    first = await book(store, to="+12025550142", owner_id=owners[0], quota=quota)
    await book(store, to="+12025550143", owner_id=owners[0], quota=quota)

    refusal = await refused(store, to="+12025550144", owner_id=owners[0], quota=quota)
    await book(store, to="+12025550144", owner_id=owners[1], quota=quota)
    await store.move(first.id, CallStatus.CANCELLED, "cancelled")
    await book(store, to="+12025550144", owner_id=owners[0], quota=quota)

    assert (refusal.limit, refusal.allowed, refusal.reset_at) == (Limit.PENDING_PER_USER, 2, None)


async def test_an_owner_books_so_many_calls_an_hour_whatever_became_of_them(
    store: CallStore, clock: ManualClock, owners: list[int]
) -> None:
    quota = BookingQuota(bookings_per_owner_per_hour=2)
    first = await book(store, to="+12025550142", owner_id=owners[0], quota=quota)
    clock.advance(600)
    await book(store, to="+12025550143", owner_id=owners[0], quota=quota)
    await store.move(first.id, CallStatus.CANCELLED, "cancelled")
    clock.advance(600)

    refusal = await refused(store, to="+12025550144", owner_id=owners[0], quota=quota)
    await book(store, to="+12025550144", owner_id=owners[1], quota=quota)

    assert (refusal.limit, refusal.allowed, refusal.reset_at) == (Limit.BOOKINGS_PER_USER_PER_HOUR, 2, START + HOUR_S)
    clock.advance(START + HOUR_S - clock.time() - 1)
    assert (await refused(store, to="+12025550144", owner_id=owners[0], quota=quota)).reset_at == START + HOUR_S
    clock.advance(1)
    assert (await book(store, to="+12025550144", owner_id=owners[0], quota=quota)).status is CallStatus.SCHEDULED


async def test_a_lowered_hourly_limit_resets_when_enough_bookings_leave_the_hour(
    store: CallStore, clock: ManualClock, owners: list[int]
) -> None:
    for number in range(3):
        await book(store, to=f"+1202555014{number}", owner_id=owners[0])
        clock.advance(60)

    refusal = await refused(store, owner_id=owners[0], quota=BookingQuota(bookings_per_owner_per_hour=2))

    assert refusal.reset_at == START + 60 + HOUR_S


async def test_the_service_takes_so_many_calls_due_in_24_hours(store: CallStore, owners: list[int]) -> None:
    quota = BookingQuota(calls_per_day=2)
    await book(store, in_s=3600, to="+12025550142", owner_id=owners[0], quota=quota)
    await book(store, in_s=2 * 3600, to="+12025550143", owner_id=owners[1], quota=quota)

    refusal = await refused(store, in_s=3 * 3600, to="+12025550144", owner_id=owners[2], quota=quota)
    next_day = await book(store, in_s=3600 + DAY_S, to="+12025550144", owner_id=owners[2], quota=quota)

    assert (refusal.limit, refusal.allowed, refusal.reset_at) == (Limit.CALLS_PER_DAY, 2, START + 3600 + DAY_S)
    assert next_day.status is CallStatus.SCHEDULED


async def test_a_limit_of_0_is_no_limit(store: CallStore, owners: list[int]) -> None:
    for _ in range(5):
        await book(store, owner_id=owners[0], quota=BookingQuota())

    assert (await store.count_by_status())[CallStatus.SCHEDULED] == 5


async def test_the_first_limit_broken_is_the_one_named(store: CallStore, owners: list[int]) -> None:
    await book(store, owner_id=owners[0])
    every_limit = BookingQuota(
        calls_per_number_per_day=1,
        pending_per_number_per_owner=1,
        pending_per_owner=1,
        bookings_per_owner_per_hour=1,
        calls_per_day=1,
    )

    named = [
        (await refused(store, owner_id=owners[0], quota=dataclasses.replace(every_limit, **off))).limit
        for off in (
            {},
            {"calls_per_number_per_day": 0},
            {"calls_per_number_per_day": 0, "pending_per_number_per_owner": 0},
            {"calls_per_number_per_day": 0, "pending_per_number_per_owner": 0, "pending_per_owner": 0},
        )
    ]

    assert named == list(Limit)[:4]


async def test_the_store_applies_whatever_quota_it_is_given(store: CallStore, owners: list[int]) -> None:
    await book(store, to="+12025550142", owner_id=owners[0])

    await refused(store, to="+12025550143", owner_id=owners[0], quota=BookingQuota(pending_per_owner=1))
    larger = await book(store, to="+12025550143", owner_id=owners[0], quota=BookingQuota(pending_per_owner=100))

    assert larger.status is CallStatus.SCHEDULED


async def test_two_bookings_at_once_cannot_both_take_the_last_place(store: CallStore, owners: list[int]) -> None:
    quota = BookingQuota(calls_per_number_per_day=1)

    outcomes = await asyncio.gather(
        *(book(store, owner_id=owner_id, quota=quota) for owner_id in owners[:2]), return_exceptions=True
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Call", "LimitReached"]
    assert (await store.count_by_status())[CallStatus.SCHEDULED] == 1


# The do-not-call list


async def test_a_number_on_the_list_can_be_looked_up_listed_and_removed(store: CallStore, clock: ManualClock) -> None:
    first, _ = await store.add_to_do_not_call("+12025550142", added_by="alice")
    clock.advance(60)
    second, _ = await store.add_to_do_not_call("+12025550143", added_by="the callee, pressing 9 on call 7", call_id=7)

    assert first == DoNotCallEntry("+12025550142", "alice", STARTED, None)
    assert second == DoNotCallEntry(
        "+12025550143", "the callee, pressing 9 on call 7", STARTED + timedelta(seconds=60), 7
    )
    assert await store.do_not_call_entry("+12025550142") == first
    assert await store.list_do_not_call() == [second, first]
    assert await store.list_do_not_call(limit=1, offset=1) == [first]
    assert await store.remove_from_do_not_call("+12025550142") == first
    assert await store.remove_from_do_not_call("+12025550142") is None
    assert await store.do_not_call_entry("+12025550142") is None
    assert await store.list_do_not_call() == [second]


async def test_a_number_added_again_keeps_its_first_entry(store: CallStore, clock: ManualClock) -> None:
    first, _ = await store.add_to_do_not_call("+12025550142", added_by="the command line")
    clock.advance(60)

    again, _ = await store.add_to_do_not_call("+12025550142", added_by="alice", call_id=3)

    assert again == first
    assert await store.list_do_not_call() == [first]


async def test_adding_a_number_cancels_its_scheduled_calls_and_no_others(
    store: CallStore, owners: list[int], clock: ManualClock
) -> None:
    soon = await book(store, in_s=60, owner_id=owners[0])
    later = await book(store, in_s=7200, owner_id=owners[1])
    dialing = await book(store)
    await store.move(dialing.id, CallStatus.DIALING, "dialing")
    elsewhere = await book(store, to="+12025550143")
    clock.advance(5)

    _, cancelled = await store.add_to_do_not_call("+12025550142", added_by="alice")

    reason = "cancelled: the number asked never to be called (do-not-call list)"
    assert [(call.id, call.status, call.events[-1]) for call in cancelled] == [
        (soon.id, CallStatus.CANCELLED, TimelineEntry(STARTED + timedelta(seconds=5), CallStatus.CANCELLED, reason)),
        (later.id, CallStatus.CANCELLED, TimelineEntry(STARTED + timedelta(seconds=5), CallStatus.CANCELLED, reason)),
    ]
    assert cancelled == [await store.get_call(soon.id), await store.get_call(later.id)]
    assert [item async for item in store.scheduled()] == [(elsewhere.id, START + 3600, None)]
    still_dialing = await store.get_call(dialing.id)
    assert still_dialing is not None
    assert still_dialing.status is CallStatus.DIALING


async def test_a_booking_to_a_number_on_the_list_is_refused_before_any_limit(
    store: CallStore, owners: list[int]
) -> None:
    entry, _ = await store.add_to_do_not_call("+12025550142", added_by="alice")
    await book(store, owner_id=owners[0])

    with pytest.raises(OnDoNotCallList) as refusal:
        await book(store, owner_id=owners[0], quota=BookingQuota(pending_per_owner=1))
    await book(store, to="+12025550143", owner_id=owners[1], quota=BookingQuota(pending_per_owner=1))

    assert refusal.value.entry == entry
    assert (await store.count_by_status())[CallStatus.SCHEDULED] == 2


async def test_the_list_survives_reopening_the_store(backend: Backend, clock: ManualClock) -> None:
    first = await backend.open(clock)
    entry, _ = await first.add_to_do_not_call("+12025550142", added_by="alice", call_id=None)
    await first.close()

    second = await backend.open(clock)
    try:
        assert await second.do_not_call_entry("+12025550142") == entry
        with pytest.raises(OnDoNotCallList):
            await book(second, quota=BookingQuota())
    finally:
        await second.close()


# Claiming a call to dial it


def never(call: Call) -> str | None:
    return None


async def test_claim_moves_a_scheduled_call_to_dialing(store: CallStore, owners: list[int], clock: ManualClock) -> None:
    call = await book(store, owner_id=owners[0])
    clock.advance(3600)

    claimed = await store.claim_for_dialing(call.id, calls_per_day=0, refuse=never)

    assert claimed is not None
    assert claimed == await store.get_call(call.id)
    assert claimed.status is CallStatus.DIALING
    assert claimed.events[-1] == TimelineEntry(STARTED + timedelta(hours=1), CallStatus.DIALING, "dialing")
    assert claimed.updated_at == STARTED + timedelta(hours=1)


async def test_claim_of_a_call_not_scheduled_is_none_and_writes_nothing(store: CallStore) -> None:
    claimed = await book(store)
    await store.claim_for_dialing(claimed.id, calls_per_day=0, refuse=never)
    cancelled = await book(store)
    await store.move(cancelled.id, CallStatus.CANCELLED, "cancelled")
    before = [await store.get_call(claimed.id), await store.get_call(cancelled.id)]

    outcomes = [
        await store.claim_for_dialing(call_id, calls_per_day=0, refuse=never)
        for call_id in (claimed.id, cancelled.id, 12345)
    ]

    assert outcomes == [None, None, None]
    assert [await store.get_call(claimed.id), await store.get_call(cancelled.id)] == before


async def test_claim_cancels_a_call_to_a_number_on_the_list_whatever_else_would_refuse_it(store: CallStore) -> None:
    await store.add_to_do_not_call("+12025550143", added_by="alice")
    # Booked without a quota, as nothing but a booking checks the list before the dial.
    listed = await book(store, to="+12025550143")

    claimed = await store.claim_for_dialing(listed.id, calls_per_day=1, refuse=lambda call: "outside calling hours")

    assert claimed is not None
    assert claimed.status is CallStatus.CANCELLED
    assert claimed.events[-1].detail == "cancelled: +12025550143 is on the do-not-call list (added by alice)"


async def test_claim_misses_a_call_once_the_service_dialed_its_calls_for_24_hours(
    store: CallStore, clock: ManualClock
) -> None:
    calls = [await book(store, to=f"+1202555014{n}") for n in range(4)]
    for call in calls[:2]:
        assert await store.claim_for_dialing(call.id, calls_per_day=2, refuse=never) is not None
        clock.advance(60)

    missed = await store.claim_for_dialing(calls[2].id, calls_per_day=2, refuse=never)
    clock.advance(DAY_S - 120)
    dialed = await store.claim_for_dialing(calls[3].id, calls_per_day=2, refuse=never)

    assert missed is not None
    assert missed.status is CallStatus.MISSED
    assert missed.events[-1].detail == (
        "missed: the service's limit of 2 calls in 24 hours was reached (protection.max_calls_per_day)"
    )
    assert dialed is not None
    assert dialed.status is CallStatus.DIALING


async def test_claim_with_no_daily_cap_dials_every_call(store: CallStore) -> None:
    calls = [await book(store, to=f"+1202555014{n}") for n in range(3)]

    claimed = [await store.claim_for_dialing(call.id, calls_per_day=0, refuse=never) for call in calls]

    assert [call.status for call in claimed if call is not None] == [CallStatus.DIALING] * 3


async def test_claim_misses_a_call_its_refusal_gives_a_reason_for(store: CallStore) -> None:
    call = await book(store)
    asked: list[Call] = []

    def outside_hours(call: Call) -> str | None:
        asked.append(call)
        return "outside calling hours (09:00-20:00 in America/New_York)"

    missed = await store.claim_for_dialing(call.id, calls_per_day=10, refuse=outside_hours)

    assert asked == [call]
    assert missed is not None
    assert missed.status is CallStatus.MISSED
    assert missed.events[-1].detail == "missed: outside calling hours (09:00-20:00 in America/New_York)"


# Idempotency keys: a booking and its key are one write, so a retry finds the call its key booked


async def test_a_key_used_again_with_the_same_request_gives_its_call_as_it_is_now(
    store: CallStore, owners: list[int]
) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    first = await book(store, owner_id=owners[0], idempotency=key)
    await store.add_note(first.id, "noted")

    with pytest.raises(AlreadyBooked) as again:
        await book(store, owner_id=owners[0], idempotency=key)

    assert again.value.call == await store.get_call(first.id)
    assert await store.count_by_status() == {CallStatus.SCHEDULED: 1}


async def test_a_key_looked_up_gives_the_call_it_booked_as_it_is_now(store: CallStore, owners: list[int]) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    first = await book(store, owner_id=owners[0], idempotency=key)
    await store.add_note(first.id, "noted")

    assert await store.booked_with_key(owners[0], key) == await store.get_call(first.id)
    assert await store.booked_with_key(owners[1], key) is None
    assert await store.booked_with_key(owners[0], Idempotency("retry-2", "fingerprint-a")) is None


async def test_a_key_looked_up_with_another_request_is_reused(store: CallStore, owners: list[int]) -> None:
    await book(store, owner_id=owners[0], idempotency=Idempotency("retry-1", "fingerprint-a"))

    with pytest.raises(IdempotencyKeyReused):
        await store.booked_with_key(owners[0], Idempotency("retry-1", "fingerprint-b"))


async def test_a_key_past_its_day_is_not_found(store: CallStore, owners: list[int], clock: ManualClock) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    await book(store, owner_id=owners[0], idempotency=key)
    clock.advance(IDEMPOTENCY_KEYS_KEPT_S + 1)

    assert await store.booked_with_key(owners[0], key) is None


async def test_a_key_used_again_with_another_request_books_nothing(store: CallStore, owners: list[int]) -> None:
    await book(store, owner_id=owners[0], idempotency=Idempotency("retry-1", "fingerprint-a"))

    with pytest.raises(IdempotencyKeyReused):
        await book(store, to="+12025550143", owner_id=owners[0], idempotency=Idempotency("retry-1", "fingerprint-b"))

    assert await store.count_by_status() == {CallStatus.SCHEDULED: 1}


async def test_a_retry_is_answered_before_the_limits_its_own_booking_fills(store: CallStore, owners: list[int]) -> None:
    quota = BookingQuota(pending_per_number_per_owner=1)
    key = Idempotency("retry-1", "fingerprint-a")
    first = await book(store, owner_id=owners[0], quota=quota, idempotency=key)

    with pytest.raises(AlreadyBooked) as again:
        await book(store, owner_id=owners[0], quota=quota, idempotency=key)

    assert again.value.call.id == first.id


async def test_racing_retries_book_once(store: CallStore, owners: list[int]) -> None:
    key = Idempotency("retry-1", "fingerprint-a")

    outcomes = await asyncio.gather(
        *(book(store, owner_id=owners[0], idempotency=key) for _ in range(5)), return_exceptions=True
    )

    booked = [outcome for outcome in outcomes if isinstance(outcome, Call)]
    replayed = [outcome for outcome in outcomes if isinstance(outcome, AlreadyBooked)]
    assert len(booked) == 1
    assert [replay.call.id for replay in replayed] == [booked[0].id] * 4


async def test_each_owner_has_keys_of_their_own(store: CallStore, owners: list[int]) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    first = await book(store, owner_id=owners[0], idempotency=key)

    second = await book(store, owner_id=owners[1], idempotency=key)

    assert second.id != first.id


async def test_a_refused_booking_keeps_no_key(store: CallStore, owners: list[int]) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    await book(store, owner_id=owners[0])
    with pytest.raises(LimitReached):
        await book(store, owner_id=owners[0], quota=BookingQuota(pending_per_owner=1), idempotency=key)

    booked = await book(store, owner_id=owners[0], idempotency=key)

    assert booked.status is CallStatus.SCHEDULED


async def test_a_key_is_forgotten_after_its_day(store: CallStore, owners: list[int], clock: ManualClock) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    first = await book(store, owner_id=owners[0], idempotency=key)
    clock.advance(IDEMPOTENCY_KEYS_KEPT_S + 1)

    again = await book(store, owner_id=owners[0], idempotency=Idempotency("retry-1", "fingerprint-b"))

    assert again.id != first.id


async def test_a_key_outlives_a_restart(backend: Backend, clock: ManualClock) -> None:
    key = Idempotency("retry-1", "fingerprint-a")
    store = await backend.open(clock)
    try:
        owner = await store.add_user(name="a", password_hash=None, is_admin=False)
        first = await book(store, owner_id=owner.id, idempotency=key)
    finally:
        await store.close()

    reopened = await backend.open(clock)
    try:
        with pytest.raises(AlreadyBooked) as again:
            await book(reopened, owner_id=owner.id, idempotency=key)
    finally:
        await reopened.close()

    assert again.value.call.id == first.id
