"""Where calls, users and webhook events live: the CallStore contract and its backends."""

from .contract import MAX_ID, CallStore, CannotOpenDatabase, LastAdmin, StorageUnavailable, UserExists
from .lock import DatabaseInUse
from .sqlite import SqliteCallStore
from .sqlite_thread import SqliteThread, SqliteThreadClosed

__all__ = [
    "MAX_ID",
    "CallStore",
    "CannotOpenDatabase",
    "DatabaseInUse",
    "LastAdmin",
    "SqliteCallStore",
    "SqliteThread",
    "SqliteThreadClosed",
    "StorageUnavailable",
    "UserExists",
]
