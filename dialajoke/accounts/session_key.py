"""The key of the sign-in cookies: from the settings, or generated once and kept beside the database.

Whoever has this key can forge a sign-in as anyone, so the generated file is readable
by its owner alone (0600, in a 0700 folder when it makes the folder), and a file that
others could read, or that is not a plain file of this user's, is refused rather than used.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

from ..config import Config, ConfigError

FILE_NAME = "session.key"
KEY_BYTES = 32
_URL_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=?")
"""32 bytes in url-safe base64, as Fernet.generate_key() writes them (the last character carries 4 bits)."""


def session_key(config: Config) -> bytes:
    """The 32-byte key: ``http.session_secret`` when set, else the ``session.key`` file in ``config.data_dir``.

    :raises ConfigError: saying what to change, for a malformed secret or an unsafe file.
    """
    secret = config.http.session_secret.get_secret_value()
    if secret:
        key = _decode(secret)
        if key is None:
            raise ConfigError(
                "http.session_secret must be 32 bytes as url-safe base64 (make one with: python -c"
                ' "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"),'
                f" or be left empty to keep a generated one in {FILE_NAME} beside the database"
            )
        return key
    return _key_file(config.data_dir / FILE_NAME)


def _decode(text: str) -> bytes | None:
    if not _URL_SAFE_KEY.fullmatch(text.strip()):
        return None
    return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))


def _key_file(path: Path) -> bytes:
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            return _read(path)
        except FileNotFoundError:
            _create(path)
        return _read(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot keep the sign-in key in {path}: {exc.strerror}: set database.path") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot use {path} ({exc.strerror}): it must be a plain file of this user's, readable by its owner alone;"
            " remove it to have a new one made"
        ) from None


def _read(path: Path) -> bytes:
    """The key in ``path``; never through a symlink, and never from a file anyone else could read or have planted."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        _refuse_unless_private(path, os.fstat(fd))
        text = os.read(fd, 4096)
    finally:
        os.close(fd)
    key = _decode(text.decode("ascii", errors="replace"))
    if key is None:
        raise ConfigError(f"{path} holds no key: remove it to have a new one made (everyone then signs in again)")
    return key


def _refuse_unless_private(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
        raise ConfigError(f"{path} is not a plain file of this user's: remove it to have a new one made")
    if status.st_mode & 0o077:
        raise ConfigError(f"{path} may be read by other users: chmod 600 {path} (or remove it to have a new one made)")


def _create(path: Path) -> None:
    """Write the new key whole under a temporary name, then link it in: a second process sees all of it or none."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{FILE_NAME}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(Fernet.generate_key() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
