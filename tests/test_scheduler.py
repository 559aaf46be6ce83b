"""UnifiedTimedQueue: due-time order, cancelling, moving, failing handlers, idling and closing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from dialajoke.scheduler import UnifiedTimedQueue

from .clock import ManualClock
from .service import START
from .waiting import let_loop_run, wait_until


class Recorder:
    """A handler that notes each item it gets and says when it has seen ``expect`` of them."""

    def __init__(self, expect: int = 1) -> None:
        self.items: list[str] = []
        self.expect = expect
        self._enough = asyncio.Event()

    async def __call__(self, item: str) -> None:
        self.items.append(item)
        if len(self.items) >= self.expect:
            self._enough.set()

    async def wait(self) -> list[str]:
        await asyncio.wait_for(self._enough.wait(), 2)
        return self.items


async def until(condition: Callable[[], bool], what: str) -> None:
    await wait_until(condition, 2, what)


async def test_items_are_handed_over_in_due_time_order_whatever_the_put_order(clock: ManualClock) -> None:
    recorder = Recorder(expect=3)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("third", START + 30)
        queue.put("first", START + 10)
        queue.put("second", START + 20)
        clock.advance(30)
        assert await recorder.wait() == ["first", "second", "third"]


async def test_items_due_at_the_same_time_are_handed_over_in_item_order(clock: ManualClock) -> None:
    recorder = Recorder(expect=3)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("zulu", START + 10)
        queue.put("alpha", START + 10)
        queue.put("mike", START + 10)
        clock.advance(10)
        assert await recorder.wait() == ["alpha", "mike", "zulu"]


async def test_each_item_waits_for_its_own_time(clock: ManualClock) -> None:
    recorder = Recorder(expect=2)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("early", START + 10)
        queue.put("late", START + 20)

        clock.advance(9)
        await let_loop_run()
        assert recorder.items == []

        clock.advance(1)
        await until(lambda: recorder.items == ["early"], "the early item")
        await let_loop_run()
        assert recorder.items == ["early"]

        clock.advance(10)
        assert await recorder.wait() == ["early", "late"]


async def test_items_already_due_fire_without_the_clock_moving(clock: ManualClock) -> None:
    recorder = Recorder(expect=2)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("overdue", START - 5)
        queue.put("due-now", START)
        assert await recorder.wait() == ["overdue", "due-now"]
    assert clock.time() == START


async def test_cancel_says_whether_the_item_was_pending(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("kept", START + 10)
        queue.put("dropped", START + 10)

        assert queue.cancel("dropped") is True
        assert queue.cancel("dropped") is False
        assert queue.cancel("never-put") is False

        clock.advance(10)
        assert await recorder.wait() == ["kept"]
        assert queue.cancel("kept") is False


async def test_a_cancelled_item_never_fires(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("cancelled", START + 10)
        queue.put("witness", START + 20)
        await let_loop_run()
        queue.cancel("cancelled")

        clock.advance(20)
        await recorder.wait()
        await let_loop_run()
        assert recorder.items == ["witness"]


async def test_len_and_in_count_only_pending_items(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        assert len(queue) == 0
        queue.put("a", START + 10)
        queue.put("b", START + 20)
        queue.put("a", START + 15)
        assert len(queue) == 2
        assert "a" in queue

        queue.cancel("b")
        assert len(queue) == 1
        assert "b" not in queue

        clock.advance(15)
        await recorder.wait()
        assert len(queue) == 0
        assert "a" not in queue


async def test_putting_an_item_again_moves_it_later(clock: ManualClock) -> None:
    recorder = Recorder(expect=2)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("moved", START + 10)
        queue.put("fixed", START + 20)
        queue.put("moved", START + 30)

        clock.advance(20)
        await until(lambda: recorder.items == ["fixed"], "the item that stayed put")
        await let_loop_run()
        assert recorder.items == ["fixed"]

        clock.advance(10)
        assert await recorder.wait() == ["fixed", "moved"]


async def test_putting_an_item_again_moves_it_earlier_and_it_fires_once(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("moved", START + 100)
        await let_loop_run()
        queue.put("moved", START + 5)

        clock.advance(5)
        assert await recorder.wait() == ["moved"]

        clock.advance(100)
        await let_loop_run()
        assert recorder.items == ["moved"]


async def test_an_earlier_item_put_while_sleeping_on_a_later_one_fires_first(clock: ManualClock) -> None:
    recorder = Recorder(expect=2)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("late", START + 100)
        await until(lambda: clock.armed == 1, "the queue to arm an alarm")

        queue.put("early", START + 10)
        clock.advance(10)
        await until(lambda: recorder.items == ["early"], "the earlier item")

        clock.advance(90)
        assert await recorder.wait() == ["early", "late"]


async def test_a_failing_handler_is_logged_and_the_queue_goes_on(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []
    later = asyncio.Event()

    async def handler(item: str) -> None:
        if item == "bad":
            raise RuntimeError("the joke fell flat")
        handled.append(item)
        if item == "after":
            later.set()

    caplog.set_level(logging.ERROR, logger="dialajoke.scheduler")
    async with UnifiedTimedQueue(handler, clock=clock) as queue:
        queue.put("bad", START + 10)
        queue.put("same-time", START + 10)
        queue.put("after", START + 20)
        clock.advance(20)
        await asyncio.wait_for(later.wait(), 2)

        queue.put("put-after-the-failure", START + 30)
        clock.advance(10)
        await until(lambda: "put-after-the-failure" in handled, "the item put after the failure")

    assert handled == ["same-time", "after", "put-after-the-failure"]
    [record] = [r for r in caplog.records if r.name == "dialajoke.scheduler"]
    assert record.levelno == logging.ERROR
    assert "'bad'" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_an_idle_queue_arms_no_alarm(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        await let_loop_run()
        assert clock.armed == 0

        queue.put("pending", START + 60)
        await until(lambda: clock.armed == 1, "the queue to arm an alarm")


async def test_no_alarm_stays_armed_once_everything_has_fired(clock: ManualClock) -> None:
    recorder = Recorder(expect=2)
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("later", START + 60)
        await until(lambda: clock.armed == 1, "the queue to arm an alarm")

        queue.put("now", START)
        await until(lambda: recorder.items == ["now"], "the item already due")
        await until(lambda: clock.armed == 1, "the queue to arm an alarm for the later item")

        queue.put("later", START)
        assert await recorder.wait() == ["now", "later"]
        await let_loop_run()
        assert len(queue) == 0
        assert clock.armed == 0


async def test_close_waits_for_a_handler_still_running(clock: ManualClock) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def handler(item: str) -> None:
        started.set()
        await release.wait()
        finished.append(item)

    queue = UnifiedTimedQueue(handler, clock=clock)
    await queue.__aenter__()
    queue.put("slow", START)
    await asyncio.wait_for(started.wait(), 2)

    closing = asyncio.create_task(queue.close())
    await let_loop_run()
    assert not closing.done()

    release.set()
    await asyncio.wait_for(closing, 2)
    assert finished == ["slow"]


async def test_leaving_async_with_waits_for_a_handler_still_running(clock: ManualClock) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def handler(item: str) -> None:
        started.set()
        await release.wait()
        finished.append(item)

    async def use_queue() -> None:
        async with UnifiedTimedQueue(handler, clock=clock) as queue:
            queue.put("slow", START)
            await started.wait()

    user = asyncio.create_task(use_queue())
    await asyncio.wait_for(started.wait(), 2)
    await let_loop_run()
    assert not user.done()

    release.set()
    await asyncio.wait_for(user, 2)
    assert finished == ["slow"]


async def test_items_still_pending_at_close_never_fire(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("pending", START + 10)
        await until(lambda: clock.armed == 1, "the queue to arm an alarm")

    clock.advance(10)
    await let_loop_run()
    assert recorder.items == []
    assert clock.armed == 0


async def test_with_the_system_clock_an_item_fires_no_earlier_than_its_due_time() -> None:
    fired_at: list[float] = []
    fired = asyncio.Event()

    async def handler(item: str) -> None:
        fired_at.append(time.time())
        fired.set()

    async with UnifiedTimedQueue(handler) as queue:
        due = time.time() + 0.05
        queue.put("soon", due)
        await asyncio.wait_for(fired.wait(), 2)

    [when] = fired_at
    assert due <= when < due + 1


async def test_cancelling_the_last_pending_item_disarms_the_alarm(clock: ManualClock) -> None:
    recorder = Recorder()
    async with UnifiedTimedQueue(recorder, clock=clock) as queue:
        queue.put("only", START + 60)
        await until(lambda: clock.armed == 1, "the queue to arm an alarm")

        assert queue.cancel("only")
        await until(lambda: clock.armed == 0, "the queue to disarm its alarm")


async def test_a_plain_handler_gets_a_burst_in_order_without_a_task_each(clock: ManualClock) -> None:
    handled: list[int] = []
    tasks_before = len(asyncio.all_tasks())
    tasks_seen: list[int] = []

    def handler(item: int) -> None:
        handled.append(item)
        tasks_seen.append(len(asyncio.all_tasks()))

    async with UnifiedTimedQueue(handler, clock=clock) as queue:
        for item in reversed(range(1000)):
            queue.put(item, START + 10)
        clock.advance(10)
        await until(lambda: len(handled) == 1000, "all 1000 items")

    assert handled == list(range(1000))
    assert max(tasks_seen) == tasks_before + 1  # only the timer task itself


async def test_a_plain_handler_that_raises_is_logged_and_the_queue_goes_on(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    def handler(item: str) -> None:
        if item == "bad":
            raise RuntimeError("the joke fell flat")
        handled.append(item)

    caplog.set_level(logging.ERROR, logger="dialajoke.scheduler")
    async with UnifiedTimedQueue(handler, clock=clock) as queue:
        queue.put("bad", START + 10)
        queue.put("same-time", START + 10)
        clock.advance(10)
        await until(lambda: handled == ["same-time"], "the item due beside the bad one")

    [record] = [r for r in caplog.records if r.name == "dialajoke.scheduler"]
    assert "'bad'" in record.getMessage()
    assert record.exc_info is not None
