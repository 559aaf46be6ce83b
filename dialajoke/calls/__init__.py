"""The call flow: booking, the dial gate, CallControl, the webhook inbox, and the jokes told."""

from .bookings import Bookings, CallNotCancellable, CallNotFound, QueuedCall
from .call_control import CallControl
from .dialer import DialGate, GateClosed
from .inbox import WebhookInbox
from .jokes import HttpJokes, JokeSource, OfflineJokes
from .validation import BookingRules, CallRequest, InvalidRequest

__all__ = [
    "BookingRules",
    "Bookings",
    "CallControl",
    "CallNotCancellable",
    "CallNotFound",
    "CallRequest",
    "DialGate",
    "GateClosed",
    "HttpJokes",
    "InvalidRequest",
    "JokeSource",
    "OfflineJokes",
    "QueuedCall",
    "WebhookInbox",
]
