"""The published contract: /api/openapi.json names exactly the routes the app serves, is valid
OpenAPI 3.1, describes the answers the service really gives, and /api/docs shows all of it."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import ClientResponse
from openapi_schema_validator import OAS31Validator, validate
from openapi_spec_validator import validate as validate_spec

from dialajoke import __version__
from dialajoke.calls.payloads import BookingPayload
from dialajoke.web.openapi import document

from .service import Service
from .test_access import every_route

DOCUMENTED = re.compile(r"/api(/.*)?|/webhook|/health|/info")
"""The paths the document covers: the JSON API, and the three operator routes machines call."""
PLACEHOLDER_PATTERN = re.compile(r"\{(\w+):[^}]*\}")
UNDOCUMENTED_METHODS = ("HEAD", "OPTIONS")
"""aiohttp's HEAD twin of every GET, and the CORS preflights: neither is an operation of the API."""


def routed_operations(service: Service) -> set[tuple[str, str]]:
    """(method, path) of each route the app serves under /api and at /webhook, /health, /info."""
    found = set()
    for route, _ in every_route(service.app):
        path = PLACEHOLDER_PATTERN.sub(r"{\1}", route.resource.canonical if route.resource else "")
        if DOCUMENTED.fullmatch(path) and route.method not in UNDOCUMENTED_METHODS:
            found.add((route.method, path))
    return found


def documented_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def answer_schema(spec: dict[str, Any], path: str, method: str, status: int, media: str) -> dict[str, Any]:
    """The schema the document gives this answer, with the components its references point into."""
    answer = spec["paths"][path][method]["responses"][str(status)]
    return {**answer["content"][media]["schema"], "components": spec["components"]}


async def assert_answers_as_documented(response: ClientResponse, path: str, method: str) -> None:
    spec = await response.json() if path == "/api/openapi.json" else document()
    schema = answer_schema(spec, path, method, response.status, response.content_type)
    validate(await response.json(), schema, cls=OAS31Validator)


async def test_the_document_names_every_route_and_nothing_else(service: Service) -> None:
    routed = routed_operations(service)
    documented = documented_operations(document())

    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "operations in the OpenAPI document that no route serves"
    assert ("GET", "/api/calls/{call_id}") in routed


async def test_the_document_is_served_to_anyone_and_is_valid_openapi_3_1(service: Service) -> None:
    response = await service.anonymous.get("/api/openapi.json")

    assert response.status == 200
    served = await response.json()
    validate_spec(served)
    assert served["openapi"] == "3.1.0"
    assert served["info"]["version"] == __version__
    bearer = served["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")


async def test_every_error_answer_is_a_problem(service: Service) -> None:
    spec = document()
    not_problems = [
        f"{method.upper()} {path} {status}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for status, answer in operation["responses"].items()
        if int(status) >= 400
        and path != "/health"
        and answer["content"] != {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    ]

    assert not_problems == []


async def test_each_answer_of_a_call_is_as_documented(service: Service) -> None:
    booked = await service.book("+12025550142")
    call = await service.run_until_final(booked["id"], advance_s=120)
    path = "/api/calls/{call_id}"
    assert call["events"]
    assert call["joke"]

    for response in (
        await service.client.get(f"/api/calls/{call['id']}"),
        await service.anonymous.get(f"/api/calls/{call['id']}"),
        await service.client.get(f"/api/calls/{call['id']}", headers={"Sec-Fetch-Site": "cross-site"}),
        await service.client.get("/api/calls/999999"),
    ):
        await assert_answers_as_documented(response, path, "get")
    statuses = {"200", "401", "403", "404"}
    assert set(document()["paths"][path]["get"]["responses"]) == statuses


async def test_booking_and_listing_answer_as_documented(service: Service) -> None:
    booked = await service.client.post("/api/calls", json={"to": "+12025550142", "at": service.iso_in(60)})
    refused = await service.client.post("/api/calls", json={"to": "not a number"})
    listed = await service.client.get("/api/calls", params={"limit": "1"})
    bad_filter = await service.client.get("/api/calls", params={"limit": "0"})

    assert [booked.status, refused.status, listed.status, bad_filter.status] == [201, 400, 200, 400]
    for response, method in ((booked, "post"), (refused, "post"), (listed, "get"), (bad_filter, "get")):
        await assert_answers_as_documented(response, "/api/calls", method)


async def test_the_operator_routes_answer_as_documented(service: Service) -> None:
    await assert_answers_as_documented(await service.anonymous.get("/health"), "/health", "get")
    await assert_answers_as_documented(await service.admin_client.get("/info"), "/info", "get")
    await assert_answers_as_documented(await service.client.get("/info"), "/info", "get")
    unsigned = await service.anonymous.post("/webhook", json={"data": {"id": "x", "event_type": "call.answered"}})
    assert unsigned.status == 401
    await assert_answers_as_documented(unsigned, "/webhook", "post")


async def test_the_docs_page_shows_every_operation_and_schema(service: Service) -> None:
    response = await service.anonymous.get("/api/docs")

    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    spec = document()
    for method, path in documented_operations(spec):
        assert f"<code>{method} {path}</code>" in page
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "<script" not in page
    assert "style=" not in page


def request_body_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The schema the document gives this operation's JSON body, with the components it points into."""
    body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return {**body, "components": spec["components"]}


def test_the_booking_body_is_documented_as_the_model_that_parses_it() -> None:
    spec = document()
    schema = request_body_schema(spec, "/api/calls", "post")
    booking = spec["components"]["schemas"][schema["$ref"].rpartition("/")[2]]

    assert booking["additionalProperties"] is False
    assert list(booking["properties"]) == list(BookingPayload.model_fields) == ["to", "at", "timezone"]
    assert booking["required"] == ["to", "at"]
    body = {"to": "+12025550142", "at": "2030-01-31T09:30:00Z", "timezone": None}
    validator = OAS31Validator(schema)
    assert validator.is_valid(body)
    for refused in ({**body, "tz": "UTC"}, {**body, "to": 12025550142}, {"to": "+12025550142"}):
        assert not validator.is_valid(refused), refused


async def test_a_body_the_document_refuses_is_refused_by_the_service(service: Service) -> None:
    body = {"to": "+12025550142", "at": service.iso_in(3600), "tz": "UTC"}
    assert not OAS31Validator(request_body_schema(document(), "/api/calls", "post")).is_valid(body)

    response = await service.client.post("/api/calls", json=body)

    assert response.status == 400
    assert [error["field"] for error in (await response.json())["errors"]] == ["tz"]
