"""RetryPolicy: one policy, many runs, each with its own attempts, delays and deadline."""

from __future__ import annotations

import asyncio

import pytest
from tenacity import RetryCallState, retry_if_exception_type

from dialajoke.retries import RetryPolicy

from .clock import ManualClock
from .sleeps import RecordedSleep


class Flaky:
    """Fails ``failures`` times, then answers ``"done"``; counts its calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        if self.calls <= self.failures:
            raise ConnectionError(f"failure {self.calls}")
        return "done"


async def run(policy: RetryPolicy, operation: Flaky) -> str:
    result: str = await policy.retrying(retry_if_exception_type(ConnectionError))(operation)
    return result


async def test_one_policy_serves_runs_at_once_each_with_its_own_attempts(clock: ManualClock) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=RecordedSleep(clock), now=clock.time)
    recovers, gives_up = Flaky(failures=2), Flaky(failures=5)

    results = await asyncio.gather(run(policy, recovers), run(policy, gives_up), return_exceptions=True)

    assert results[0] == "done"
    assert isinstance(results[1], ConnectionError)
    assert str(results[1]) == "failure 3"
    assert (recovers.calls, gives_up.calls) == (3, 3)


async def test_delays_double_up_to_the_cap_each_shortened_by_at_most_the_jitter(clock: ManualClock) -> None:
    naps = RecordedSleep(clock)
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=4.0, jitter=0.5, sleep=naps, now=clock.time)

    with pytest.raises(ConnectionError):
        await run(policy, Flaky(failures=10))

    for delay, backoff in zip(naps.delays, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert 0.5 * backoff <= delay <= backoff


async def test_no_try_begins_after_the_time_allowed(clock: ManualClock) -> None:
    naps = RecordedSleep(clock)
    policy = RetryPolicy(
        max_attempts=100, base_delay_s=4.0, max_delay_s=4.0, jitter=0.0, max_elapsed_s=10.0, sleep=naps, now=clock.time
    )
    operation = Flaky(failures=100)

    with pytest.raises(ConnectionError):
        await run(policy, operation)

    assert naps.delays == [4.0, 4.0]
    assert operation.calls == 3


async def test_an_error_not_retried_is_raised_at_once(clock: ManualClock) -> None:
    naps = RecordedSleep(clock)

    async def broken() -> str:
        raise ValueError("not a passing fault")

    with pytest.raises(ValueError, match="not a passing fault"):
        await RetryPolicy(sleep=naps, now=clock.time).retrying(retry_if_exception_type(ConnectionError))(broken)

    assert naps.delays == []


async def test_a_run_that_gives_up_ends_as_its_callback_says_with_the_wait_it_would_have_had(
    clock: ManualClock,
) -> None:
    naps = RecordedSleep(clock)
    policy = RetryPolicy(max_attempts=2, base_delay_s=3.0, max_delay_s=3.0, jitter=0.0, sleep=naps, now=clock.time)
    seen: list[tuple[int, float]] = []

    def give_up(retry_state: RetryCallState) -> str:
        seen.append((retry_state.attempt_number, retry_state.upcoming_sleep))
        return "gave up"

    retrying = policy.retrying(retry_if_exception_type(ConnectionError), retry_error_callback=give_up)
    result: str = await retrying(Flaky(failures=5))

    assert result == "gave up"
    assert seen == [(2, 3.0)]
    assert naps.delays == [3.0]
