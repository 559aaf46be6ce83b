"""The cursor of ``GET /api/calls``: where the next page starts, opaque to the client.

It holds only the position, the (due time, id) of the last call of the page: the filters
stay in the query of the ``next`` link beside it. The list is ordered by that pair, so the
next page starts just past it even when calls were booked or cancelled in between, which
an offset would skip or repeat.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct

from ..store import MAX_ID

_POSITION = struct.Struct(">dq")
_ENCODED_LENGTH = len(base64.urlsafe_b64encode(bytes(_POSITION.size)).rstrip(b"="))


class BadCursor(ValueError):
    """The text is no cursor this service made (mistyped, cut short, or made up)."""


def encode_cursor(due_at: float, call_id: int) -> str:
    return base64.urlsafe_b64encode(_POSITION.pack(due_at, call_id)).rstrip(b"=").decode("ascii")


def decode_cursor(text: str) -> tuple[float, int]:
    """The (due epoch seconds, call id) a cursor holds; BadCursor unless :func:`encode_cursor` could have made it."""
    if len(text) != _ENCODED_LENGTH or not text.isascii():
        raise BadCursor(text)
    padded = text + "=" * (-len(text) % 4)
    try:
        due_at, call_id = _POSITION.unpack(base64.b64decode(padded, altchars=b"-_", validate=True))
    except (binascii.Error, ValueError, struct.error):
        raise BadCursor(text) from None
    if not math.isfinite(due_at) or not 1 <= call_id <= MAX_ID or encode_cursor(due_at, call_id) != text:
        raise BadCursor(text)
    return due_at, call_id
