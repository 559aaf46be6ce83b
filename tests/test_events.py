"""Telnyx webhook bodies parsed into events: the fields the call flow acts on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialajoke.telnyx.events import EventError, parse_event

from .webhooks import envelope


def parsed(event_type: str, **payload: Any) -> Any:
    return parse_event(json.dumps(envelope(event_type, **payload)).encode())


@pytest.mark.parametrize("digit", ["9", "0", "*", "#", "A"])
def test_a_key_pressed_is_read_from_a_dtmf_event(digit: str) -> None:
    event = parsed("call.dtmf.received", call_control_id="v3:c", digit=digit, to="+12025550106")

    assert (event.event_type, event.digit, event.to) == ("call.dtmf.received", digit, "+12025550106")


def test_an_event_without_a_key_has_none() -> None:
    assert parsed("call.speak.ended", status="completed").digit is None


def test_a_key_that_is_not_text_is_refused_naming_it() -> None:
    with pytest.raises(EventError) as refused:
        parsed("call.dtmf.received", digit=9)

    assert refused.value.pointer == "/data/payload/digit"
