"""Who may use the service: users, their passwords and API keys, and the key of the sign-in cookies."""

from .passwords import WeakPassword
from .session_key import session_key

__all__ = ["WeakPassword", "session_key"]
