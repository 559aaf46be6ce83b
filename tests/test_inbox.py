"""WebhookInbox: acknowledged events are processed, bounded in memory, and never silently lost."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path

import pytest

from dialajoke.calls.inbox import WebhookInbox
from dialajoke.retries import RetryPolicy
from dialajoke.store import SqliteCallStore, StorageUnavailable
from dialajoke.telnyx.events import TelnyxEvent, parse_event

from .clock import ManualClock
from .sleeps import RecordedSleep
from .waiting import let_loop_run, wait_until
from .webhooks import envelope

WAIT_S = 5.0
"""How long a test waits for something that must happen before it fails."""

STORAGE_RETRY_S = 7.0
"""How long an inbox under test waits before trying again a store that could not be written."""


@pytest.fixture
async def store(database: Path, clock: ManualClock) -> AsyncIterator[SqliteCallStore]:
    store = await SqliteCallStore.open(database, clock)
    yield store
    await store.close()


def event(number: int) -> tuple[TelnyxEvent, bytes]:
    body = json.dumps(envelope("call.hangup", event_id=f"evt-{number}", call_control_id=f"v3:{number}")).encode()
    return parse_event(body), body


@pytest.fixture
def naps(clock: ManualClock) -> RecordedSleep:
    return RecordedSleep(clock)


class Processor:
    def __init__(self, failures: int = 0) -> None:
        self.seen: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        """Set once an event has reached the processor (it may still wait at the gate)."""
        self.failures = failures

    async def __call__(self, event: TelnyxEvent) -> None:
        self.started.set()
        await self.gate.wait()
        self.seen.append(event.id)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")


async def test_a_slow_consumer_never_slows_acceptance_nor_holds_everything_in_memory(
    store: SqliteCallStore, clock: ManualClock
) -> None:
    processor = Processor()
    processor.gate.clear()
    inbox = WebhookInbox(store, processor, clock, workers=1, queue_size=4)
    await inbox.start()

    accepted = [await inbox.accept(*event(n)) for n in range(20)]
    held_while_busy = inbox.pending
    processor.gate.set()
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)

    assert accepted == [True] * 20
    assert held_while_busy <= 4 + 1  # the queue, and the one event the worker is on
    assert sorted(processor.seen) == sorted(f"evt-{n}" for n in range(20))
    assert len(processor.seen) == 20
    assert await store.unprocessed_events(limit=100) == []


async def test_a_repeated_event_is_refused_even_after_a_restart(store: SqliteCallStore, clock: ManualClock) -> None:
    first = WebhookInbox(store, Processor(), clock)
    await first.start()
    assert await first.accept(*event(1)) is True
    await first.close(1)

    second = WebhookInbox(store, Processor(), clock)
    await second.start()

    assert await second.accept(*event(1)) is False
    await second.close(1)


async def test_events_left_at_a_stop_are_processed_at_the_next_start(
    store: SqliteCallStore, clock: ManualClock
) -> None:
    stuck = Processor()
    stuck.gate.clear()
    first = WebhookInbox(store, stuck, clock, workers=1)
    await first.start()
    for n in range(3):
        await first.accept(*event(n))
    await first.close(grace_s=0.01)
    assert stuck.seen == []

    processor = Processor()
    second = WebhookInbox(store, processor, clock)
    await second.start()
    await asyncio.wait_for(second.drain(), WAIT_S)
    await second.close(1)

    assert sorted(processor.seen) == ["evt-0", "evt-1", "evt-2"]


async def test_a_failure_is_retried_after_a_doubling_delay(
    store: SqliteCallStore, clock: ManualClock, naps: RecordedSleep
) -> None:
    processor = Processor(failures=2)
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.5, sleep=naps, now=clock.time)
    inbox = WebhookInbox(store, processor, clock, retry=retry)
    await inbox.start()

    await inbox.accept(*event(1))
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)

    assert processor.seen == ["evt-1"] * 3
    assert await store.unprocessed_events(limit=10) == []
    first, second = naps.delays
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0


async def test_an_event_that_keeps_failing_is_logged_with_its_call_and_set_aside(
    store: SqliteCallStore, clock: ManualClock, naps: RecordedSleep, caplog: pytest.LogCaptureFixture
) -> None:
    processor = Processor(failures=99)
    retry = RetryPolicy(max_attempts=2, sleep=naps, now=clock.time)
    inbox = WebhookInbox(store, processor, clock, retry=retry)
    await inbox.start()

    with caplog.at_level(logging.WARNING, logger="dialajoke.calls.inbox"):
        await inbox.accept(*event(7))
        await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)

    assert processor.seen == ["evt-7", "evt-7"]
    [retrying, gave_up] = [record for record in caplog.records if record.name == "dialajoke.calls.inbox"]
    assert retrying.levelno == logging.WARNING
    assert "processing call.hangup evt-7 failed (attempt 1): RuntimeError: database is locked" in retrying.message
    assert gave_up.levelno == logging.ERROR
    assert "gave up on call.hangup evt-7 (call_control_id v3:7" in gave_up.message
    assert "after 2 attempts: RuntimeError: database is locked" in gave_up.message
    assert len(naps.delays) == 1
    assert await store.unprocessed_events(limit=10) == []


async def test_a_queue_of_two_still_pages_every_spilled_event_in(store: SqliteCallStore, clock: ManualClock) -> None:
    processor = Processor()
    processor.gate.clear()
    inbox = WebhookInbox(store, processor, clock, workers=1, queue_size=2)
    await inbox.start()
    for n in range(7):
        await inbox.accept(*event(n))

    processor.gate.set()
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)

    assert sorted(processor.seen) == [f"evt-{n}" for n in range(7)]


async def test_events_processed_a_week_ago_are_forgotten_at_start(store: SqliteCallStore, clock: ManualClock) -> None:
    first = WebhookInbox(store, Processor(), clock)
    await first.start()
    await first.accept(*event(1))
    await asyncio.wait_for(first.drain(), WAIT_S)
    await first.close(1)
    clock.advance(8 * 24 * 3600)

    second = WebhookInbox(store, Processor(), clock)
    await second.start()
    await second.close(1)

    assert await store.record_event("evt-1", "call.hangup", b"{}") is True


class SlowToAnswer(SqliteCallStore):
    """A store whose list of unprocessed events comes back only when the test says so."""

    answer: asyncio.Event | None = None
    reading: asyncio.Event | None = None
    """Set when a read is waiting for the test's say-so."""

    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        rows = await super().unprocessed_events(limit=limit, exclude=exclude)
        if self.answer is not None:
            assert self.reading is not None
            self.reading.set()
            await self.answer.wait()
        return rows


