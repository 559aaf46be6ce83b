"""What the service says about opting out, and who opted out: the "press 9" offer. Pure.

Every joke ends with the offer, so whoever hears one can stop the calls for good with a
single key, wherever in the joke they are. The offer rides on the joke's own ``speak``
(one command, one queue entry), so the joke is shortened to leave it room within
Telnyx's limit on a payload.
"""

from __future__ import annotations

import phonenumbers

from ..models import Call, Direction
from .jokes import MAX_SPEAK_CHARS, fit_for_speech

OPT_OUT_DIGIT = "9"
OUTBOUND_OFFER = "Press 9 at any time to never be called by this service again."
INBOUND_OFFER = "Press 9 at any time and this service will never call your number."
CONFIRMATION = "You will not be called by this service again. Goodbye."
OPTED_OUT = "opted out:"
"""How the timeline entry of an opt-out begins: a call that has one is not opted out again."""


def offer_for(direction: Direction) -> str:
    """A callee is offered never to be called again; a caller, that their number never will be."""
    return OUTBOUND_OFFER if direction is Direction.OUTBOUND else INBOUND_OFFER


def fit_joke(joke: str, direction: Direction) -> str:
    """The joke, shortened if need be so that it and its offer fit one speak."""
    return fit_for_speech(joke, MAX_SPEAK_CHARS - len(offer_for(direction)) - 1)


def with_offer(joke: str, direction: Direction) -> str:
    """What the callee hears: the joke (as :func:`fit_joke` leaves it), then the offer."""
    return f"{joke} {offer_for(direction)}"


def number_opting_out(call: Call) -> str:
    """The number that pressed 9: the callee of a call we placed, the caller of one we took."""
    return call.to if call.direction is Direction.OUTBOUND else call.from_


def dialable(number: str) -> str | None:
    """The number in E.164, as the list and every booking keep it; None for one that names no phone.

    A caller's number comes from Telnyx as the network gave it, not as a booking checked it.
    """
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def opted_out_by(call: Call) -> str:
    """Who put the number on the do-not-call list, in words for the list."""
    return f"{_person(call)}, pressing {OPT_OUT_DIGIT} on call {call.id}"


def opt_out_note(call: Call, *, cancelled: int) -> str:
    """The opt-out on the call's timeline, with the pending calls to the number that it cancelled."""
    pending = f"; {cancelled} pending call{'s' if cancelled > 1 else ''} to the number cancelled" if cancelled else ""
    return f"{OPTED_OUT} {_person(call)} pressed {OPT_OUT_DIGIT}; the number is on the do-not-call list{pending}"


def _person(call: Call) -> str:
    return "the callee" if call.direction is Direction.OUTBOUND else "the caller"
