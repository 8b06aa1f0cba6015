"""What Twilio posts to our webhooks, parsed into one frozen value.

Twilio sends form fields; anything missing or malformed becomes a default here, so the
services below never see raw POST data. Every number is checked against the column it may
be stored in: PostgreSQL binds parameters server-side (``DB_PREPARED_STATEMENTS``), where a
value past 32 bits would be stored wrapped (2147483648 as -2147483648). A field out of range
is dropped with a warning naming the call, never stored. Two fields Twilio always sends well
formed are required: a malformed ``CallSid`` (or a turn without its ``?n=``) is refused whole.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.http import QueryDict

logger = logging.getLogger(__name__)

CALL_SID_RE = re.compile(r"CA[0-9a-f]{32}")
# The largest value of the integer columns these fields land in (IntegerField and
# PositiveIntegerField are 32-bit signed on PostgreSQL); durations and sequences are never negative.
INT_COLUMN_MAX = 2_147_483_647
# ``?n=`` is the caller's turn; the agent's answer is stored at n + 1 (CallTurn.sequence).
TURN_MAX = INT_COLUMN_MAX - 1
_DIGITS = re.compile(r"-?[0-9]{1,20}")
# Recordings live on Twilio's REST API host: api.twilio.com, or a regional one such as
# api.dublin.ie1.twilio.com (edge and region) or api.ie1.twilio.com (region only). The whole
# netloc must match, so user info and ports are refused too.
RECORDING_HOST_RE = re.compile(r"api(\.[a-z0-9-]{1,30}){0,2}\.twilio\.com")
_PRINTABLE_URL = re.compile(r"[!-~]{1,500}")  # no spaces, quotes are escaped by templates anyway
STATUS_MAP = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "ringing",
    "in-progress": "in_progress",
    "answered": "in_progress",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "canceled",
}


class MalformedWebhook(ValueError):
    """A field Twilio always sends well formed is not: the request is refused with a 400."""


def _bounded_int(
    fields: QueryDict, name: str, *, call_sid: str, low: int = 0, high: int = INT_COLUMN_MAX
) -> int | None:
    raw = (fields.get(name) or "").strip()
    if not raw:
        return None
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        logger.warning("Ignored %s=%.40r on call %s: not a whole number from %d to %d", name, raw, call_sid, low, high)
        return None
    return value


def _confidence(raw: str | None) -> float | None:
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None  # also drops nan and inf


def _recording_url(raw: str | None, *, call_sid: str) -> str:
    """Only an https URL on Twilio's API host: anything else (``javascript:``, another host) would
    be rendered as a link on the call's page."""
    url = (raw or "").strip()
    if not url:
        return ""
    parts = urlsplit(url) if _PRINTABLE_URL.fullmatch(url) else None
    if parts is None or parts.scheme != "https" or not RECORDING_HOST_RE.fullmatch(parts.netloc):
        logger.warning("Ignored RecordingUrl=%.80r on call %s: not an https URL on Twilio's API host", url, call_sid)
        return ""
    return url


@dataclass(frozen=True)
class TwilioEvent:
    call_sid: str
    from_number: str
    to_number: str
    direction: str
    call_status: str  # our CallSession.Status value, or "" when absent/unknown
    speech: str | None  # None: no SpeechResult field (silence / redirect)
    confidence: float | None
    sequence_number: int | None
    answered_by: str
    call_duration: int | None
    recording_url: str
    recording_sid: str
    recording_duration: int | None
    recording_status: str
    error_code: str
    turn: int | None  # our own ?n= on the gather action URL


def parse_event(post: QueryDict, query: QueryDict, *, needs_turn: bool = False) -> TwilioEvent:
    """Raises ``MalformedWebhook`` for a malformed CallSid, or a missing turn number when ``needs_turn``."""
    call_sid = post.get("CallSid") or ""
    if not CALL_SID_RE.fullmatch(call_sid):
        raise MalformedWebhook("CallSid must be CA followed by 32 hex digits.")
    turn = _bounded_int(query, "n", call_sid=call_sid, low=1, high=TURN_MAX)
    if needs_turn and turn is None:
        # Without it a repeated delivery could not be told from the next turn (it keys replays).
        raise MalformedWebhook("The turn number ?n= is missing or out of range.")
    speech = post.get("SpeechResult")
    return TwilioEvent(
        call_sid=call_sid,
        from_number=(post.get("From") or "").strip()[:32],
        to_number=(post.get("To") or "").strip()[:32],
        direction=(post.get("Direction") or "").strip()[:32],
        call_status=STATUS_MAP.get((post.get("CallStatus") or "").strip().lower(), ""),
        speech=speech.strip()[:2000] if speech is not None else None,
        confidence=_confidence(post.get("Confidence")),
        sequence_number=_bounded_int(post, "SequenceNumber", call_sid=call_sid),
        answered_by=(post.get("AnsweredBy") or "").strip()[:30],
        call_duration=_bounded_int(post, "CallDuration", call_sid=call_sid),
        recording_url=_recording_url(post.get("RecordingUrl"), call_sid=call_sid),
        recording_sid=(post.get("RecordingSid") or "").strip()[:64],
        recording_duration=_bounded_int(post, "RecordingDuration", call_sid=call_sid),
        recording_status=(post.get("RecordingStatus") or "").strip()[:20],
        error_code=(post.get("ErrorCode") or "").strip()[:10],
        turn=turn,
    )
