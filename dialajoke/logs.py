"""How the service's log lines are written: one format, and phone numbers masked.

A log is read by more people, and kept longer, than the calls table: the operator's
terminal, a log collector, a bug report. The people the service rings never agreed to be
in any of those, so every phone number in a line is masked before it is written,
whichever module wrote it, including the service's own number and numbers quoted in a
library's messages. Enough is kept to tell numbers apart when following one call.
"""

from __future__ import annotations

import logging
import re
import traceback

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
E164_NUMBER = re.compile(r"(?<![\w+])\+[1-9]\d{6,14}(?!\d)")
"""A number as the service stores and sends it: + and 7 to 15 digits."""
MASK = "****"


def mask_number(number: str) -> str:
    """``+12025550142`` -> ``+1202555****42``: the country and the start, then the last two digits.

    The mask is always four stars, whatever it hides, so a masked line does not tell how
    long the number is; at least two digits are always hidden.
    """
    kept_at_start = max(1, min(8, len(number) - 4))
    return number[:kept_at_start] + MASK + number[-2:]


def mask_numbers(text: str) -> str:
    """``text`` with every E.164 number in it masked."""
    return E164_NUMBER.sub(lambda match: mask_number(match.group()), text)


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


def configure_logging(level: str) -> None:
    """The service's logging: ``level`` and above, one line each, phone numbers masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskPhoneNumbers())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # aiohttp-session warns of every cookie it cannot decrypt: an old or forged cookie is the
    # client's business (it is treated as no sign-in), and anyone could fill the log with them.
    logging.getLogger("aiohttp_session").setLevel(logging.ERROR)
