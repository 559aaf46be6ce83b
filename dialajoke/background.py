"""Background tasks with an owner: kept, logged when they fail, and awaited on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

from . import logs

logger = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of tasks started on behalf of requests (e.g. processing a webhook event).

    A handler answers at once and leaves the work here; the set keeps a strong reference
    so the task is not garbage-collected mid-flight, and :meth:`close` lets shutdown wait
    for work already accepted instead of dropping it.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` on its own; it outlives the request that started it, so its lines carry no request id."""
        task = asyncio.create_task(coro, name=name, context=_outside_any_request())
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def wait(self) -> None:
        """Wait until no task is left, including tasks started while waiting."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, timeout_s: float) -> None:
        """Give running tasks ``timeout_s`` to finish, then cancel what is left."""
        if self._tasks and timeout_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wait(), timeout_s)
        leftover = list(self._tasks)
        if leftover:
            logger.warning("cancelling %d background tasks still running at shutdown", len(leftover))
            for task in leftover:
                task.cancel()
            await asyncio.gather(*leftover, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())


def _outside_any_request() -> contextvars.Context:
    """The current context (a call id, say) without the request id."""
    context = contextvars.copy_context()
    context.run(logs.request_id.set, None)
    return context
