"""Who may use the service: users, their passwords and API keys, and the key of the sign-in cookies."""

from ..store import LastAdmin, UserExists
from .accounts import Accounts, check_user_name, principal_of, session_stamp
from .api_keys import key_id_of
from .errors import (
    AccountsError,
    InvalidName,
    KeyNotFound,
    SignInRefused,
    TooManySignIns,
    UserDisabled,
    UserNotFound,
    WeakPassword,
)
from .session_key import session_key

__all__ = [
    "Accounts",
    "AccountsError",
    "InvalidName",
    "KeyNotFound",
    "LastAdmin",
    "SignInRefused",
    "TooManySignIns",
    "UserDisabled",
    "UserExists",
    "UserNotFound",
    "WeakPassword",
    "check_user_name",
    "key_id_of",
    "principal_of",
    "session_key",
    "session_stamp",
]
