"""The published contract: an OpenAPI 3.1 document of the JSON API, /webhook, /health and /info.

The document is built here as data and served at ``GET /api/openapi.json``; ``GET /api/docs``
draws the same document as an HTML page on the server, so reading it needs no script and no
third-party site. tests/test_openapi.py compares it with the router both ways, so a route
cannot be added or dropped without the document following.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from .. import __version__
from ..calls.payloads import BookingPayload
from ..models import CallStatus, Direction
from .api import MAX_LIST_LIMIT
from .pages import render
from .problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from .problems import PROBLEM_TYPES

JSON = "application/json"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
NO_AUTH: list[dict[str, list[str]]] = []

ERRORS = {
    400: "A field, the query or the JSON body is wrong; `errors` lists each field.",
    401: "No API key, or one that is mistyped, revoked or of a disabled user (WWW-Authenticate says which).",
    403: "This user may not do this, or a page of another site sent the request.",
    404: "No call has this id, or it is another user's.",
    408: "The request body did not arrive within http.body_timeout_s.",
    409: "The call was already dialed, so it can no longer be cancelled.",
    413: "The request body is larger than http.client_max_size.",
    415: "The body was not sent as application/json.",
    422: "The booking breaks a rule: the number, the calling hours, the do-not-call list or a limit.",
    429: "Too many bookings in the last hour; try again after the seconds in Retry-After.",
    503: "The database cannot be written; nothing was saved. Try again after the seconds in Retry-After.",
}
"""What each error status of the API means, as the handlers and middlewares answer it."""

ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}, "description": "Bearer, and why."}},
    429: {"Retry-After": {"required": True, "schema": {"type": "integer"}, "description": "Seconds to wait."}},
    503: {"Retry-After": {"required": True, "schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
"""The headers that always come with an error status (RFC 9110: a 401 names its scheme)."""


async def serve_document(request: web.Request) -> web.Response:
    return web.json_response(document())


async def docs_page(request: web.Request) -> web.Response:
    """The document as a page: every path and operation, its parameters, body and answers."""
    spec = document()
    context = {
        "spec": spec,
        "operations": operations(spec),
        "schemas": spec["components"]["schemas"],
        "schema_name": schema_name,
    }
    return await render(request, "api_docs.html", context)


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each operation of ``spec`` with its path and method, in the document's order."""
    return [
        {"path": path, "method": method.upper(), **operation}
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def schema_name(schema: dict[str, Any]) -> str:
    """The component a schema refers to (``Call``), or its type written out (``array of Call``)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2]
    if schema.get("type") == "array":
        return f"array of {schema_name(schema['items'])}"
    if "anyOf" in schema:
        return " or ".join(schema_name(option) for option in schema["anyOf"])
    kind = schema.get("type", "object")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built once: the same on every request."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dial-A-Joke",
            "version": __version__,
            "description": "Book a phone call that tells a joke; Telnyx reports each step of it to /webhook.",
        },
        "servers": [{"url": "/"}],
        "security": BEARER,
        "paths": {
            "/api/calls": {"post": _create_call(), "get": _list_calls()},
            "/api/calls/{call_id}": {"get": _get_call(), "delete": _cancel_call()},
            "/api/openapi.json": {"get": _the_document()},
            "/api/docs": {"get": _the_docs_page()},
            "/webhook": {"post": _webhook()},
            "/health": {"get": _health()},
            "/info": {"get": _info()},
        },
        "components": {"securitySchemes": _security_schemes(), "schemas": _schemas()},
    }


def _security_schemes() -> dict[str, Any]:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (dj_...), made on the Account page or with python -m dialajoke users keys add.",
        }
    }


def _create_call() -> dict[str, Any]:
    return {
        "operationId": "createCall",
        "summary": "Book a call",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": (
                    "1 to 255 printable characters; the same key with the same body within 24 hours answers"
                    " the call already booked (200) instead of booking again, with another body 422."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        ],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("BookingRequest")}}},
        "responses": {
            "201": {
                "description": "Booked; Location is the call's URL.",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {JSON: {"schema": _ref("Call")}},
            },
            "200": {
                "description": "Booked before with this Idempotency-Key and this body: the call as it is now.",
                "headers": {
                    "Location": {"schema": {"type": "string"}},
                    "Idempotent-Replayed": {"schema": {"type": "string", "const": "true"}},
                },
                "content": {JSON: {"schema": _ref("Call")}},
            },
            **_errors(400, 401, 403, 408, 413, 415, 422, 429, 503),
        },
    }


def _list_calls() -> dict[str, Any]:
    return {
        "operationId": "listCalls",
        "summary": "List calls, newest due first, a page at a time",
        "parameters": [
            _query("status", "Only these statuses, comma-separated.", {"type": "string"}),
            _query(
                "limit",
                "Calls on a page.",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 50},
            ),
            _query("owner", "An admin's filter: only this user's calls.", {"type": "string"}),
            _query("from", "Only calls due at or after this time.", {"type": "string", "format": "date-time"}),
            _query("until", "Only calls due before this time.", {"type": "string", "format": "date-time"}),
            _query("cursor", "Where the page starts: take it from the previous page's next.", {"type": "string"}),
        ],
        "responses": {
            "200": {
                "description": "A page of calls; next (and the Link header) is the URL of the page after it.",
                "headers": {"Link": {"schema": {"type": "string"}, "description": 'rel="next", on all but the last'}},
                "content": {JSON: {"schema": _ref("CallList")}},
            },
            **_errors(400, 401, 403),
        },
    }


def _get_call() -> dict[str, Any]:
    return {
        "operationId": "getCall",
        "summary": "A call and the timeline of its steps",
        "parameters": [_call_id()],
        "responses": {"200": _call_answer("The call."), **_errors(401, 403, 404)},
    }


def _cancel_call() -> dict[str, Any]:
    return {
        "operationId": "cancelCall",
        "summary": "Cancel a call not yet dialed",
        "parameters": [_call_id()],
        "responses": {"200": _call_answer("The call, cancelled."), **_errors(401, 403, 404, 409, 503)},
    }


def _the_document() -> dict[str, Any]:
    return {
        "operationId": "getOpenApiDocument",
        "summary": "This document",
        "security": NO_AUTH,
        "responses": {
            "200": {"description": "The OpenAPI 3.1 document.", "content": {JSON: {"schema": {"type": "object"}}}},
            **_errors(403),
        },
    }


def _the_docs_page() -> dict[str, Any]:
    return {
        "operationId": "getApiDocs",
        "summary": "This document as a page",
        "security": NO_AUTH,
        "responses": {
            "200": {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}},
            **_errors(403),
        },
    }


def _webhook() -> dict[str, Any]:
    signed = "Telnyx signs every event; an unsigned or stale one is refused with 401."
    return {
        "operationId": "receiveWebhook",
        "summary": "Telnyx reports a step of a call",
        "description": "Answered at once with 200; an event id seen before is acknowledged and ignored.",
        "security": NO_AUTH,
        "parameters": [
            _header("telnyx-signature-ed25519", f"Base64 Ed25519 signature of timestamp|body. {signed}"),
            _header("telnyx-timestamp", "Unix seconds when Telnyx signed the event; at most 300 s old."),
        ],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("WebhookEvent")}}},
        "responses": {
            "200": {"description": "Received.", "content": {JSON: {"schema": _ref("WebhookReceipt")}}},
            "401": _problem(signed),
            **_errors(400, 408, 413, 503),
        },
    }


def _health() -> dict[str, Any]:
    return {
        "operationId": "getHealth",
        "summary": "Whether the service can take bookings",
        "security": NO_AUTH,
        "responses": {
            "200": {"description": "Up.", "content": {JSON: {"schema": _ref("Health")}}},
            "503": {
                "description": "The database cannot be written; Retry-After says when to ask again.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {JSON: {"schema": _ref("Health")}},
            },
        },
    }


def _info() -> dict[str, Any]:
    return {
        "operationId": "getInfo",
        "summary": "Version, uptime and pending work (admins only)",
        "responses": {
            "200": {"description": "About this service.", "content": {JSON: {"schema": _ref("Info")}}},
            **_errors(401, 403),
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Call": _call_schema(),
        "CallList": _object(
            {
                "calls": {"type": "array", "items": _ref("Call")},
                "next": {"type": ["string", "null"], "description": "The next page's URL; null on the last page."},
            }
        ),
        **_model_schemas(BookingPayload),
        "Problem": _problem_schema(),
        "WebhookEvent": _object(
            {
                "data": _object(
                    {"id": {"type": "string"}, "event_type": {"type": "string"}, "payload": {"type": "object"}},
                    required=("id", "event_type"),
                )
            },
            required=("data",),
        ),
        "WebhookReceipt": _object({"received": {"type": "string"}, "duplicate": {"type": "boolean"}}),
        "Health": _object(
            {"status": {"type": "string", "enum": ["ok", "unavailable"]}, "detail": {"type": "string"}},
            required=("status",),
        ),
        "Info": _object(
            {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "uptime_s": {"type": "number"},
                "pending_calls": {"type": "integer"},
                "webhook_events_in_hand": {"type": "integer"},
                "telnyx": {"type": "string", "enum": ["live", "simulator"]},
            }
        ),
    }


def _model_schemas(model: type[BaseModel]) -> dict[str, Any]:
    """The schema of the model that parses a request body, under its title, and those of the models it nests.

    OpenAPI 3.1 takes JSON Schema 2020-12 as pydantic writes it; only the nested models move
    from the schema's ``$defs`` to the components, where its references are made to point.
    """
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {schema["title"]: schema, **nested}


def _call_schema() -> dict[str, Any]:
    time = {"type": "string", "format": "date-time"}
    status = {"type": "string", "enum": [status.value for status in CallStatus]}
    return _object(
        {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": [direction.value for direction in Direction]},
            "to": {"type": "string"},
            "from": {"type": "string"},
            "at": time,
            "timezone": {"type": "string"},
            "status": status,
            "owner_id": {"type": ["integer", "null"]},
            "joke": {"type": ["string", "null"]},
            "hangup_cause": {"type": ["string", "null"]},
            "created_at": time,
            "updated_at": time,
            "events": {
                "type": "array",
                "items": _object({"at": time, "status": status, "detail": {"type": "string"}}),
            },
        }
    )


def _problem_schema() -> dict[str, Any]:
    schema = _object(
        {
            "type": {
                "type": "string",
                "description": "/problems/<slug>, a page explaining it, or about:blank.",
                "examples": [f"/problems/{slug}" for slug in PROBLEM_TYPES],
            },
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What went wrong with this request and how to fix it."},
            "instance": {"type": "string"},
            "request_id": {"type": "string", "description": "Quote it when reporting a problem."},
            "errors": {
                "type": "array",
                "items": _object(
                    {"field": {"type": "string"}, "pointer": {"type": "string"}, "detail": {"type": "string"}}
                ),
            },
        },
        required=("type", "title", "status", "detail", "instance", "request_id"),
    )
    return {**schema, "description": "RFC 9457 problem details."}


def _object(properties: dict[str, Any], *, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An object of these properties, all of them required unless ``required`` names fewer."""
    names = list(properties) if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _problem(ERRORS[status], ERROR_HEADERS.get(status)) for status in statuses}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer of problem details, with the headers that always come with it."""
    answer = {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": _ref("Problem")}}}
    return {**answer, "headers": headers} if headers else answer


def _call_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Call")}}}


def _call_id() -> dict[str, Any]:
    return {"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "description": description, "schema": {"type": "string"}}
