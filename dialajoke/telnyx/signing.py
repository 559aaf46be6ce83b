"""Telnyx webhook signatures: Ed25519 over ``"{timestamp}|{raw body}"``, within a replay window.

See the reference's section 6.1; this mirrors what Telnyx's own SDK checks. Pure functions,
no aiohttp: the simulator signs with :func:`sign` and the service verifies with
:class:`SignatureVerifier`, the same code path whether the sender is Telnyx or the simulator.
"""

from __future__ import annotations

import base64
import binascii

import nacl.exceptions
import nacl.signing

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"


class SignatureError(Exception):
    """The webhook is not provably from Telnyx; the message says which check failed."""


class SignatureVerifier:
    """Checks webhook signatures against the account's base64 Ed25519 public key.

    :param public_key_b64: the key as shown in the Telnyx portal (32 raw bytes, base64).
    :param tolerance_s: how far the signed timestamp may be from now, either way.
    """

    def __init__(self, public_key_b64: str, tolerance_s: float = 300) -> None:
        self._key = nacl.signing.VerifyKey(base64.b64decode(public_key_b64, validate=True))
        self._tolerance_s = tolerance_s

    def verify(self, *, signature: str | None, timestamp: str | None, body: bytes, now: float) -> None:
        """:raises SignatureError: when a header is missing or malformed, stale, or the signature is wrong."""
        if not signature or not timestamp:
            raise SignatureError(f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are both required")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds, e.g. 1700000000")
        if abs(now - int(timestamp)) > self._tolerance_s:
            raise SignatureError(f"{TIMESTAMP_HEADER} is more than {self._tolerance_s:g} s away from now")
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError(f"{SIGNATURE_HEADER} is not base64") from None
        if len(raw_signature) != 64:
            raise SignatureError(f"{SIGNATURE_HEADER} must be a 64-byte Ed25519 signature")
        try:
            self._key.verify(timestamp.encode() + b"|" + body, raw_signature)
        except nacl.exceptions.BadSignatureError:
            raise SignatureError("the signature does not match the body and timestamp") from None


def sign(signing_key: nacl.signing.SigningKey, body: bytes, timestamp: int) -> dict[str, str]:
    """The two headers Telnyx sends with a webhook whose body is ``body``."""
    signed = signing_key.sign(str(timestamp).encode() + b"|" + body)
    return {
        SIGNATURE_HEADER: base64.b64encode(signed.signature).decode(),
        TIMESTAMP_HEADER: str(timestamp),
    }


def public_key_b64(signing_key: nacl.signing.SigningKey) -> str:
    return base64.b64encode(bytes(signing_key.verify_key)).decode()
