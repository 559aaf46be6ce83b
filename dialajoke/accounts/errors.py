"""The refusals of the accounts: each message says what happened and, where it helps, what to do."""

from __future__ import annotations


class AccountsError(Exception):
    """A request about users or keys that is refused; nothing was changed."""


class SignInRefused(AccountsError):
    """Wrong name or password, whatever the cause: the message never says whether the name exists."""

    def __init__(self) -> None:
        super().__init__("wrong name or password")


class TooManySignIns(AccountsError):
    """Too many failed sign-ins lately for this name or from this address, or too many being checked at once;
    try again after ``retry_after_s``. ``reason`` says which, in words fit for the person signing in."""

    def __init__(self, retry_after_s: int, reason: str = "too many failed sign-ins") -> None:
        super().__init__(f"{reason}: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.reason = reason


class WeakPassword(AccountsError, ValueError):
    """A new password breaks the rules; the message says which."""


class InvalidName(AccountsError, ValueError):
    """A user's or a key's name breaks the rules; the message says which."""


class UserNotFound(AccountsError, LookupError):
    """No such user."""


class UserDisabled(AccountsError):
    """The user is disabled: nothing new is made for them, as none of it would be accepted."""


class KeyNotFound(AccountsError, LookupError):
    """The user has no key with that id."""
