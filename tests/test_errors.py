"""Every failure answers in one shape: problem details for machines, an error page for people."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from dialajoke.app import create_app
from dialajoke.config import Config, MetricsConfig
from dialajoke.models import Access
from dialajoke.web.access import add_route

from .clock import ManualClock
from .service import Service, service_config
from .waiting import wait_until

UNFINISHED_UPLOAD = (
    b"POST /api/calls HTTP/1.1\r\nHost: dialajoke\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
)


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
    add_route(app, Access.ANYONE, "GET", "/api/explode", explode, name="explode")
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


async def test_a_problem_page_shows_code_as_code_not_backticks(service: Service) -> None:
    page = await (await service.client.get("/problems/invalid-request")).text()

    assert "<code>errors</code> lists each one" in page
    assert "`" not in page


async def test_the_page_has_an_icon(service: Service) -> None:
    page = await (await service.pages.get("/")).text()
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in page

    icon = await service.anonymous.get("/static/favicon.svg")

    assert icon.status == 200
    assert icon.content_type == "image/svg+xml"


@pytest.fixture(params=[False, True], ids=["as run_app serves", "with handlers cancelled on disconnect"])
async def served(database: Path, clock: ManualClock, request: pytest.FixtureRequest) -> AsyncIterator[Config]:
    """The service on its port, served as ``python -m dialajoke`` serves it, and as aiohttp's test server does."""
    config = service_config(database, metrics=MetricsConfig(token=SecretStr(SCRAPE_TOKEN)))
    runner = web.AppRunner(create_app(config, clock=clock), handler_cancellation=request.param)
    await runner.setup()
    await web.TCPSite(runner, config.http.host, config.http.port).start()
    yield config
    await runner.cleanup()


SCRAPE_TOKEN = "prometheus-in-the-tests"


async def requests_counted(config: Config) -> dict[tuple[str, str], float]:
    """(route, status) -> requests, from GET /metrics."""
    scrape = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=scrape) as session,
        session.get(f"{config.public_url}/metrics") as response,
    ):
        text = await response.text()
    return {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "dialajoke_http_requests_total"
    }


async def test_a_client_that_drops_its_upload_is_logged_as_information_not_as_a_500(
    served: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection(served.http.host, served.http.port)
    writer.write(UNFINISHED_UPLOAD)
    assert await asyncio.wait_for(reader.readline(), 5) == b"HTTP/1.1 100 Continue\r\n"
    writer.write(b'{"to": "+1202')
    writer.close()
    await writer.wait_closed()

    counted: dict[tuple[str, str], float] = {}

    async def dropped_upload_counted() -> bool:
        counted.update(await requests_counted(served))
        return any(route == "/api/calls" for route, _ in counted)

    await wait_until(dropped_upload_counted, 5, lambda: f"the dropped upload to be counted: {counted}")

    assert [status for route, status in counted if route == "/api/calls"] == ["499"]
    assert "POST /api/calls [request" in caplog.text
    assert "not answered" in caplog.text
    assert [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info] == []
