"""TwiML documents, read back with an XML parser the way Twilio reads them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from integrations.twilio.twiml import (
    DEFAULT_APOLOGY,
    polite_error,
    say_and_dial,
    say_and_gather,
    say_and_hangup,
    voice_for,
    voicemail,
)

VOICE = "Polly.Joanna-Neural"
ACTION = "https://example.com/hooks/agt_1/turn?session=42&x=1"
TRICKY = "Tom & Jerry <3 \"quotes\" 'apostrophes' ]]>"


def parse(document: str) -> ET.Element:
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def test_say_and_gather_listens_for_speech_and_sends_silence_back_to_the_engine() -> None:
    root = parse(say_and_gather(TRICKY, voice=VOICE, language="en-US", action_url=ACTION, timeout_s=7))

    assert verbs(root) == ["Gather", "Redirect"]
    gather, redirect = root
    assert gather.attrib == {
        "input": "speech",
        "action": ACTION,
        "method": "POST",
        "timeout": "7",
        "speechTimeout": "auto",
        "language": "en-US",
    }
    [say] = gather
    assert say.tag == "Say"
    assert say.text == TRICKY
    assert say.attrib == {"voice": VOICE, "language": "en-US"}
    assert redirect.text == ACTION
    assert redirect.attrib == {"method": "POST"}


def test_special_characters_are_escaped_not_interpreted() -> None:
    document = say_and_hangup(TRICKY, voice=VOICE, language="en-US")

    assert "Tom &amp; Jerry &lt;3" in document
    assert parse(document)[0].text == TRICKY


def test_say_and_hangup() -> None:
    root = parse(say_and_hangup("Goodbye!", voice="Polly.Amy-Neural", language="en-GB"))

    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == "Goodbye!"
    assert root[0].attrib == {"voice": "Polly.Amy-Neural", "language": "en-GB"}


def test_say_and_dial_transfers_with_the_agents_caller_id() -> None:
    root = parse(
        say_and_dial("Connecting you now.", "+14155550199", voice=VOICE, language="en-US", caller_id="+14155550100")
    )

    assert verbs(root) == ["Say", "Dial"]
    dial = root[1]
    assert dial.text == "+14155550199"
    assert dial.attrib == {"callerId": "+14155550100"}


def test_say_and_dial_reports_the_outcome_when_asked() -> None:
    root = parse(say_and_dial("One moment.", "+14155550199", voice=VOICE, language="en-US", action_url=ACTION))

    assert root[1].attrib == {"action": ACTION, "method": "POST"}


def test_voicemail_says_the_message_and_hangs_up() -> None:
    root = parse(voicemail("Hi, this is Acme. Call us back at 555-0100.", voice=VOICE, language="en-US"))

    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == "Hi, this is Acme. Call us back at 555-0100."


def test_polite_error_apologises_and_ends_the_call() -> None:
    root = parse(polite_error())

    assert verbs(root) == ["Say", "Hangup"]
    assert root[0].text == DEFAULT_APOLOGY
    assert root[0].attrib["voice"].startswith("Polly.")
    assert parse(polite_error("Sorry & goodbye."))[0].text == "Sorry & goodbye."


def test_a_blank_language_is_left_out_rather_than_sent_empty() -> None:
    root = parse(say_and_hangup("Hi", voice="alice", language=""))

    assert root[0].attrib == {"voice": "alice"}


@pytest.mark.parametrize(
    ("voice_model", "language", "expected"),
    [
        ("Polly.Brian", "en-GB", "Polly.Brian"),
        ("Google.en-US-Neural2-A", "en-US", "Google.en-US-Neural2-A"),
        ("alice", "en-US", "alice"),
        ("en-US-female-1", "en-US", "Polly.Joanna-Neural"),
        ("en-US-male-1", "en-US", "Polly.Matthew-Neural"),
        ("en-US-female-2", "en-US", "Polly.Salli-Neural"),
        ("en-GB-female-1", "en-GB", "Polly.Amy-Neural"),
        ("en-GB-male-1", "en-GB", "Polly.Brian-Neural"),
        ("es-ES-male-1", "es-ES", "Polly.Sergio-Neural"),
        ("en-us-FEMALE-1", "en-US", "Polly.Joanna-Neural"),
        ("en-AU-male-1", "en-AU", "Polly.Olivia-Neural"),  # no male neural voice: keep the accent
        ("en-US-female-7", "en-US", "Polly.Joanna-Neural"),  # wraps around instead of failing
    ],
)
def test_voice_for_maps_aliases_and_passes_twilio_names_through(voice_model: str, language: str, expected: str) -> None:
    assert voice_for(voice_model, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en-US", "Polly.Joanna-Neural"),
        ("fr-FR", "Polly.Lea-Neural"),
        ("de_de", "Polly.Vicki-Neural"),
        ("es", "Polly.Lupe-Neural"),
        ("es-AR", "Polly.Lupe-Neural"),
        ("xx-YY", "Polly.Joanna-Neural"),
        ("", "Polly.Joanna-Neural"),
    ],
)
def test_unknown_voice_models_fall_back_to_a_neural_voice_of_the_language(language: str, expected: str) -> None:
    assert voice_for("robot-3000", language) == expected
    assert voice_for("", language) == expected
