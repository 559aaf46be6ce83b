"""Where calls, users and webhook events live: the CallStore contract and its backends."""

from .contract import (
    DAY_S,
    HOUR_S,
    IDEMPOTENCY_KEYS_KEPT_S,
    MAX_ID,
    AlreadyBooked,
    BookingQuota,
    CallChange,
    CallStore,
    CannotOpenDatabase,
    DialRefusal,
    Idempotency,
    IdempotencyKeyReused,
    LastAdmin,
    Limit,
    LimitReached,
    OnDoNotCallList,
    StorageUnavailable,
    UserExists,
)
from .lock import DatabaseInUse
from .sqlite import SqliteCallStore
from .sqlite_thread import SqliteThread, SqliteThreadClosed

__all__ = [
    "DAY_S",
    "HOUR_S",
    "IDEMPOTENCY_KEYS_KEPT_S",
    "MAX_ID",
    "AlreadyBooked",
    "BookingQuota",
    "CallChange",
    "CallStore",
    "CannotOpenDatabase",
    "DatabaseInUse",
    "DialRefusal",
    "Idempotency",
    "IdempotencyKeyReused",
    "LastAdmin",
    "Limit",
    "LimitReached",
    "OnDoNotCallList",
    "SqliteCallStore",
    "SqliteThread",
    "SqliteThreadClosed",
    "StorageUnavailable",
    "UserExists",
]
