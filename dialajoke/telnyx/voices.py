"""Which voice, language and service level a Telnyx speak command may pair (reference section 3).

The gender voices ``male`` and ``female`` belong to the ``basic`` service level, which
speaks only ``en-US`` text. Provider voices (``AWS.Polly.Joanna``, ``Azure.<voice>``,
``Telnyx.<model>.<voice>``, ...) belong to ``premium``, Telnyx's default. The client
builds its speak body from these rules, the simulator refuses a speak that breaks them,
and start-up refuses a ``telnyx.voice`` and ``telnyx.language`` that could never be
spoken. Pure: it imports nothing of the service.
"""

from __future__ import annotations

from typing import NamedTuple

BASIC = "basic"
PREMIUM = "premium"
SERVICE_LEVELS = frozenset({BASIC, PREMIUM})
PAYLOAD_TYPES = frozenset({"text", "ssml"})
GENDER_VOICES = frozenset({"male", "female"})
BASIC_LANGUAGE = "en-US"
BASIC_PAYLOAD_TYPE = "text"
PROVIDERS = (
    "AWS.Polly",
    "Azure",
    "Telnyx",
    "ElevenLabs",
    "Minimax",
    "Resemble",
    "Inworld",
    "FishAudio",
    "Soniox",
    "xAI",
    "Humain",
)
"""A provider voice is ``<provider>.<voice>``, or the provider alone for its default voice."""
NEEDS_API_KEY_REF = frozenset({"ElevenLabs"})
"""Providers Telnyx speaks with only given ``voice_settings.api_key_ref`` (a key of the caller's own)."""
IGNORE_LANGUAGE = frozenset({"AWS.Polly"})
"""Providers whose voices carry their own language: Telnyx ignores ``language`` with them."""
LANGUAGES = frozenset(
    {
        "arb", "cmn-CN", "cy-GB", "da-DK", "de-DE", "en-AU", "en-GB", "en-GB-WLS", "en-IN", "en-US",
        "es-ES", "es-MX", "es-US", "fr-CA", "fr-FR", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR",
        "nb-NO", "nl-NL", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sv-SE", "tr-TR",
    }
)  # fmt: skip


class SpeakProblem(NamedTuple):
    """Why Telnyx would refuse a speak: the field at fault and what is wrong with it."""

    field: str
    detail: str


def provider_of(voice: str) -> str | None:
    """The provider a voice belongs to, or None for a gender voice or an unknown one."""
    return next((name for name in PROVIDERS if voice == name or voice.startswith(name + ".")), None)


def service_level_for(voice: str) -> str:
    """``basic`` for a gender voice, ``premium`` for any other."""
    return BASIC if voice in GENDER_VOICES else PREMIUM


def speak_fields(voice: str, language: str) -> dict[str, str]:
    """The voice fields of a speak body, with the service level the voice belongs to."""
    return {
        "voice": voice,
        "language": language,
        "service_level": service_level_for(voice),
        "payload_type": BASIC_PAYLOAD_TYPE,
    }


def speak_problems(
    voice: str,
    language: str | None = None,
    service_level: str | None = None,
    payload_type: str | None = None,
    *,
    api_key_ref: bool = False,
) -> list[SpeakProblem]:
    """What Telnyx would refuse in a speak with these fields; empty when it would speak.

    Absent optional fields take Telnyx's defaults (``premium``, ``text``); ``api_key_ref``
    says whether ``voice_settings.api_key_ref`` comes with the voice.
    """
    problems = []
    if language is not None and language not in LANGUAGES and provider_of(voice) not in IGNORE_LANGUAGE:
        problems.append(SpeakProblem("language", f"{language!r} is not a language Telnyx speaks: {_languages()}"))
    if service_level is not None and service_level not in SERVICE_LEVELS:
        problems.append(SpeakProblem("service_level", f"{service_level!r} is neither {BASIC} nor {PREMIUM}"))
    if payload_type is not None and payload_type not in PAYLOAD_TYPES:
        problems.append(SpeakProblem("payload_type", f"{payload_type!r} is neither text nor ssml"))
    if problems:
        return problems
    if (service_level or PREMIUM) == BASIC:
        return _basic_problems(voice, language, payload_type)
    return _premium_problems(voice, api_key_ref)


def _basic_problems(voice: str, language: str | None, payload_type: str | None) -> list[SpeakProblem]:
    if voice not in GENDER_VOICES:
        return [SpeakProblem("voice", f"{voice!r} is not male or female, the only voices of the basic service level")]
    problems = []
    if language not in (None, BASIC_LANGUAGE):
        detail = (
            f"must be {BASIC_LANGUAGE} with the voice {voice!r}: the basic service level of the male and female"
            f" voices speaks only {BASIC_LANGUAGE}; for {language} choose a provider voice such as AWS.Polly.<voice>"
        )
        problems.append(SpeakProblem("language", detail))
    if payload_type not in (None, BASIC_PAYLOAD_TYPE):
        problems.append(SpeakProblem("payload_type", "must be text at the basic service level"))
    return problems


def _premium_problems(voice: str, api_key_ref: bool) -> list[SpeakProblem]:
    if voice in GENDER_VOICES:
        detail = f"{voice!r} is a voice of the basic service level: send service_level basic with it"
        return [SpeakProblem("voice", detail)]
    provider = provider_of(voice)
    if provider is None:
        detail = (
            f"{voice!r} is not a Telnyx voice: use male or female, or <provider>.<voice> with a provider of"
            f" {', '.join(PROVIDERS)} (e.g. AWS.Polly.Joanna)"
        )
        return [SpeakProblem("voice", detail)]
    if provider in NEEDS_API_KEY_REF and not api_key_ref:
        detail = f"{voice!r} needs voice_settings.api_key_ref, which Dial-A-Joke does not send: choose another provider"
        return [SpeakProblem("voice", detail)]
    return []


def _languages() -> str:
    return ", ".join(sorted(LANGUAGES))
