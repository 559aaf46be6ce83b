"""Whatever a client sends, the answer is a 4xx that says what is wrong: never a 500, never a hang."""

from __future__ import annotations

import pytest

from .service import Service
from .webhooks import post_webhook

DEEP = b"[" * 50_000 + b"]" * 50_000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        ("POST", "/", b"to=\xff\xfe", FORM),
        ("POST", "/", b"to=1", FORM + "; charset=klingon"),
        ("POST", "/", b"garbage", "multipart/form-data"),
        ("POST", "/", b"--x\r\n", "multipart/form-data; boundary=x"),
        ("POST", "/", b"to=%00&date=%00&time=%00&timezone=%00", FORM),
        ("POST", "/", b"timezone=../../../etc/passwd&to=+12025550142&date=2026-11-25&time=10:00", FORM),
        ("POST", "/api/calls", DEEP[:60_000], JSON),
        ("POST", "/api/calls", b'{"to": "+1' + b"9" * 5000 + b'", "at": "x"}', JSON),
        ("POST", "/api/calls", b'{"to": "+12025550142", "at": "9999-12-31T23:59:59+14:00"}', JSON),
        ("POST", "/api/calls", b'{"to": "+12025550142", "at": "0001-01-01T00:00:00-14:00"}', JSON),
        ("POST", "/api/calls", b'{"to": null, "at": null, "timezone": 7}', JSON),
        ("POST", "/api/calls", b'{"to": "+12025550142", "at": "9999-12-31T23:59:59-05:00"}', JSON),
        ("POST", "/api/calls", b'{"to": "+12025550142", "at": "0001-01-01T00:00:00+05:00"}', JSON),
        ("POST", "/", b"to=%2B12025550142&date=9999-12-31&time=23:59&timezone=America/New_York", FORM),
        ("POST", "/", b"to=%2B12025550142&date=0001-01-01&time=00:00&timezone=Asia/Tokyo", FORM),
        ("POST", "/api/calls", b'{"to": "+12025550142", "at": "2026-11-25T10:00:00Z", "timezone": "Europe"}', JSON),
        ("POST", "/api/calls", b"{}", JSON + "; charset=klingon"),
        ("GET", "/api/calls?limit=" + "9" * 5000, b"", JSON),
        ("GET", "/api/calls?status=%ff", b"", JSON),
        ("GET", "/api/calls/" + "9" * 5000, b"", JSON),
        ("POST", "/simulator/inbound-calls", DEEP[:60_000], JSON),
        ("POST", "/simulator/inbound-calls", b"\xff", JSON),
        ("POST", "/webhook", b"", JSON),
    ],
)
async def test_odd_requests_get_a_clear_4xx(
    service: Service, method: str, path: str, body: bytes, content_type: str
) -> None:
    client = service.client
    if path == "/":
        # The page's form, sent by its signed-in user with its CSRF token: what is odd is only the body.
        client = service.pages
        if content_type.startswith(FORM):
            body += b"&csrf_token=" + service.csrf.encode()
    response = await client.request(method, path, data=body, headers={"Content-Type": content_type})

    assert 400 <= response.status < 500, await response.text()


@pytest.mark.parametrize(
    "headers",
    [
        {"telnyx-timestamp": "9" * 5000, "telnyx-signature-ed25519": "AAAA"},
        {"telnyx-timestamp": "١٢٣", "telnyx-signature-ed25519": "AAAA"},
        {"telnyx-timestamp": "-5", "telnyx-signature-ed25519": "AAAA"},
        {"telnyx-timestamp": "1", "telnyx-signature-ed25519": "!!!"},
    ],
)
async def test_garbled_signature_headers_are_a_401(service: Service, headers: dict[str, str]) -> None:
    response = await service.client.post("/webhook", data=b"{}", headers=headers)

    assert response.status == 401


async def test_deeply_nested_signed_events_are_a_400(service: Service) -> None:
    response = await post_webhook(service, DEEP[:60_000])

    assert response.status in (400, 413)


async def test_fault_injection_refuses_absurd_counts(service: Service) -> None:
    response = await service.client.post("/simulator/faults", json={"fail_next": {"count": 10**8, "how": "503"}})

    assert response.status == 422
    assert not service.simulator.faults.api_failures


async def test_faults_can_be_set_over_http_from_this_machine(service: Service) -> None:
    response = await service.client.post("/simulator/faults", json={"fail_next": {"count": 2, "how": "429"}})

    assert response.status == 200
    assert list(service.simulator.faults.api_failures) == ["429", "429"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"response_delay_s": NaN}',
        b'{"hang_s": Infinity}',
        b'{"response_delay_s": -Infinity}',
        b'{"hang_s": 1e999}',
        b'{"fail_next": {"count": Infinity, "how": "503"}}',
        b'{"fail_next": {"count": NaN, "how": "503"}}',
    ],
)
async def test_fault_injection_refuses_nan_and_infinity_saying_so(service: Service, body: bytes) -> None:
    response = await service.client.post("/simulator/faults", data=body, headers={"Content-Type": JSON})

    assert response.status == 422
    [error] = (await response.json())["errors"]
    assert "not NaN or Infinity" in error["detail"] or "whole number" in error["detail"]
    assert (service.simulator.faults.response_delay_s, service.simulator.faults.hang_s) == (0.0, 30.0)
    assert not service.simulator.faults.api_failures
