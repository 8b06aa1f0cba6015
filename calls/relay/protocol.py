"""ConversationRelay messages: what Twilio sends us, parsed and bounded; what we send, built valid.

Twilio drops an invalid message with error 64107 and the caller hears nothing, so every
outbound message is built here and nowhere else. Inbound frames are outside values: a frame
too large, not JSON, not an object, or of a type we do not know becomes :class:`Ignored`
(logged by the consumer) instead of an exception, and every string is cut to its column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from calls.webhook_params import CALL_SID_RE

# Twilio's frames are small (a prompt is a sentence or two); anything larger is not Twilio's.
MAX_FRAME_CHARS = 64_000
# What one prompt may store: the same bound as a <Gather> SpeechResult.
PROMPT_MAX_CHARS = 2000
PARAMETER_MAX = 20
_SHORT = 64
_DTMF = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class Setup:
    call_sid: str
    from_number: str = ""
    to_number: str = ""
    direction: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    text: str
    last: bool = True
    lang: str = ""
    cut: bool = False  # longer than PROMPT_MAX_CHARS: only the start is kept


@dataclass(frozen=True)
class Interrupt:
    heard: str  # utteranceUntilInterrupt: what the caller heard of the agent's turn
    duration_ms: int | None = None


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class RelayError:
    description: str


@dataclass(frozen=True)
class Ignored:
    reason: str


Message = Setup | Prompt | Interrupt | Dtmf | RelayError | Ignored


def parse(frame: str | bytes | None) -> Message:
    """One frame from Twilio as a value; never raises."""
    if frame is None:
        return Ignored("empty frame")
    if len(frame) > MAX_FRAME_CHARS:
        return Ignored(f"frame of {len(frame)} characters")
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return Ignored("not JSON")
    if not isinstance(data, dict):
        return Ignored("not a JSON object")
    kind = data.get("type")
    if kind == "setup":
        call_sid = _text(data.get("callSid"), _SHORT)
        if not CALL_SID_RE.fullmatch(call_sid):
            return Ignored("setup without a valid callSid")
        raw = data.get("customParameters")
        parameters = (
            {_text(k, _SHORT): _text(v, 200) for k, v in list(raw.items())[:PARAMETER_MAX]}
            if isinstance(raw, dict)
            else {}
        )
        return Setup(
            call_sid=call_sid,
            from_number=_text(data.get("from"), 32),
            to_number=_text(data.get("to"), 32),
            direction=_text(data.get("direction"), 32),
            parameters=parameters,
        )
    if kind == "prompt":
        raw_text = data.get("voicePrompt")
        if not isinstance(raw_text, str):
            return Ignored("prompt without voicePrompt")
        text = " ".join(raw_text.split())
        return Prompt(
            text=text[:PROMPT_MAX_CHARS],
            last=data.get("last") is not False,  # absent means final
            lang=_text(data.get("lang"), 16),
            cut=len(text) > PROMPT_MAX_CHARS,
        )
    if kind == "interrupt":
        return Interrupt(
            heard=_text(data.get("utteranceUntilInterrupt"), 4000),
            duration_ms=_milliseconds(data.get("durationUntilInterruptMs")),
        )
    if kind == "dtmf":
        digit = _text(data.get("digit"), 1)
        return Dtmf(digit) if digit in _DTMF and digit else Ignored("dtmf without a key")
    if kind == "error":
        return RelayError(_text(data.get("description"), 500))
    return Ignored(f"unknown type {_text(kind, 32)!r}")


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _milliseconds(value: object) -> int | None:
    """Twilio sends the duration as a number or, at times, as a string of one."""
    if isinstance(value, bool):
        return None
    try:
        number = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= 24 * 3600 * 1000 else None


# --- what we send -----------------------------------------------------------------------------


def text_token(token: str, *, last: bool) -> str:
    """A piece of the reply for Twilio to speak; ``last`` closes the agent's turn."""
    if not isinstance(token, str):
        raise TypeError("a text token must be a string")
    return json.dumps({"type": "text", "token": token, "last": bool(last)})


def end_session(handoff: dict[str, str]) -> str:
    """End the ConversationRelay session; Twilio posts ``handoffData`` (a JSON *string*) to the
    ``<Connect action>`` URL and continues with the TwiML it answers."""
    return json.dumps({"type": "end", "handoffData": json.dumps(handoff)})
