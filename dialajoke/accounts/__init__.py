"""Who may use the service: users, their passwords and API keys, and the key of the sign-in cookies."""

from .passwords import WeakPassword

__all__ = ["WeakPassword"]
