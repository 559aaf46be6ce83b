"""Building and posting Telnyx webhooks by hand, signed as Telnyx signs them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import nacl.signing
from aiohttp import ClientResponse

from dialajoke.telnyx.signing import sign

from .service import Service


def envelope(event_type: str, event_id: str | None = None, **payload: Any) -> dict[str, Any]:
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2026-11-24T09:00:00Z",
            "payload": payload,
        },
        "meta": {"attempt": 1},
    }


async def post_webhook(
    service: Service,
    body: dict[str, Any] | bytes,
    *,
    key: nacl.signing.SigningKey | None = None,
    timestamp: float | None = None,
) -> ClientResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(
        sign(key or service.simulator.signing_key, raw, int(service.clock.time() if timestamp is None else timestamp))
    )
    return await service.client.post("/webhook", data=raw, headers=headers)
