"""Telnyx Call Control v2: the client for its commands, its webhook events, their signatures, and its voices."""

from .client import COMMAND_ID_WINDOW_S, DialedCall, TelnyxClient, TelnyxError
from .events import EventError, TelnyxEvent, decode_client_state, encode_client_state, parse_event
from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, SignatureVerifier, public_key_b64, sign
from .voices import SpeakProblem, service_level_for, speak_problems

__all__ = [
    "COMMAND_ID_WINDOW_S",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DialedCall",
    "EventError",
    "SignatureError",
    "SignatureVerifier",
    "SpeakProblem",
    "TelnyxClient",
    "TelnyxError",
    "TelnyxEvent",
    "decode_client_state",
    "encode_client_state",
    "parse_event",
    "public_key_b64",
    "service_level_for",
    "sign",
    "speak_problems",
]