async def test_an_event_spilled_while_the_store_is_read_is_still_processed(database: Path, clock: ManualClock) -> None:
    store = await SlowToAnswer.open(database, clock)
    processor = Processor()
    processor.gate.clear()
    inbox = WebhookInbox(store, processor, clock, workers=1, queue_size=2)
    store.answer, store.reading = asyncio.Event(), asyncio.Event()
    starting = asyncio.create_task(inbox.start())
    await asyncio.wait_for(store.reading.wait(), WAIT_S)
    # One for the worker, two queued, one spilled while start() reads the store.
    await inbox.accept(*event(0))
    await asyncio.wait_for(processor.started.wait(), WAIT_S)
    for n in range(1, 4):
        await inbox.accept(*event(n))

    store.answer.set()
    await asyncio.wait_for(starting, WAIT_S)
    store.answer = None
    processor.gate.set()
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)
    await store.close()

    assert sorted(processor.seen) == [f"evt-{n}" for n in range(4)]


class LateAnswers(SqliteCallStore):
    """A store whose list of unprocessed events is read at once but answered a moment later.

    Marks written in that moment are not in the answer's snapshot: the event they mark
    still looks unprocessed, as it can when the reader's snapshot predates the writer's commit.
    """

    async def unprocessed_events(self, *, limit: int, exclude: Collection[str] = ()) -> list[tuple[str, bytes]]:
        rows = await super().unprocessed_events(limit=limit + len(exclude))
        await asyncio.sleep(0.005)
        return [(event_id, body) for event_id, body in rows if event_id not in exclude][:limit]


