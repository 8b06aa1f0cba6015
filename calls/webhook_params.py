"""What Twilio posts to our webhooks, parsed into one frozen value.

Twilio sends form fields; anything missing or malformed becomes a default here, so the
services below never see raw POST data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import QueryDict

SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{10,64}$")
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


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _float(value: str | None) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


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

    @property
    def has_valid_sid(self) -> bool:
        return bool(SID_RE.match(self.call_sid))


def parse_event(post: QueryDict, query: QueryDict) -> TwilioEvent:
    speech = post.get("SpeechResult")
    return TwilioEvent(
        call_sid=(post.get("CallSid") or "").strip()[:64],
        from_number=(post.get("From") or "").strip()[:32],
        to_number=(post.get("To") or "").strip()[:32],
        direction=(post.get("Direction") or "").strip()[:32],
        call_status=STATUS_MAP.get((post.get("CallStatus") or "").strip().lower(), ""),
        speech=speech.strip()[:2000] if speech is not None else None,
        confidence=_float(post.get("Confidence")),
        sequence_number=_int(post.get("SequenceNumber")),
        answered_by=(post.get("AnsweredBy") or "").strip()[:30],
        call_duration=_int(post.get("CallDuration")),
        recording_url=(post.get("RecordingUrl") or "").strip()[:500],
        recording_sid=(post.get("RecordingSid") or "").strip()[:64],
        recording_duration=_int(post.get("RecordingDuration")),
        recording_status=(post.get("RecordingStatus") or "").strip()[:20],
        error_code=(post.get("ErrorCode") or "").strip()[:10],
        turn=_int(query.get("n")),
    )
