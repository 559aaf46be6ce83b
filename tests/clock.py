"""A clock that only moves when a test moves it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ManualAlarm:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Epoch time that stands still until :meth:`advance`; alarms ring on the running loop."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._alarms: list[ManualAlarm] = []

    def time(self) -> float:
        return self._now

    def wake_at(self, when: float, callback: Callable[[], None]) -> ManualAlarm:
        alarm = ManualAlarm(when, callback)
        self._alarms.append(alarm)
        self._ring_due()
        return alarm

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._ring_due()

    @property
    def armed(self) -> int:
        """Alarms waiting to ring: an idle timer should have none."""
        self._alarms = [alarm for alarm in self._alarms if not alarm.cancelled]
        return len(self._alarms)

    def _ring_due(self) -> None:
        loop = asyncio.get_running_loop()
        due = [alarm for alarm in self._alarms if alarm.when <= self._now and not alarm.cancelled]
        self._alarms = [alarm for alarm in self._alarms if alarm not in due and not alarm.cancelled]
        for alarm in due:
            loop.call_soon(alarm.callback)
