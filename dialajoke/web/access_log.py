"""aiohttp's access log, less the requests polled all day, and with each request's id.

A load balancer or monitor asks for /health every few seconds: logged, those lines would
bury the requests people made. The line is written in the service's log format (json or
console), with the request id the response carries, so it joins the request's other lines.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_log import AccessLogger

from .. import logs
from .middlewares import REQUEST_ID_HEADER

UNLOGGED_PATHS = frozenset({"/health", "/events"})
"""Paths polled by machines, and the live event stream (one line per page, hours after it opened), left
out of the access log."""


def is_access_logged(request: web.BaseRequest) -> bool:
    return request.path not in UNLOGGED_PATHS


class QuietAccessLogger(AccessLogger):
    """aiohttp's access log line, for every request but those ``is_access_logged`` leaves out."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not is_access_logged(request):
            return
        # The request's own context is over by now: its id is taken back from the response.
        token = logs.request_id.set(response.headers.get(REQUEST_ID_HEADER))
        try:
            super().log(request, response, time)
        finally:
            logs.request_id.reset(token)
