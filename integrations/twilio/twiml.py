"""TwiML documents the webhooks answer with, built only with the SDK's ``VoiceResponse``.

The SDK escapes text and attributes (an LLM reply may contain ``&`` or ``<``), so nothing here
formats XML by hand. Each function returns a complete document as a string.
"""

from __future__ import annotations

import re

from twilio.twiml.voice_response import VoiceResponse

DEFAULT_VOICE = "Polly.Joanna-Neural"
DEFAULT_LANGUAGE = "en-US"
DEFAULT_APOLOGY = (
    "We're sorry, something went wrong on our side and we can't continue this call right now. "
    "Please try again later. Goodbye."
)

# Names Twilio's <Say> accepts as they are.
_BASIC_VOICES = frozenset({"alice", "man", "woman"})
_PROVIDER_PREFIXES = ("Polly.", "Google.")

# Amazon Polly neural voices by locale, (female voices, male voices), best-known first.
_NEURAL_VOICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en-US": (("Joanna", "Salli", "Kendra", "Kimberly", "Ruth", "Danielle"), ("Matthew", "Joey", "Stephen", "Gregory")),
    "en-GB": (("Amy", "Emma"), ("Brian", "Arthur")),
    "en-AU": (("Olivia",), ()),
    "en-IN": (("Kajal",), ()),
    "en-IE": (("Niamh",), ()),
    "en-NZ": (("Aria",), ()),
    "en-ZA": (("Ayanda",), ()),
    "es-ES": (("Lucia",), ("Sergio",)),
    "es-MX": (("Mia",), ("Andres",)),
    "es-US": (("Lupe",), ("Pedro",)),
    "fr-FR": (("Lea",), ("Remi",)),
    "fr-CA": (("Gabrielle",), ("Liam",)),
    "de-DE": (("Vicki",), ("Daniel",)),
    "it-IT": (("Bianca",), ("Adriano",)),
    "pt-BR": (("Camila",), ("Thiago",)),
    "pt-PT": (("Ines",), ()),
    "nl-NL": (("Laura",), ()),
    "ja-JP": (("Kazuha", "Tomoko"), ("Takumi",)),
}
# The locale to use when only the language is known ("es" -> "es-US").
_DEFAULT_LOCALE = {
    "en": "en-US",
    "es": "es-US",
    "fr": "fr-FR",
    "de": "de-DE",
    "it": "it-IT",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "ja": "ja-JP",
}

# The seed's voice aliases: "<locale>-<female|male>-<n>", e.g. "en-US-female-1".
_ALIAS = re.compile(r"^(?P<lang>[a-z]{2})-(?P<region>[A-Za-z]{2})-(?P<gender>female|male)-(?P<n>\d+)$", re.IGNORECASE)


def supported_voices() -> list[tuple[str, str, str]]:
    """Every voice ``voice_for`` knows, as ``(voice name, locale, gender)``, by locale then name."""
    return [
        (_polly(name), locale, gender)
        for locale, (female, male) in sorted(_NEURAL_VOICES.items())
        for gender, names in (("female", female), ("male", male))
        for name in names
    ]


def voice_for(voice_model: str, language: str) -> str:
    """The ``<Say voice=...>`` name for an agent's ``voice_model``.

    Names Twilio accepts ("Polly.*", "Google.*", "alice", "man", "woman") pass through. The
    seed's aliases ("en-US-female-1") map to Polly neural voices, the n-th voice of that locale
    and gender. Anything else gets a neural voice that speaks ``language``, because a voice of
    the wrong language reads the agent's words with the wrong pronunciation.
    """
    name = (voice_model or "").strip()
    if name.startswith(_PROVIDER_PREFIXES) or name in _BASIC_VOICES:
        return name
    match = _ALIAS.match(name)
    if match:
        locale = _locale(f"{match['lang']}-{match['region']}")
        if locale:
            female, male = _NEURAL_VOICES[locale]
            voices = (male or female) if match["gender"].lower() == "male" else (female or male)
            return _polly(voices[(int(match["n"]) - 1) % len(voices)])
    locale = _locale(language) or DEFAULT_LANGUAGE
    female, male = _NEURAL_VOICES[locale]
    return _polly((female or male)[0])


def say_and_gather(text: str, *, voice: str, language: str, action_url: str, timeout_s: int = 5) -> str:
    """Say ``text`` and listen for the caller's answer, which Twilio posts to ``action_url``.

    The ``<Say>`` sits inside the ``<Gather>`` so the caller may interrupt the agent. When the
    caller stays silent, Twilio moves past the ``<Gather>`` without calling ``action_url`` and
    would hang up at the end of the document; the ``<Redirect>`` sends that turn to the engine
    instead, as a POST with no ``SpeechResult``, so the engine (which counts silences on the
    session) can prompt again or end the call politely. A redirect rather than
    ``actionOnEmptyResult`` keeps the silence path visible in the document and easy for the
    simulated phone to follow.
    """
    response = VoiceResponse()
    gather = response.gather(
        input="speech",
        action=action_url,
        method="POST",
        timeout=timeout_s,
        speech_timeout="auto",
        language=language or DEFAULT_LANGUAGE,
    )
    gather.say(text, voice=voice, language=language or None)
    response.redirect(action_url, method="POST")
    return response.to_xml()


