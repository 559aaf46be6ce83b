"""A page safe on the open internet: its headers, and no request another site makes a browser send."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dialajoke.config import CorsConfig

from .service import Service

StartService = Callable[..., Awaitable[Service]]

FORM = {"to": "+12025550142", "date": "2026-11-24", "time": "10:00", "timezone": "UTC"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
EVERY_KIND_OF_ANSWER = [
    pytest.param("/", 200, id="the-page"),
    pytest.param("/problems/invalid-signature", 200, id="a-problem-page"),
    pytest.param("/health", 200, id="health"),
    pytest.param("/nowhere", 404, id="a-404-page"),
    pytest.param("/api/calls/999", 404, id="a-404-problem"),
    pytest.param("/static/app.js", 200, id="a-static-file"),
    pytest.param("/simulator/calls", 200, id="the-simulator"),
]


async def calls_booked(service: Service) -> list[Any]:
    calls: list[Any] = (await (await service.client.get("/api/calls")).json())["calls"]
    return calls


@pytest.mark.parametrize(("path", "status"), EVERY_KIND_OF_ANSWER)
async def test_every_answer_carries_the_security_headers(service: Service, path: str, status: int) -> None:
    response = await service.client.get(path)

    assert response.status == status
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Server"] == "Dial-A-Joke"
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize(("path", "status"), EVERY_KIND_OF_ANSWER)
async def test_served_over_https_every_answer_asks_for_https_from_now_on(
    start_service: StartService, path: str, status: int
) -> None:
    service = await start_service(public_url="https://jokes.example.com")

    response = await service.client.get(path)

    assert response.status == status
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


async def test_the_page_has_no_inline_script_or_style(service: Service) -> None:
    page = await (await service.pages.get("/")).text()

    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert '<script src="/static/app.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/static/style.css">' in page


async def test_static_files_are_typed_and_revalidated(service: Service) -> None:
    script = await service.client.get("/static/app.js")
    again = await service.client.get("/static/app.js", headers={"If-None-Match": script.headers["ETag"]})
    style = await service.client.get("/static/style.css")

    assert script.content_type in ("text/javascript", "application/javascript")
    assert script.headers["Cache-Control"] == "no-cache"
    assert "document.getElementById" in await script.text()
    assert again.status == 304
    assert style.content_type == "text/css"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "https://evil.example"}, id="another-origin"),
        pytest.param({"Origin": "null"}, id="a-sandboxed-page"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="same-site"),
        pytest.param({"Origin": "http://127.0.0.1:1"}, id="another-port"),
    ],
)
async def test_the_form_posted_from_another_site_is_refused_and_books_nothing(
    service: Service, headers: dict[str, str]
) -> None:
    response = await service.pages.post(
        "/", data={**FORM, "csrf_token": service.csrf}, headers=headers, allow_redirects=False
    )

    assert response.status == 403
    assert "Cross-site request refused" in html.unescape(await response.text())
    assert await calls_booked(service) == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-origin-at-all"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="same-origin"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="typed-by-the-user"),
    ],
)
async def test_the_form_posted_from_its_own_page_books(service: Service, headers: dict[str, str]) -> None:
    headers = {**headers, "Origin": service.config.public_url}

    response = await service.pages.post(
        "/", data={**FORM, "csrf_token": service.csrf}, headers=headers, allow_redirects=False
    )

    assert response.status == 303
    assert len(await calls_booked(service)) == 1


async def test_behind_a_proxy_the_public_origin_is_our_own(start_service: StartService) -> None:
    service = await start_service(public_url="https://jokes.example.com")

    response = await service.client.post(
        "/", data=FORM, headers={"Origin": "https://jokes.example.com"}, allow_redirects=False
    )

    assert response.status == 303


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_the_api_answers_no_other_origin_when_cors_is_off(service: Service, method: str) -> None:
    path = "/api/calls" if method != "DELETE" else "/api/calls/1"
    body = {"to": "+12025550142", "at": service.iso_in(60)} if method == "POST" else None

    response = await service.client.request(method, path, json=body, headers={"Origin": "https://evil.example"})

    assert response.status == 403
    problem = await response.json()
    assert problem["type"] == "/problems/cross-site-request"
    assert "cors.origins" in problem["detail"]
    assert await calls_booked(service) == []


async def test_cors_origins_may_book_without_credentials_and_others_may_not(start_service: StartService) -> None:
    service = await start_service(cors=CorsConfig(origins=("https://app.example",)))
    body = {"to": "+12025550142", "at": service.iso_in(60)}
    ours = {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"}

    allowed = await service.client.post("/api/calls", json=body, headers=ours)
    refused = await service.client.post("/api/calls", json=body, headers={"Origin": "https://evil.example"})
    form = await service.pages.post("/", data={**FORM, "csrf_token": service.csrf}, headers=ours, allow_redirects=False)

    assert allowed.status == 201
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert (refused.status, form.status) == (403, 403)
    assert len(await calls_booked(service)) == 1


async def test_a_cors_origin_may_send_an_idempotency_key_and_read_the_paging_and_replay_headers(
    start_service: StartService,
) -> None:
    service = await start_service(cors=CorsConfig(origins=("https://app.example",)))
    preflight = await service.anonymous.options(
        "/api/calls",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    booked = await service.client.post(
        "/api/calls",
        json={"to": "+12025550142", "at": service.iso_in(60)},
        headers={"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site", "Idempotency-Key": "k1"},
    )

    assert preflight.status == 200
    assert "IDEMPOTENCY-KEY" in preflight.headers["Access-Control-Allow-Headers"].upper()
    exposed = booked.headers["Access-Control-Expose-Headers"].upper()
    assert {"LINK", "IDEMPOTENT-REPLAYED", "LOCATION"} <= {name.strip() for name in exposed.split(",")}


async def test_telnyx_may_post_webhooks_from_anywhere(service: Service) -> None:
    response = await service.client.post(
        "/webhook", data=b"{}", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )

    assert response.status == 401


INJECTIONS = ['"><script>alert(1)</script>', "1<b>bold</b>", "1 onmouseover=alert(1)", "-1", "0x1", "١"]


@pytest.mark.parametrize("path", ["/", "/calls/table"])
@pytest.mark.parametrize("booked", INJECTIONS)
async def test_only_a_call_id_is_taken_from_the_address(service: Service, path: str, booked: str) -> None:
    await service.book("+12025550142")

    response = await service.client.get(path, params={"booked": booked})

    assert response.status == 200
    page = await response.text()
    assert "alert" not in page
    assert "<b>" not in page
    assert "is booked" not in page
    assert 'class="booked"' not in page
