"""Every typed key stored on the application or a request; nothing else."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from .accounts import Accounts
from .calls import Bookings, CallControl, JokeSource, QueuedCall, WebhookInbox
from .clock import Clock
from .config import Config
from .followers import Followers
from .metrics import Metrics
from .models import Access, Principal
from .scheduler import UnifiedTimedQueue
from .simulator import TelnyxSimulator
from .store import CallStore
from .telnyx import SignatureVerifier, TelnyxClient

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
STARTED_AT = web.AppKey("started_at", float)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
SIMULATOR = web.AppKey("simulator", TelnyxSimulator)
STORE = web.AppKey("store", CallStore)
TELNYX = web.AppKey("telnyx", TelnyxClient)
JOKES = web.AppKey("jokes", JokeSource)
CALL_CONTROL = web.AppKey("call_control", CallControl)
QUEUE = web.AppKey("queue", UnifiedTimedQueue[QueuedCall])
BOOKINGS = web.AppKey("bookings", Bookings)
VERIFIER = web.AppKey("verifier", SignatureVerifier)
METRICS = web.AppKey("metrics", Metrics)
INBOX = web.AppKey("inbox", WebhookInbox)
FOLLOWERS = web.AppKey("followers", Followers)
"""The live event streams open now, per user; ended when the service stops."""

ACCOUNTS = web.AppKey("accounts", Accounts)
ACCESS_RULES = web.AppKey("access_rules", dict[web.AbstractRoute, Access])
SESSIONS = web.AppKey("sessions", Middleware)
"""aiohttp-session's middleware, made at start-up once the cookie key can be read."""
FIRST_ADMIN = web.AppKey("first_admin", tuple[str, str])
"""The admin made at first start and its generated password, for the console to show once."""

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
