"""Every typed key stored on the application or a request; nothing else."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from .calls import Bookings, CallControl, JokeSource, WebhookInbox
from .clock import Clock
from .config import Config
from .metrics import Metrics
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
QUEUE = web.AppKey("queue", UnifiedTimedQueue[int])
BOOKINGS = web.AppKey("bookings", Bookings)
VERIFIER = web.AppKey("verifier", SignatureVerifier)
METRICS = web.AppKey("metrics", Metrics)
INBOX = web.AppKey("inbox", WebhookInbox)

REQUEST_ID = web.RequestKey("request_id", str)
