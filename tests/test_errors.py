"""Every failure answers in one shape: problem details for machines, an error page for people."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dialajoke.app import create_app

from .clock import ManualClock
from .service import Service, service_config


async def test_unknown_api_paths_are_problem_details(service: Service) -> None:
    response = await service.client.get("/api/nothing-here")

    assert response.status == 404
    problem = await response.json()
    assert problem["status"] == 404
    assert problem["title"] == "Not Found"
    assert problem["request_id"] == response.headers["X-Request-ID"]


async def test_a_problem_names_its_type_and_carries_its_types_title(service: Service) -> None:
    response = await service.client.get("/api/calls/999")

    problem = await response.json()
    assert (problem["type"], problem["title"]) == ("/problems/call-not-found", "Call not found")
    assert problem["detail"].startswith("There is no call 999")
    page = await (await service.client.get(problem["type"])).text()
    assert "Call not found" in page


async def test_wrong_methods_say_which_are_allowed(service: Service) -> None:
    response = await service.client.put("/api/calls")

    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    assert (await response.json())["status"] == 405


async def test_oversized_bodies_are_a_413(service: Service) -> None:
    response = await service.client.post(
        "/api/calls", data=b"x" * 100_000, headers={"Content-Type": "application/json"}
    )

    assert response.status == 413
    assert (await response.json())["status"] == 413


async def test_pages_get_an_html_error_page(service: Service) -> None:
    response = await service.client.get("/no-such-page", headers={"X-Request-ID": "trace-123"})

    assert response.status == 404
    assert response.content_type == "text/html"
    page = await response.text()
    assert "404 Not Found" in page
    assert "trace-123" in page
    assert response.headers["X-Request-ID"] == "trace-123"


async def test_a_crash_is_a_500_without_internals_logged_with_the_request_id(
    database: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = create_app(service_config(database), clock=clock)
    app.router.add_get("/api/explode", explode)
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/api/explode")
        problem = await response.json()

    assert response.status == 500
    assert "secret internals" not in str(problem)
    assert problem["type"] == "/problems/internal-error"
    assert problem["request_id"] in caplog.text
    assert "secret internals" in caplog.text


async def test_problem_types_have_a_page(service: Service) -> None:
    response = await service.client.get("/problems/invalid-signature")

    assert response.status == 200
    assert "Invalid webhook signature" in await response.text()
