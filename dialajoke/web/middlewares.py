"""Request ids, and one error shape for every failure.

The API and /webhook answer RFC 9457 problem details; browser pages get an HTML error
page. aiohttp's own 404/405/413 and unexpected exceptions go through the same path,
and no traceback ever reaches a client: a 500 is logged with the request id that the
response also carries. A client that goes away before it is answered is no fault of
the service: it is logged as information and counted as a 499, not as a 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from .. import keys, logs
from ..ids import unique_id
from ..store import StorageUnavailable
from .pages import render
from .problems import CONTENT_TYPE, Problem

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_CLOSED_REQUEST = 499
"""The status nginx records for a request whose client left before the answer; never sent."""
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MACHINE_PREFIXES = ("/api/", "/webhook", "/info", "/metrics", "/health", "/simulator/", "/events")
"""Paths answered to programs, whose errors are problem+json; every other path is a page."""


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by its route, whatever the outcome."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        # The client went away and aiohttp cancelled its handler (or the service is
        # stopping and stopped waiting for it): no answer was sent.
        status = CLIENT_CLOSED_REQUEST
        raise
    finally:
        route = _route_name(request)
        metrics = request.app[keys.METRICS]
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_latency.labels(route).observe(time.perf_counter() - started)


def _route_name(request: web.Request) -> str:
    """The route's pattern, never the raw path, so ids and junk URLs cannot explode the label set."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None and route.handler is not None else "unmatched"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the caller's X-Request-ID when it is sane, else make one; echo it on the response.

    Every line logged while the request is answered carries the id.
    """
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = offered if _SAFE_REQUEST_ID.fullmatch(offered) else unique_id()
    request[keys.REQUEST_ID] = request_id
    token = logs.request_id.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        logs.request_id.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return await render_problem(request, problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await render_problem(request, Problem.from_http(exc))
    except StorageUnavailable:
        # The store logs the outage once; logging each refused request would flood the log.
        retry_after = {"Retry-After": str(request.app[keys.CONFIG].database.retry_after_s)}
        return await render_problem(request, Problem.of("storage-unavailable", 503, headers=retry_after))
    except asyncio.CancelledError:
        _log_unanswered(request, "cancelled: the client went away, or the service is stopping")
        raise
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and _client_gone(request):
            _log_unanswered(request, f"the client went away ({exc})")
            return web.Response(status=CLIENT_CLOSED_REQUEST)
        request_id = request.get(keys.REQUEST_ID, "-")
        logger.exception("unhandled error in %s %s [request %s]", request.method, request.path, request_id)
        return await render_problem(request, Problem.of("internal-error", 500))


def _client_gone(request: web.Request) -> bool:
    """The request's own connection is closed (not one the handler made to somewhere else)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _log_unanswered(request: web.Request, why: str) -> None:
    request_id = request.get(keys.REQUEST_ID, "-")
    logger.info("%s %s [request %s] not answered: %s", request.method, request.path, request_id, why)


async def render_problem(request: web.Request, problem: Problem) -> web.Response:
    request_id = request.get(keys.REQUEST_ID, "-")
    headers = {**problem.headers, REQUEST_ID_HEADER: request_id}
    if wants_problem_json(request):
        response = web.json_response(
            problem.body(request.path, request_id), status=problem.status, content_type=CONTENT_TYPE
        )
    else:
        context = {"problem": problem, "request_id": request_id}
        response = await render(request, "error.html", context, status=problem.status)
    response.headers.update(headers)
    return response


def wants_problem_json(request: web.Request) -> bool:
    return request.path.startswith(_MACHINE_PREFIXES) or request.path == "/api"
