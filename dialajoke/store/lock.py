"""One process per database: an exclusive lock on a file beside it, naming its holder.

Two services on one SQLite file would each dial the calls they found due, so a call
could ring twice. Until several instances can share the work, the store holds an
exclusive ``flock`` on ``<database>.lock`` while it is open. The kernel lets go of it
when its holder dies, ``kill -9`` included, so there is never a stale lock to clear by
hand. The holder writes its pid into the file, so a refused process can say who holds it.
The file is left in place on release: removing it would let a process that had just
opened the old file lock it while another locks a new one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

from .contract import CannotOpenDatabase


class DatabaseInUse(CannotOpenDatabase):
    """Another process has the database open."""

    def __init__(self, database: str | Path, holder: int | None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(f"database {database} is in use by {who} (another Dial-A-Joke); stop it or set database.path")
        self.database = str(database)
        self.holder = holder


class DatabaseLock:
    """Held from :meth:`acquire` to :meth:`release` (or to the death of the process)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, database: str | Path) -> DatabaseLock:
        """Lock ``<database>.lock`` at once or raise :class:`DatabaseInUse`; never waits."""
        # Beside the file itself, so a symlink to the database cannot get a lock of its own.
        path = Path(f"{Path(database).resolve()}.lock")
        # Never through a symlink, and only a plain file of our own: the lock file is written
        # to, and a link planted beside the database must not make us overwrite its target.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            _refuse_unless_own_plain_file(fd, path)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DatabaseInUse(database, holder) from None
        except BaseException:
            os.close(fd)
            raise
        _write_pid(fd)
        return cls(fd, path)

    def release(self) -> None:
        """Let go: closing the one descriptor that holds the lock drops it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _refuse_unless_own_plain_file(fd: int, path: Path) -> None:
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() or status.st_nlink != 1:
        raise OSError(errno.EPERM, f"{path} is not a plain file of this user's: remove it")


def _write_pid(fd: int) -> None:
    """Only for the message of a refused process: the lock holds even when this cannot be written."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _holder(fd: int) -> int | None:
    """The pid the holder wrote, or None when it has not written it yet (or could not)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
