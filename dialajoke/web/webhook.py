"""POST /webhook: Telnyx reports every step of a call here.

The order is fixed: read the raw body, verify the signature before parsing anything,
parse, record the event durably in the inbox (an event id seen before is dropped), answer
200 at once; the inbox's workers act on it (reference sections 6.1 and 6.2: Telnyx
expects a fast 2xx and redelivers otherwise).
"""

from __future__ import annotations

import logging

from aiohttp import web

from .. import keys
from ..telnyx.events import EventError, parse_event
from ..telnyx.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError
from .clients import client_address
from .problems import Problem

logger = logging.getLogger(__name__)


async def receive_webhook(request: web.Request) -> web.Response:
    app = request.app
    results = app[keys.METRICS].webhooks
    body = await request.read()
    try:
        app[keys.VERIFIER].verify(
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            body=body,
            now=app[keys.CLOCK].time(),
        )
    except SignatureError as exc:
        logger.warning("webhook refused from %s: %s", client_address(request), exc)
        results.labels("refused").inc()
        raise Problem.of("invalid-signature", 401, str(exc)) from None
    try:
        event = parse_event(body)
    except EventError as exc:
        results.labels("malformed").inc()
        errors = {exc.pointer.lstrip("/").replace("/", "."): exc.detail} if exc.pointer else None
        raise Problem.of("malformed-event", 400, exc.detail, errors=errors) from None
    if not await app[keys.INBOX].accept(event, body):
        logger.info("webhook %s (%s) seen before; ignored", event.id, event.event_type)
        results.labels("duplicate").inc()
        return web.json_response({"received": event.id, "duplicate": True})
    results.labels("accepted").inc()
    return web.json_response({"received": event.id, "duplicate": False})
