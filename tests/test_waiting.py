"""wait_until: returns once the condition holds, and gives up loudly, saying what it waited for."""

from __future__ import annotations

import asyncio

import pytest

from .waiting import wait_until


async def test_returns_as_soon_as_the_condition_holds() -> None:
    ready = asyncio.Event()
    asyncio.get_running_loop().call_soon(ready.set)

    await wait_until(ready.is_set, 5, "the event")


async def test_takes_a_coroutine_function_as_the_condition() -> None:
    looks = 0

    async def third_look() -> bool:
        nonlocal looks
        looks += 1
        return looks == 3

    await wait_until(third_look, 5, "the third look")


async def test_gives_up_naming_what_it_waited_for_and_how_things_stood() -> None:
    with pytest.raises(AssertionError, match=r"gave up after 0\.05 s waiting for the moon \(still new\)"):
        await wait_until(lambda: False, 0.05, lambda: "the moon (still new)")
