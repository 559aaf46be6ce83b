"""Voices as Telnyx documents them: the speak body, and a voice start-up refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialajoke import keys
from dialajoke.app import create_app
from dialajoke.config import ConfigError
from dialajoke.telnyx.voices import PROVIDERS, service_level_for, speak_fields, speak_problems

from .service import service_config
from .test_main import run_main


@pytest.mark.parametrize("voice", ["female", "male"])
def test_a_gender_voice_is_spoken_at_the_basic_level_in_en_us_text(voice: str) -> None:
    fields = speak_fields(voice, "en-US")

    assert fields == {"voice": voice, "language": "en-US", "service_level": "basic", "payload_type": "text"}
    assert speak_problems(fields["voice"], fields["language"], fields["service_level"], fields["payload_type"]) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_the_reference_lists_is_a_premium_voice(provider: str) -> None:
    voice = f"{provider}.SomeVoice"

    assert service_level_for(voice) == "premium"
    assert speak_problems(voice, "en-GB", "premium", api_key_ref=True) == []
    assert speak_problems(provider, api_key_ref=True) == []


def test_a_name_that_only_starts_like_a_provider_is_not_a_voice() -> None:
    [problem] = speak_problems("Telnyxish.voice")

    assert problem.field == "voice"


@pytest.mark.parametrize(
    ("voice", "language"),
    [("female", "en-US"), ("male", "en-US"), ("AWS.Polly.Celine", "fr-FR"), ("Telnyx.KokoroTTS.af", "en-GB")],
)
def test_start_up_takes_a_voice_and_language_telnyx_speaks(database: Path, voice: str, language: str) -> None:
    config = service_config(database)
    telnyx = config.telnyx.model_copy(update={"voice": voice, "language": language})

    app = create_app(config.model_copy(update={"telnyx": telnyx}))

    assert app[keys.CONFIG].telnyx.voice == voice


@pytest.mark.parametrize(
    ("voice", "language", "message"),
    [
        ("female", "fr-FR", "telnyx.language must be en-US with the voice 'female'"),
        (
            "Azure.en-US-JennyNeural",
            "Klingon",
            "telnyx.language 'Klingon' is not a language Telnyx speaks: arb, cmn-CN",
        ),
        ("robot", "en-US", "telnyx.voice 'robot' is not a Telnyx voice: use male or female, or <provider>.<voice>"),
        ("ElevenLabs.eleven_multilingual_v2.Rachel", "en-US", "telnyx.voice 'ElevenLabs.eleven_multilingual_v2"),
    ],
)
def test_start_up_refuses_a_voice_and_language_telnyx_would_not_speak(
    database: Path, voice: str, language: str, message: str
) -> None:
    config = service_config(database)
    telnyx = config.telnyx.model_copy(update={"voice": voice, "language": language})

    with pytest.raises(ConfigError) as raised:
        create_app(config.model_copy(update={"telnyx": telnyx}))

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_python_m_dialajoke_stops_on_a_wrong_voice_with_one_line_naming_the_key() -> None:
    env = {"DIALAJOKE_TELNYX__LANGUAGE": "de-DE", "PATH": "/usr/bin:/bin"}

    result = run_main("--config", "config.dev.json", env=env)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dialajoke: configuration error: telnyx.language must be en-US with the voice 'female'")


def test_a_polly_voice_carries_its_own_language_so_any_language_setting_is_accepted() -> None:
    """Telnyx ignores language for Polly voices (reference section 3): no reason to refuse one."""
    assert speak_problems("AWS.Polly.Aria-Neural", "en-NZ") == []
    assert speak_problems("Azure.en-NZ-MollyNeural", "en-NZ") != []
