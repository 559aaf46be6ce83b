"""Webhook signatures: what passes, and what is refused with a message naming the failed check."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import nacl.signing
import pytest

from dialajoke.telnyx.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    SignatureVerifier,
    public_key_b64,
    sign,
)

NOW = 1_700_000_000
BODY = b'{"data":{"event_type":"call.answered","id":"0ccc7b54"}}'


@pytest.fixture
def key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


@pytest.fixture
def verifier(key: nacl.signing.SigningKey) -> SignatureVerifier:
    return SignatureVerifier(public_key_b64(key))


@dataclass(frozen=True)
class Request:
    signature: str | None
    timestamp: str | None
    body: bytes


def signed(key: nacl.signing.SigningKey, body: bytes = BODY, timestamp: int = NOW) -> Request:
    headers = sign(key, body, timestamp)
    return Request(headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], body)


def verify(verifier: SignatureVerifier, request: Request, now: float = NOW) -> None:
    """Verify as the webhook does, with ``now`` as a float from the clock."""
    verifier.verify(signature=request.signature, timestamp=request.timestamp, body=request.body, now=float(now))


def test_sign_gives_both_headers_with_a_64_byte_signature(key: nacl.signing.SigningKey) -> None:
    headers = sign(key, BODY, NOW)

    assert set(headers) == {SIGNATURE_HEADER, TIMESTAMP_HEADER}
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert len(base64.b64decode(headers[SIGNATURE_HEADER], validate=True)) == 64


def test_a_good_signature_passes(key: nacl.signing.SigningKey, verifier: SignatureVerifier) -> None:
    verify(verifier, signed(key))


@pytest.mark.parametrize("age_s", [-300, 0, 300], ids=["300s-ahead", "now", "300s-old"])
def test_a_timestamp_within_the_tolerance_passes(
    key: nacl.signing.SigningKey, verifier: SignatureVerifier, age_s: int
) -> None:
    verify(verifier, signed(key, timestamp=NOW - age_s))


def test_the_tolerance_is_configurable(key: nacl.signing.SigningKey) -> None:
    strict = SignatureVerifier(public_key_b64(key), tolerance_s=10)

    verify(strict, signed(key, timestamp=NOW - 10))
    with pytest.raises(SignatureError, match=r"more than 10 s away from now"):
        verify(strict, signed(key, timestamp=NOW - 11))


def test_a_tampered_body_is_refused(key: nacl.signing.SigningKey, verifier: SignatureVerifier) -> None:
    request = signed(key)
    tampered = Request(request.signature, request.timestamp, BODY.replace(b"answered", b"hangup"))

    with pytest.raises(SignatureError, match=r"^the signature does not match the body and timestamp$"):
        verify(verifier, tampered)


def test_a_signature_made_with_another_key_is_refused(verifier: SignatureVerifier) -> None:
    other_key = nacl.signing.SigningKey.generate()

    with pytest.raises(SignatureError, match=r"^the signature does not match the body and timestamp$"):
        verify(verifier, signed(other_key))


def test_a_signature_moved_to_another_timestamp_is_refused(
    key: nacl.signing.SigningKey, verifier: SignatureVerifier
) -> None:
    request = signed(key, timestamp=NOW)
    replayed = Request(request.signature, str(NOW + 1), request.body)

    with pytest.raises(SignatureError, match=r"^the signature does not match the body and timestamp$"):
        verify(verifier, replayed)


@pytest.mark.parametrize("age_s", [301, -301, 86_400], ids=["301s-old", "301s-ahead", "a-day-old"])
def test_a_timestamp_outside_the_tolerance_is_refused(
    key: nacl.signing.SigningKey, verifier: SignatureVerifier, age_s: int
) -> None:
    with pytest.raises(SignatureError, match=rf"^{TIMESTAMP_HEADER} is more than 300 s away from now$"):
        verify(verifier, signed(key, timestamp=NOW - age_s))


BOTH_REQUIRED = rf"^the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are both required$"
NOT_UNIX_SECONDS = rf"^{TIMESTAMP_HEADER} must be Unix seconds"
NOT_BASE64 = rf"^{SIGNATURE_HEADER} is not base64$"
WRONG_LENGTH = rf"^{SIGNATURE_HEADER} must be a 64-byte Ed25519 signature$"
GOOD_SIGNATURE = "<a good signature>"
GOOD_TIMESTAMP = "<a good timestamp>"


@pytest.mark.parametrize(
    ("signature", "timestamp", "message"),
    [
        pytest.param(None, GOOD_TIMESTAMP, BOTH_REQUIRED, id="signature-missing"),
        pytest.param("", GOOD_TIMESTAMP, BOTH_REQUIRED, id="signature-empty"),
        pytest.param(GOOD_SIGNATURE, None, BOTH_REQUIRED, id="timestamp-missing"),
        pytest.param(GOOD_SIGNATURE, "", BOTH_REQUIRED, id="timestamp-empty"),
        pytest.param(None, None, BOTH_REQUIRED, id="both-missing"),
        pytest.param(GOOD_SIGNATURE, "soon", NOT_UNIX_SECONDS, id="timestamp-words"),
        pytest.param(GOOD_SIGNATURE, "1.7e9", NOT_UNIX_SECONDS, id="timestamp-float"),
        pytest.param(GOOD_SIGNATURE, "-1700000000", NOT_UNIX_SECONDS, id="timestamp-negative"),
        pytest.param(GOOD_SIGNATURE, f" {NOW}", NOT_UNIX_SECONDS, id="timestamp-leading-space"),
        pytest.param(GOOD_SIGNATURE, "١٧٠٠٠٠٠٠٠٠", NOT_UNIX_SECONDS, id="timestamp-arabic-indic-digits"),
        pytest.param("not base64 at all!", GOOD_TIMESTAMP, NOT_BASE64, id="signature-not-base64"),
        pytest.param("QUJ", GOOD_TIMESTAMP, NOT_BASE64, id="signature-missing-padding"),
        pytest.param(base64.b64encode(bytes(63)).decode(), GOOD_TIMESTAMP, WRONG_LENGTH, id="signature-63-bytes"),
        pytest.param(base64.b64encode(bytes(65)).decode(), GOOD_TIMESTAMP, WRONG_LENGTH, id="signature-65-bytes"),
        pytest.param("AAAA", GOOD_TIMESTAMP, WRONG_LENGTH, id="signature-3-bytes"),
    ],
)
def test_a_missing_or_malformed_header_is_refused_with_the_check_that_failed(
    key: nacl.signing.SigningKey,
    verifier: SignatureVerifier,
    signature: str | None,
    timestamp: str | None,
    message: str,
) -> None:
    good = signed(key)
    request = Request(
        good.signature if signature == GOOD_SIGNATURE else signature,
        good.timestamp if timestamp == GOOD_TIMESTAMP else timestamp,
        good.body,
    )

    with pytest.raises(SignatureError, match=message):
        verify(verifier, request)


def test_a_good_signature_with_a_stray_character_is_refused_as_not_base64(
    key: nacl.signing.SigningKey, verifier: SignatureVerifier
) -> None:
    signature = sign(key, BODY, NOW)[SIGNATURE_HEADER]
    stray = Request(signature[:10] + "*" + signature[10:], str(NOW), BODY)

    with pytest.raises(SignatureError, match=NOT_BASE64):
        verify(verifier, stray)


@pytest.mark.parametrize("digits", [400, 5000], ids=["too-big-for-a-float", "too-long-for-int"])
def test_an_absurdly_large_timestamp_is_refused_not_crashing(
    key: nacl.signing.SigningKey, verifier: SignatureVerifier, digits: int
) -> None:
    """The header is anyone's to send: a huge number must be a SignatureError (a 401), not OverflowError (a 500)."""
    request = Request(signed(key).signature, "1" + "0" * (digits - 1), BODY)

    with pytest.raises(SignatureError, match=re.escape(TIMESTAMP_HEADER)):
        verify(verifier, request)
