"""A small client for the Telnyx Call Control v2 commands Dial-A-Joke sends.

It runs on the app's one ClientSession, authenticates with a Bearer API key, bounds
every request with a timeout, and turns Telnyx's ``{"errors": [...]}`` bodies into
:class:`TelnyxError` that say what went wrong. Reference: sections 1-4.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from tenacity import RetryCallState, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ..config import JOKE_TIME_LIMIT_S
from ..retries import RetryPolicy
from .voices import speak_fields

logger = logging.getLogger(__name__)

CALL_HAS_ENDED = "90018"
UNKNOWN_CALL = "90015"
RETRYABLE_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 60.0
MAX_RATE_LIMITED = 50
"""429s one command may meet before it gives up: they pause it, but not for ever."""
COMMAND_ID_WINDOW_S = 60.0
"""Telnyx ignores a repeated command_id for this long only (reference section 7): a command
sent again after that could be carried out twice, a dial become a second call."""
RejectCause = Literal["USER_BUSY", "CALL_REJECTED"]
"""What the caller of a rejected call is told: a busy line, or a declined call."""
COMMAND_RETRY_WINDOW_S = COMMAND_ID_WINDOW_S - 10.0
"""No retry of a command begins later than this after its first try: the margin covers the
request's own timeout and clocks that disagree."""


MAX_TITLE_CHARS = 200
MAX_DETAIL_CHARS = 500
MAX_CODE_CHARS = 20
"""How much of Telnyx's error text is kept: it goes into logs, the call's timeline and the page,
and an answer of any size (a proxy's HTML page, a misbehaving server) must not fill them."""


class TelnyxError(Exception):
    """Telnyx refused a command or could not be reached.

    :param status: the HTTP status, or None when no answer came back.
    :param code: Telnyx's error code (a string of digits), when it gave one.
    """

    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str = "",
        code: str = "",
        retry_after_s: float | None = None,
        *,
        outcome_unknown: bool = False,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.retry_after_s = retry_after_s
        self.outcome_unknown = outcome_unknown
        """True when Telnyx may have carried out the command: an answer was lost on the way."""
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"Telnyx answered {self.status}" if self.status else "Telnyx could not be reached"
        text = f"{where}: {self.title}"
        if self.detail and self.detail != self.title:
            text += f" ({self.detail})"
        return f"{text} [code {self.code}]" if self.code else text

    @property
    def call_has_ended(self) -> bool:
        """The callee is already gone: not a failure for speak or hangup (reference section 4)."""
        return self.code == CALL_HAS_ENDED

    @property
    def call_is_unknown(self) -> bool:
        """Telnyx does not know this call_control_id (any more)."""
        return self.code == UNKNOWN_CALL

    @property
    def is_retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES or self.status >= 500

    @property
    def is_rate_limit(self) -> bool:
        return self.status == 429


class WaitForRetryAfter(wait_base):
    """Wait as long as Telnyx's Retry-After says, else as ``backoff`` says.

    As Telnyx's SDK (reference section 1.4), the header counts only when it asks for
    more than nothing and at most a minute: ``Retry-After: 0`` (or a date gone by) would
    otherwise send every retry at once.
    """

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after_s = error.retry_after_s if isinstance(error, TelnyxError) else None
        if retry_after_s is not None and 0 < retry_after_s <= MAX_RETRY_AFTER_S:
            return retry_after_s
        return float(self.backoff(retry_state))


class _Tries(stop_base):
    """One command's tries so far, and when they are over.

    A try refused with a 429 does not use up an attempt (up to ``MAX_RATE_LIMITED`` such
    refusals), and a lost answer is remembered on every error that follows.
    """

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts
        self.rate_limited = 0
        self.outcome_unknown = False

    def note(self, error: TelnyxError) -> None:
        self.rate_limited += error.is_rate_limit
        self.outcome_unknown = error.outcome_unknown = self.outcome_unknown or error.outcome_unknown

    def __call__(self, retry_state: RetryCallState) -> bool:
        attempts = retry_state.attempt_number - self.rate_limited
        return attempts >= self.max_attempts or self.rate_limited > MAX_RATE_LIMITED


@dataclass(frozen=True)
class DialedCall:
    call_control_id: str


