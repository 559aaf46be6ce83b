"""RFC 9457 problem details: the one error shape of the API and of /webhook.

A :class:`Problem` is raised anywhere a request cannot be served; the error middleware
renders it as ``application/problem+json`` (or as an HTML page for browser routes).
``type`` is a relative URI under /problems/ whose page explains the problem: every type
is listed in :data:`PROBLEM_TYPES`, and :meth:`Problem.of` builds a problem of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error answer with a status, a one-line title and a detail saying how to fix it.

    :param errors: one ``{"field", "pointer", "detail"}`` entry per invalid field.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str = "",
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = f"/problems/{slug}" if slug else "about:blank"
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})

    @classmethod
    def of(
        cls,
        slug: str,
        status: int,
        detail: str | None = None,
        *,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Problem:
        """A problem of the type ``slug`` in :data:`PROBLEM_TYPES`, titled as its page is.

        :param detail: what went wrong with this request; without it, the type's description.
        """
        title, description = PROBLEM_TYPES[slug]
        return cls(status, title, detail or description, slug=slug, errors=errors, headers=headers)

    @classmethod
    def from_http(cls, exc: web.HTTPException) -> Problem:
        """aiohttp's own errors (404, 405, 413...) in the same shape as ours."""
        headers = {name: value for name, value in exc.headers.items() if name in ("Allow", "Retry-After")}
        detail = _HTTP_DETAILS.get(exc.status, exc.reason)
        return cls(exc.status, exc.reason, detail, headers=headers)

    def body(self, instance: str, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "request_id": request_id,
        }
        if self.errors:
            body["errors"] = [
                {"field": name, "pointer": _pointer(name), "detail": message} for name, message in self.errors.items()
            ]
        return body


def _pointer(field: str) -> str:
    """The RFC 6901 JSON Pointer (as a URI fragment) to a top-level field; ``#`` for the whole body."""
    return "#/" + field.replace("~", "~0").replace("/", "~1") if field else "#"


_HTTP_DETAILS = {
    404: "Nothing lives at this address. See the README for the API's paths.",
    405: "This address does not accept that method; the Allow header lists the ones it does.",
    413: "The request body is too large for this service.",
}

PROBLEM_TYPES = {
    # slug: (title, description), the description also serving as the detail of a problem that has no other.
    "invalid-request": ("Invalid request", "A field of the request is missing or wrong; `errors` lists each one."),
    "malformed-json": ("Malformed JSON", "The body could not be read as JSON; send a JSON object."),
    "unsupported-media-type": ("Unsupported media type", "Send the body as application/json."),
    "call-not-found": ("Call not found", "No call has this id; list calls with GET /api/calls."),
    "call-not-cancellable": ("Call cannot be cancelled", "Only a call not yet dialed can be cancelled."),
    "invalid-signature": (
        "Invalid webhook signature",
        "The telnyx-signature-ed25519 and telnyx-timestamp headers must prove the body came from Telnyx"
        " within the last 300 seconds; check telnyx.public_key and the sender's clock.",
    ),
    "malformed-event": (
        "Malformed webhook event",
        "The body must be a Telnyx event envelope with data.id and data.event_type.",
    ),
    "unauthorized": (
        "Not signed in",
        "This needs a user: send an API key (Authorization: Bearer dj_...), made on the Account page or with"
        " python -m dialajoke users keys add NAME.",
    ),
    "forbidden": ("Forbidden", "Your user may not do this; ask an admin."),
    "csrf-token-invalid": (
        "Form expired",
        "The form was not sent from this service's own page, or its page is too old: reload the page and send"
        " the form again.",
    ),
    "key-not-found": ("API key not found", "This user has no API key with that id; the Account page lists them."),
    "cross-site-request": (
        "Cross-site request refused",
        "A page of another site made the browser send this request (its Origin or Sec-Fetch-Site header says"
        " so); the service takes changes only from its own pages, and /api answers only the origins in"
        " cors.origins.",
    ),
    "request-timeout": (
        "Request body too slow",
        "The request body did not arrive within http.body_timeout_s of its headers; send it in one go.",
    ),
    "destination-not-allowed": (
        "Number not allowed",
        "The service does not ring this number: it calls only the countries in protection.allowed_countries (by"
        " default the country of its own number) and the kinds of number in protection.allowed_number_types,"
        " and never satellite, premium-rate, shared-cost or unknown numbers. The detail says which rule.",
    ),
    "calling-hours": (
        "Outside calling hours",
        "Calls ring only within protection.calling_hours on the callee's clock, in every time zone their number"
        " may be in. The detail gives the callee's time and the next time allowed: book the call for then.",
    ),
    "do-not-call": (
        "Number on the do-not-call list",
        "The person at this number asked never to be called (they pressed 9, or an admin listed the number):"
        " it cannot be booked. Only an admin can take a number off the list.",
    ),
    "limit-reached": (
        "Limit reached",
        "The booking would pass one of the limits that protect the people the service rings (calls per number"
        " per day, calls waiting per user, calls per day for the whole service). The detail names the"
        " setting and when a place frees up; an admin can change the setting.",
    ),
    "too-many-bookings": (
        "Too many bookings",
        "This user booked protection.max_bookings_per_user_per_hour calls in the last hour; book again after"
        " the seconds in the Retry-After header.",
    ),
    "idempotency-key-reused": (
        "Idempotency key used for another request",
        "This Idempotency-Key booked a call already, from a request with a different body. The same key with"
        " the same body answers with the call it booked (200, Idempotent-Replayed: true); a new booking"
        " needs a new key. A key is kept for 24 hours, for each user on their own.",
    ),
    "too-many-event-streams": (
        "Too many event streams",
        "This user has http.max_event_streams_per_user live event streams open already (one per open booking"
        " page): close a page, or ask the operator to raise the setting.",
    ),
    "internal-error": ("Internal error", "Something failed on our side; quote the request_id when reporting it."),
    "storage-unavailable": (
        "Storage unavailable",
        "The service cannot save anything just now: its database cannot be written (the disk may be full,"
        " or the file read-only or locked by another program), so nothing was saved. Try again after the"
        " seconds in the Retry-After header; if it lasts, the operator should free disk space or check"
        " the database file (database.path).",
    ),
}
