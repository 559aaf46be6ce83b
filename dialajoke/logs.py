"""How the service's log lines are written: one format, and phone numbers masked.

A log is read by more people, and kept longer, than the calls table: the operator's
terminal, a log collector, a bug report. The people the service rings never agreed to be
in any of those, so every phone number in a line is masked before it is written,
whichever module wrote it, including the service's own number and numbers quoted in a
library's messages. Enough is kept to tell numbers apart when following one call.

Each line also says which request and which call it is about, so that one request's or
one call's story can be picked out of a busy log: the web layer and the call flow set
them in context variables, and every line written meanwhile carries them. Lines are
written for a person (``console``) or one JSON object each for a log collector (``json``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"
"""The console line; ``context`` is `` [req ID]`` and `` [call ID]``, each when known."""
MASK = "****"
NOT_MASKED_YET = r"(?!\d|\*{4}\d\d)"
"""What follows a number that is whole: neither more digits nor the rest of a mask (``****42``)."""
E164_NUMBER = re.compile(rf"(?<![\w+])\+[1-9]\d{{6,14}}{NOT_MASKED_YET}")
"""A number as the service stores and sends it: + and 7 to 15 digits (and not the start of one masked)."""
LOGGED_NUMBER = re.compile(rf"(?<![\w+%])(?:\+|%2[Bb])[1-9]\d{{6,14}}{NOT_MASKED_YET}")
"""What is masked in a log line: an E.164 number, also with its + percent-encoded, as a URL in an
access-log line carries it (``/do-not-call/%2B12025550142/remove``)."""


def mask_number(number: str) -> str:
    """``+12025550142`` -> ``+1202555****42``: the country and the start, then the last two digits.

    The mask is always four stars, whatever it hides, so a masked line does not tell how
    long the number is; at least two digits are always hidden.
    """
    kept_at_start = max(1, min(8, len(number) - 4))
    return number[:kept_at_start] + MASK + number[-2:]


def mask_numbers(text: str) -> str:
    """``text`` with every E.164 number in it masked, its + written or percent-encoded."""
    return LOGGED_NUMBER.sub(lambda match: mask_number(match.group()), text)


class MaskPhoneNumbers(logging.Filter):
    """Masks phone numbers in a record's message, its arguments and its traceback, before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed call: logging's own error report says so, as without this filter
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_numbers("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return True


request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the HTTP request being answered, set by the web layer's request-id middleware."""
call_id: ContextVar[int | None] = ContextVar("call_id", default=None)
"""The id of the call being worked on, set around each piece of work on one call."""


@contextmanager
def about_call(call: int) -> Iterator[None]:
    """Every line logged inside the block, by whatever module, carries ``call`` as its call id."""
    token = call_id.set(call)
    try:
        yield
    finally:
        call_id.reset(token)


_Self = TypeVar("_Self")
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def logs_about_its_call(
    method: Callable[Concatenate[_Self, int, _Params], Coroutine[Any, Any, _Result]],
) -> Callable[Concatenate[_Self, int, _Params], Coroutine[Any, Any, _Result]]:
    """An async method whose first argument is a call id logs every line with that call id."""

    @functools.wraps(method)
    async def with_call_id(self: _Self, call: int, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        with about_call(call):
            return await method(self, call, *args, **kwargs)

    return with_call_id


class AddContext(logging.Filter):
    """Gives a record the request id and call id in effect where it was logged.

    An id passed by hand (``extra={"request_id": ...}``, as the access log does once the
    request's own context is gone) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.__dict__.get("request_id")
        if request is None:
            record.request_id = request = request_id.get()
        call = record.__dict__.get("call_id")
        if call is None:
            record.call_id = call = call_id.get()
        tags = []
        if request is not None:
            tags.append(f" [req {request}]")
        if call is not None:
            tags.append(f" [call {call}]")
        record.context = "".join(tags)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, and the ids when known.

    Phone numbers are masked in the whole line, whichever field they came in by.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "call_id"):
            if (value := getattr(record, key, None)) is not None:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return mask_numbers(json.dumps(entry, ensure_ascii=False, default=str))


class ConsoleFormatter(logging.Formatter):
    """A line for a person to read; phone numbers are masked in the whole line, as in JSON."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_numbers(super().format(record))


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter ``log_format`` names; ``auto``: console when stderr is a terminal, where a person reads it."""
    if log_format == "auto":
        log_format = "console" if sys.stderr.isatty() else "json"
    return JsonFormatter() if log_format == "json" else ConsoleFormatter(LOG_FORMAT)


def configure_logging(level: str, log_format: str = "console") -> None:
    """The service's logging: ``level`` and above, one line each, with its ids, phone numbers masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(MaskPhoneNumbers())
    handler.addFilter(AddContext())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # aiohttp-session warns of every cookie it cannot decrypt: an old or forged cookie is the
    # client's business (it is treated as no sign-in), and anyone could fill the log with them.
    logging.getLogger("aiohttp_session").setLevel(logging.ERROR)
