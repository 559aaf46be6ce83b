"""Ids name calls and requests: they must never repeat, within a process or across restarts."""

import subprocess
import sys

from dialajoke.ids import unique_id


def test_ids_do_not_repeat_within_a_process() -> None:
    ids = [unique_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 32 and set(value) <= set("0123456789abcdef") for value in ids)


def test_a_restarted_process_makes_different_ids() -> None:
    script = "from dialajoke.ids import unique_id; print(unique_id())"
    first, second = (
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    )
    assert first != second
