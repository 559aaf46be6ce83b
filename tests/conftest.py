from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from dialajoke.accounts import passwords
from dialajoke.config import Config

from .browser import browser, chromium, open_page  # noqa: F401  (the browser tests' fixtures)
from .clock import ManualClock
from .service import START, Service, service_config


@pytest.fixture(autouse=True)
def no_password_threads_left() -> Iterator[None]:
    """Whatever checked passwords in a test stopped its threads (closed its accounts) by the end of it."""
    yield
    left = [thread.name for thread in threading.enumerate() if thread.name.startswith("argon2")]
    assert not left, f"threads that check passwords are still running after the test: {left}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "calls.sqlite3"


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id at its lowest costs: whole-service tests make and sign in users by the dozen, and what
the real costs buy is tested in test_passwords.py."""


@pytest.fixture
async def start_service(
    database: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Start the service (several times, e.g. to restart it on the same database)."""
    monkeypatch.setattr(passwords, "_HASHER", CHEAP_HASHER)
    running: list[Service] = []

    async def start(config: Config | None = None, **changes: Any) -> Service:
        service = await Service(config or service_config(database, **changes), clock).start()
        running.append(service)
        return service

    yield start
    for service in running:
        await service.stop()


@pytest.fixture
async def service(start_service: Callable[..., Awaitable[Service]]) -> Service:
    return await start_service()
