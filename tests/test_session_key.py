"""The sign-in cookies' key: from http.session_secret, or a session.key file only its owner may read."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from dialajoke.accounts.session_key import session_key
from dialajoke.config import Config, ConfigError, DatabaseConfig, HttpConfig


def config_in(folder: Path, secret: str = "") -> Config:
    return Config(
        database=DatabaseConfig(path=str(folder / "dialajoke.sqlite3")),
        http=HttpConfig(session_secret=SecretStr(secret)),
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_key_is_made_once_and_kept_0600_in_a_0700_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    config = config_in(folder)

    key = session_key(config)

    assert len(key) == 32
    assert mode_of(folder / "session.key") == 0o600
    assert mode_of(folder) == 0o700
    assert session_key(config) == key
    assert session_key(config_in(tmp_path / "elsewhere")) != key


def test_the_file_holds_a_fernet_key_for_the_same_bytes(tmp_path: Path) -> None:
    key = session_key(config_in(tmp_path))

    assert base64.urlsafe_b64decode((tmp_path / "session.key").read_text().strip()) == key


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o606])
def test_a_key_file_others_may_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    config = config_in(tmp_path)
    session_key(config)
    (tmp_path / "session.key").chmod(mode)

    with pytest.raises(ConfigError, match=r"may be read by other users: chmod 600"):
        session_key(config)


def test_a_symlink_in_place_of_the_key_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "planted"
    target.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    target.chmod(0o600)
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "data" / "session.key").symlink_to(target)

    with pytest.raises(ConfigError, match="remove it"):
        session_key(config_in(tmp_path / "data"))


def test_a_folder_in_place_of_the_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "session.key").mkdir(mode=0o700)

    with pytest.raises(ConfigError, match="not a plain file of this user's"):
        session_key(config_in(tmp_path))


def test_a_key_file_holding_no_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "session.key").write_text("hunter2\n")
    (tmp_path / "session.key").chmod(0o600)

    with pytest.raises(ConfigError, match="holds no key: remove it"):
        session_key(config_in(tmp_path))


def test_the_configured_secret_is_used_and_no_file_is_made(tmp_path: Path) -> None:
    raw = os.urandom(32)

    assert session_key(config_in(tmp_path, base64.urlsafe_b64encode(raw).decode())) == raw
    assert not (tmp_path / "session.key").exists()


@pytest.mark.parametrize(
    "secret",
    [
        "too short",
        base64.urlsafe_b64encode(os.urandom(16)).decode(),
        base64.urlsafe_b64encode(os.urandom(48)).decode(),
        base64.b64encode(b"\xfb" * 32).decode(),
    ],
)
def test_a_configured_secret_not_32_bytes_of_url_safe_base64_is_refused_without_echoing_it(
    tmp_path: Path, secret: str
) -> None:
    with pytest.raises(ConfigError, match=r"http\.session_secret must be 32 bytes as url-safe base64") as raised:
        session_key(config_in(tmp_path, secret))

    assert secret not in str(raised.value)
