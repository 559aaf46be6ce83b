"""Work left to run after a request has been answered."""

from __future__ import annotations

import logging

import pytest

from dialajoke import logs
from dialajoke.background import BackgroundTasks


async def test_a_task_started_by_a_request_logs_without_its_request_id_but_keeps_its_call() -> None:
    tasks = BackgroundTasks()
    lines: list[logging.LogRecord] = []

    async def later() -> None:
        record = logging.LogRecord("dialajoke", logging.INFO, __file__, 1, "dialing, long after the answer", (), None)
        assert logs.AddContext().filter(record)
        lines.append(record)

    token = logs.request_id.set("req-1")
    try:
        with logs.about_call(7):
            tasks.spawn(later(), name="dial call 7")
    finally:
        logs.request_id.reset(token)
    await tasks.wait()

    [record] = lines
    assert (record.__dict__["request_id"], record.__dict__["call_id"]) == (None, 7)
    assert logs.request_id.get() is None


async def test_a_failed_task_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()

    async def fails() -> None:
        raise RuntimeError("lost")

    tasks.spawn(fails(), name="doomed")
    await tasks.wait()

    assert any("background task doomed failed" in record.getMessage() for record in caplog.records)