def say_and_hangup(text: str, *, voice: str, language: str) -> str:
    """Say goodbye and end the call, so the line is never left open in silence."""
    response = VoiceResponse()
    response.say(text, voice=voice, language=language or None)
    response.hangup()
    return response.to_xml()


def say_and_dial(
    text: str,
    number: str,
    *,
    voice: str,
    language: str,
    caller_id: str | None = None,
    action_url: str | None = None,
) -> str:
    """Tell the caller they are being transferred, then connect them to ``number``.

    ``caller_id`` must be a number of the account (usually the agent's). Without ``action_url``
    the call ends when the transfer ends (answered or not); with it, Twilio posts the dial
    outcome there so the engine can take over if nobody picked up.
    """
    response = VoiceResponse()
    response.say(text, voice=voice, language=language or None)
    response.dial(number, caller_id=caller_id, action=action_url, method="POST" if action_url else None)
    return response.to_xml()


def voicemail(text: str, *, voice: str, language: str) -> str:
    """Leave ``text`` on an answering machine (sent after the beep) and hang up."""
    return say_and_hangup(text, voice=voice, language=language)


def polite_error(text: str = DEFAULT_APOLOGY, *, voice: str = DEFAULT_VOICE, language: str = DEFAULT_LANGUAGE) -> str:
    """Valid TwiML that apologises and ends the call: what a webhook answers instead of a 500,
    which Twilio would read to the caller as "an application error has occurred"."""
    return say_and_hangup(text, voice=voice, language=language)


def _locale(language: str) -> str | None:
    """Our table's key for ``language`` ("en-gb" -> "en-GB", "es" -> "es-US"), if we know it."""
    lang, _, region = (language or "").strip().replace("_", "-").partition("-")
    candidate = f"{lang.lower()}-{region.upper()}"
    if candidate in _NEURAL_VOICES:
        return candidate
    return _DEFAULT_LOCALE.get(lang.lower())


def _polly(name: str) -> str:
    return f"Polly.{name}-Neural"


def relay_voice(voice: str) -> tuple[str, str]:
    """``(ttsProvider, voice)`` for ConversationRelay from a ``<Say>`` voice name.

    ``<Say>`` names the engine in the voice ("Polly.Joanna-Neural"); ConversationRelay takes the
    provider and the voice apart ("Amazon", "Joanna-Neural"). A basic voice ("alice") has no
    ConversationRelay equivalent: both come back blank and Twilio uses its default voice.
    """
    for prefix, provider in (("Polly.", "Amazon"), ("Google.", "Google")):
        if voice.startswith(prefix):
            return provider, voice.removeprefix(prefix)
    return "", ""


def connect_conversation_relay(
    *,
    relay_url: str,
    action_url: str,
    greeting: str,
    voice: str,
    language: str,
    parameters: dict[str, str],
) -> str:
    """Hand the call to a ConversationRelay socket at ``relay_url``, greeting the caller first.

    Twilio speaks ``greeting``, then sends the caller's words to the socket and speaks the text
    it streams back; the caller may talk over the agent (``interruptible``) and press keys
    (``dtmfDetection``). When the socket sends ``end`` (or the session fails) Twilio posts to
    ``action_url`` and continues with the TwiML answered there. ``parameters`` reach the socket
    in its ``setup`` message.
    """
    tts_provider, relay_voice_name = relay_voice(voice)
    response = VoiceResponse()
    connect = response.connect(action=action_url, method="POST")
    relay = connect.conversation_relay(
        url=relay_url,
        welcome_greeting=greeting,
        welcome_greeting_interruptible="speech",
        language=language or DEFAULT_LANGUAGE,
        tts_provider=tts_provider or None,
        voice=relay_voice_name or None,
        interruptible="speech",
        dtmf_detection=True,
    )
    for name, value in parameters.items():
        relay.parameter(name=name, value=value)
    return response.to_xml()


def dial(number: str, *, caller_id: str | None = None) -> str:
    """Connect the caller to ``number`` (a transfer whose announcement was already spoken)."""
    response = VoiceResponse()
    response.dial(number, caller_id=caller_id)
    return response.to_xml()


def hangup() -> str:
    """End the call now (the goodbye was already spoken)."""
    response = VoiceResponse()
    response.hangup()
    return response.to_xml()
