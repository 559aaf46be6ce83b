#!/usr/bin/env python3
"""Four "heavy" tasks of 7, 2, 3 and 1 seconds finish together in about 7 seconds.

Run it and watch the timings::

    python3 setup/asyncio_example.py               # about 14 s: gather, then TaskGroup
    python3 setup/asyncio_example.py --sequential  # also awaits them one by one: 13 s more
    python3 setup/asyncio_example.py --scale 0.1   # ten times faster, same lesson

What it shows, in three steps:

1. Calling a coroutine function (``async def``) runs none of its body: it returns a
   *coroutine object*, a paused computation that runs only when awaited, or wrapped in
   a task.
2. ``asyncio.gather`` runs the four tasks concurrently: while one waits, the event loop
   runs the others, so all four are done when the longest (7 s) is, not after the sum
   (13 s). They finish in the order of their lengths, not the order they started.
3. ``asyncio.TaskGroup`` (Python 3.11) does the same with structure: the ``async with``
   block ends when every task in it has finished, and if one fails the others are
   cancelled instead of being left running in the background.

The "heavy" work is ``asyncio.sleep``, standing in for waiting on the network or a disk,
which is what asyncio is good at and what Dial-A-Joke does all day (Telnyx requests,
webhooks, SQLite). Work that keeps the CPU busy would not overlap this way: it holds
the one thread the event loop runs on, and belongs in ``asyncio.to_thread`` or a
process pool. ``--scale`` multiplies every duration, so the test can run the whole
lesson in a fraction of a second.

Only the standard library is used: this runs with any Python 3.11 or newer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

HEAVY_TASKS = (("A", 7.0), ("B", 2.0), ("C", 3.0), ("D", 1.0))
"""(name, seconds) of the four tasks, started in this order."""


class Stopwatch:
    """Seconds since a start, so every line of output shares one time axis."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


async def heavy_task(name: str, seconds: float, clock: Stopwatch) -> str:
    """Wait ``seconds`` as if for a slow server; while it waits, the event loop runs other tasks."""
    print(f"  [{clock.elapsed():6.3f} s] {name} started ({seconds:g} s of waiting)")
    await asyncio.sleep(seconds)
    print(f"  [{clock.elapsed():6.3f} s] {name} finished")
    return name


def show_coroutine_object(scale: float) -> None:
    """Step 1: a call without await builds a coroutine object and runs nothing."""
    print("1. A coroutine function called without await")
    name, seconds = HEAVY_TASKS[0]
    coroutine = heavy_task(name, seconds * scale, Stopwatch())
    print(f"   heavy_task({name!r}, ...) returned {coroutine!r}, a {type(coroutine).__name__} object")
    print("   Its body has not run: no 'started' line was printed, and no time passed.")
    print("   Only `await`, asyncio.run() or a task runs it. Left alone, Python would warn")
    print("   'coroutine ... was never awaited' when it is garbage collected; close() discards it.")
    coroutine.close()


async def with_gather(scale: float) -> float:
    """Step 2: gather wraps each coroutine in a task, runs them together and waits for all of them."""
    clock = Stopwatch()
    finished = await asyncio.gather(*(heavy_task(name, seconds * scale, clock) for name, seconds in HEAVY_TASKS))
    print(f"  gather returned their results in the order they were passed in: {finished}")
    return clock.elapsed()


async def with_task_group(scale: float) -> float:
    """Step 3: a TaskGroup waits for every task created in it before its block ends."""
    clock = Stopwatch()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(heavy_task(name, seconds * scale, clock)) for name, seconds in HEAVY_TASKS]
    print(f"  every task is done when the block ends: {[task.result() for task in tasks]}")
    return clock.elapsed()


async def one_after_another(scale: float) -> float:
    """For contrast: awaiting each coroutine in turn leaves the loop nothing else to run while it waits."""
    clock = Stopwatch()
    for name, seconds in HEAVY_TASKS:
        await heavy_task(name, seconds * scale, clock)
    return clock.elapsed()


def summary(how: str, elapsed: float, scale: float) -> str:
    """One line to compare the total with the longest task and with the sum of all four."""
    longest = max(seconds for _, seconds in HEAVY_TASKS) * scale
    total = sum(seconds for _, seconds in HEAVY_TASKS) * scale
    return (
        f"  {how}: all {len(HEAVY_TASKS)} finished in {elapsed:.3f} s (longest task {longest:.3f} s, sum {total:.3f} s)"
    )


async def lesson(scale: float, sequential: bool) -> None:
    *first, last = (f"{seconds:g}" for _, seconds in HEAVY_TASKS)
    lengths = f"{', '.join(first)} and {last}"
    print(f"2. asyncio.gather: four heavy tasks of {lengths} s (x {scale:g}) at once")
    print(summary("gather", await with_gather(scale), scale))
    print("3. asyncio.TaskGroup (Python 3.11): the same four, structured")
    print(summary("TaskGroup", await with_task_group(scale), scale))
    if sequential:
        print("4. For contrast, awaited one after another")
        print(summary("one after another", await one_after_another(scale), scale))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="asyncio_example.py",
        description="Four tasks of 7, 2, 3 and 1 s finish together in about 7 s: coroutines, gather and TaskGroup.",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every duration by this (default 1: real seconds; 0.01 runs in a fraction of a second)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="also await the four one after another, to see the sum (13 s at scale 1)",
    )
    args = parser.parse_args(argv)
    if args.scale < 0:
        parser.error("--scale must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    show_coroutine_object(args.scale)
    asyncio.run(lesson(args.scale, args.sequential))
    return 0


if __name__ == "__main__":
    sys.exit(main())
