"""Dial-A-Joke: schedule a phone call that tells a joke, over Telnyx Call Control v2."""

__version__ = "0.1.0"