class TelnyxClient:
    """Call Control commands over an injected session.

    :param base_url: ``https://api.telnyx.com/v2``, or the embedded simulator's.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        timeout_s: float,
        retry: RetryPolicy | None = None,
        on_rate_limited: Callable[[float], None] | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        policy = retry or RetryPolicy()
        self._retry = dataclasses.replace(policy, max_elapsed_s=min(policy.max_elapsed_s, COMMAND_RETRY_WINDOW_S))
        self._on_rate_limited = on_rate_limited

    async def dial(
        self,
        *,
        to: str,
        from_: str,
        connection_id: str,
        webhook_url: str,
        client_state: str,
        command_id: str,
        timeout_secs: int,
    ) -> DialedCall:
        data = await self._post(
            "/calls",
            {
                "connection_id": connection_id,
                "to": to,
                "from": from_,
                "webhook_url": webhook_url,
                "webhook_url_method": "POST",
                "client_state": client_state,
                "command_id": command_id,
                "timeout_secs": timeout_secs,
                "time_limit_secs": JOKE_TIME_LIMIT_S,
            },
        )
        call_control_id = data.get("call_control_id")
        if not isinstance(call_control_id, str) or not call_control_id:
            # Telnyx accepted the dial, so the callee may be ringing: only webhooks can tell.
            detail = "no call_control_id in the response"
            raise TelnyxError(200, "Unexpected dial response", detail, outcome_unknown=True)
        return DialedCall(call_control_id)

    async def answer(self, call_control_id: str, *, client_state: str, command_id: str) -> None:
        await self._action(call_control_id, "answer", {"client_state": client_state, "command_id": command_id})

    async def speak(
        self,
        call_control_id: str,
        *,
        payload: str,
        voice: str,
        language: str,
        command_id: str,
        stop: Literal["current", "all"] | None = None,
    ) -> None:
        """Queue ``payload`` to be spoken, at the service level ``voice`` belongs to (see :mod:`.voices`).

        ``stop="current"`` ends the speech playing now, so that this one is heard next
        (``"all"`` also drops what is queued behind it), reference section 3.
        """
        body = {"payload": payload, **speak_fields(voice, language), "command_id": command_id}
        if stop is not None:
            body["stop"] = stop
        await self._action(call_control_id, "speak", body)

    async def hangup(self, call_control_id: str, *, command_id: str) -> None:
        await self._action(call_control_id, "hangup", {"command_id": command_id})

    async def reject(
        self, call_control_id: str, *, cause: RejectCause = "USER_BUSY", client_state: str, command_id: str
    ) -> None:
        """Turn away an incoming call not yet answered; Telnyx reports it ended by ``call.hangup``.

        It costs nothing, as an answered call would.
        """
        body = {"cause": cause, "client_state": client_state, "command_id": command_id}
        await self._action(call_control_id, "reject", body)

    async def _action(self, call_control_id: str, action: str, body: dict[str, Any]) -> None:
        """POST ``action`` to one call.

        :raises ValueError: ``call_control_id`` is empty: the command would address no call
            (``/calls//actions/...``), so it is a caller's mistake and nothing is sent.
        """
        if not call_control_id:
            raise ValueError(f"cannot {action} a call without a call_control_id")
        await self._post(f"/calls/{quote(call_control_id, safe='')}/actions/{action}", body)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries: connection errors, timeouts, 408/409/429 and 5xx; never other 4xx.

        Every try resends the same body, so the same ``command_id``: Telnyx ignores a
        repeat, and a retried dial is never a second call. A 429 does not use up an
        attempt: being asked to slow down is not a failure of the command. Every 429, the
        last one too, pauses the whole dialer through ``on_rate_limited``. The error
        raised in the end says whether any try may have been carried out
        (``outcome_unknown``): a refusal after a lost answer does not prove nothing happened.
        """
        tries = _Tries(self._retry.max_attempts)

        async def attempt() -> dict[str, Any]:
            try:
                return await self._post_once(path, body)
            except TelnyxError as exc:
                tries.note(exc)
                raise

        retrying = self._retry.retrying(
            retry_if_exception(_is_retryable),
            stop=self._retry.stop(attempts=tries),
            wait=WaitForRetryAfter(self._retry.backoff()),
            before_sleep=functools.partial(self._before_retry, path),
            retry_error_callback=self._give_up,
        )
        result: dict[str, Any] = await retrying(attempt)
        return result

    def _before_retry(self, path: str, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if not isinstance(error, TelnyxError):
            return
        delay_s = retry_state.upcoming_sleep
        logger.warning(
            "%s %s (attempt %d); retrying in %.2f s", path, error.describe(), retry_state.attempt_number, delay_s
        )
        self._slow_down_after(error, delay_s)

    def _give_up(self, retry_state: RetryCallState) -> Any:
        """Out of tries or time: raise the last error, after pausing the dialer if it was a 429.

        A 429 speaks for the whole account, not just this command: the next dial must wait
        even when this command waits no more.
        """
        outcome = retry_state.outcome
        if outcome is None:
            raise RuntimeError("tenacity gave up before any try")
        error = outcome.exception()
        if isinstance(error, TelnyxError):
            self._slow_down_after(error, retry_state.upcoming_sleep)
        return outcome.result()

    def _slow_down_after(self, error: TelnyxError, pause_s: float) -> None:
        if error.is_rate_limit and self._on_rate_limited is not None:
            self._on_rate_limited(pause_s)

    async def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self._base_url + path
        try:
            async with self._session.post(url, json=body, headers=self._headers, timeout=self._timeout) as response:
                if response.status >= 400:
                    raise await _error_from(response)
                document = await _json_of(response, path)
        except TimeoutError:
            detail = f"no answer from {path} within {self._timeout.total:g} s"
            raise TelnyxError(None, "Request timed out", detail, outcome_unknown=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise TelnyxError(None, "Connection failed", str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            detail = str(exc) or type(exc).__name__
            raise TelnyxError(None, "Connection lost", detail, outcome_unknown=True) from exc
        data = document.get("data") if isinstance(document, dict) else None
        return data if isinstance(data, dict) else {}


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, TelnyxError) and error.is_retryable


async def _json_of(response: aiohttp.ClientResponse, path: str) -> Any:
    """The body of a 2xx. Telnyx took the command, so unreadable JSON leaves its outcome unknown."""
    try:
        return await response.json(content_type=None)
    except ValueError:
        detail = f"{path} did not answer with JSON"
        raise TelnyxError(response.status, "Unexpected response", detail, outcome_unknown=True) from None


async def _error_from(response: aiohttp.ClientResponse) -> TelnyxError:
    text = await response.text(errors="replace")
    retry_after_s = _retry_after_s(response.headers.get("Retry-After"))
    try:
        first = json.loads(text)["errors"][0]
        title, detail, code = str(first.get("title", "")), str(first.get("detail", "")), str(first.get("code", ""))
    except (ValueError, AttributeError, IndexError, KeyError, TypeError):
        title, detail, code = response.reason or "Error", text, ""
    return TelnyxError(
        response.status,
        _clipped(title, MAX_TITLE_CHARS),
        _clipped(detail, MAX_DETAIL_CHARS),
        _clipped(code, MAX_CODE_CHARS),
        retry_after_s,
    )


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