@pytest.mark.parametrize(("events", "workers", "queue_size"), [(20, 2, 2), (5, 1, 1), (30, 4, 3)])
async def test_events_marked_while_the_store_is_read_are_not_processed_again(
    database: Path, clock: ManualClock, events: int, workers: int, queue_size: int
) -> None:
    store = await LateAnswers.open(database, clock)
    processor = Processor()
    processor.gate.clear()
    inbox = WebhookInbox(store, processor, clock, workers=workers, queue_size=queue_size)
    await inbox.start()
    for n in range(events):
        await inbox.accept(*event(n))

    processor.gate.set()
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)
    await store.close()

    assert sorted(processor.seen) == sorted(f"evt-{n}" for n in range(events))


DISK_FULL = "the database cannot be written: database or disk is full"


class StoreDown(Processor):
    """Processing that meets a store refusing writes the first ``outage`` times."""

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage

    async def __call__(self, event: TelnyxEvent) -> None:
        await super().__call__(event)
        if self.outage:
            self.outage -= 1
            raise StorageUnavailable(DISK_FULL)


class MarksRefused(SqliteCallStore):
    """A store whose disk is full for marks while ``refusing`` is set."""

    refusing = True

    async def mark_events_processed(self, outcomes: Mapping[str, str | None]) -> None:
        if self.refusing:
            raise StorageUnavailable(DISK_FULL)
        await super().mark_events_processed(outcomes)


async def test_an_event_that_meets_an_unwritable_store_waits_and_is_processed_again(
    store: SqliteCallStore, clock: ManualClock, naps: RecordedSleep, caplog: pytest.LogCaptureFixture
) -> None:
    processor = StoreDown(outage=2)
    inbox = WebhookInbox(
        store,
        processor,
        clock,
        retry=RetryPolicy(max_attempts=2, sleep=naps, now=clock.time),
        storage_retry_s=STORAGE_RETRY_S,
    )
    await inbox.start()
    tries_at_each_moment: list[int] = []

    await inbox.accept(*event(3))
    for _ in range(3):
        await wait_until(lambda: len(processor.seen) > len(tries_at_each_moment), WAIT_S, "a try at the event")
        await let_loop_run()
        tries_at_each_moment.append(len(processor.seen))
        clock.advance(STORAGE_RETRY_S)
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)

    assert tries_at_each_moment == [1, 2, 3]
    assert naps.delays == []
    assert await store.unprocessed_events(limit=10) == []
    assert [record.message for record in caplog.records if record.levelno >= logging.WARNING] == []


async def test_marks_the_store_refuses_are_kept_and_written_once_it_can(
    database: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = await MarksRefused.open(database, clock)
    processor = Processor()
    inbox = WebhookInbox(store, processor, clock, storage_retry_s=STORAGE_RETRY_S)
    await inbox.start()

    await inbox.accept(*event(4))
    await wait_until(lambda: processor.seen == ["evt-4"], WAIT_S, "the event to be processed")
    await let_loop_run()
    unmarked = await store.unprocessed_events(limit=10)
    held = inbox.pending
    store.refusing = False
    clock.advance(STORAGE_RETRY_S)
    await asyncio.wait_for(inbox.drain(), WAIT_S)
    await inbox.close(1)
    left = await store.unprocessed_events(limit=10)
    await store.close()

    assert [event_id for event_id, _ in unmarked] == ["evt-4"]
    assert held == 1
    assert (processor.seen, left) == (["evt-4"], [])
    assert [record.message for record in caplog.records if record.levelno >= logging.WARNING] == []
