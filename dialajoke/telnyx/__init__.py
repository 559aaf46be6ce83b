"""Telnyx Call Control v2: the client for its commands, its webhook events, and their signatures."""

from .client import DialedCall, TelnyxClient, TelnyxError
from .events import EventError, TelnyxEvent, decode_client_state, encode_client_state, parse_event
from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, SignatureVerifier, public_key_b64, sign

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DialedCall",
    "EventError",
    "SignatureError",
    "SignatureVerifier",
    "TelnyxClient",
    "TelnyxError",
    "TelnyxEvent",
    "decode_client_state",
    "encode_client_state",
    "parse_event",
    "public_key_b64",
    "sign",
]
