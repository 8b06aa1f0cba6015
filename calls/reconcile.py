"""No call stays open: calls whose end was never reported are closed as the phone network says.

When Twilio's final status callback is lost (our server down, Twilio done retrying), the
session would stay live for ever, and with it the customer (one live call per customer) and
the callback that placed it. The beat task ``calls.reconcile_stale_calls`` runs
:func:`calls_reconcile_stale` every minute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from calls import lifecycle
from calls.dispatch import close_orphan
from calls.models import CallSession
from calls.telephony import gateway_for, uses_simulated_phone
from calls.webhook_params import STATUS_MAP, TwilioEvent
from integrations.twilio import CallRequest, TelephonyError

logger = logging.getLogger(__name__)

# How long the phone network lets a call ring before it is "no-answer" (what every call asks Twilio for).
RING_TIMEOUT = timedelta(seconds=CallRequest.ring_timeout)
MAX_PER_TICK = 500  # bounds one tick; the oldest calls first, the rest on the next tick
TWILIO_NOT_FOUND = 20404
NOT_REPORTED = "Closed by reconciliation: Twilio said the call had ended ({status}) but its status callback never came."
UNKNOWN_AT_TWILIO = "Closed by reconciliation: Twilio does not know this call."
NOT_ANSWERED = "Nobody answered the simulated phone within the ring timeout."
LEFT_OPEN = "Closed by reconciliation: the simulated call was left open."


@dataclass
class ReconcileReport:
    checked: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def count(self, status: str) -> None:
        self.closed[status] = self.closed.get(status, 0) + 1

    def as_dict(self) -> dict:
        return {"checked": self.checked, "closed": dict(self.closed), "errors": self.errors}


def stale_after() -> timedelta:
    return timedelta(minutes=settings.CALL_RECONCILE_AFTER_MINUTES)


def _event(call: CallSession, status: str, *, duration: int | None = None, answered_by: str = "") -> TwilioEvent:
    """The status callback Twilio would have sent (no SequenceNumber: it is applied unless the call is final)."""
    return TwilioEvent(
        call_sid=call.twilio_call_sid, from_number="", to_number="", direction="", call_status=status,
        speech=None, confidence=None, sequence_number=None, answered_by=answered_by[:30], call_duration=duration,
        recording_url="", recording_sid="", recording_duration=None, recording_status="", error_code="", turn=None,
    )  # fmt: skip


def _close(call: CallSession, status: str, report: ReconcileReport, note: str, **event) -> None:
    closed = lifecycle.call_status_update(agent=call.ai_agent, event=_event(call, status, **event), note=note)
    if closed is not None and closed.is_final:
        logger.info("Reconciled call %s: %s", call.twilio_call_sid, status)
        report.count(status)


def _reconcile_twilio(call: CallSession, report: ReconcileReport) -> None:
    try:
        fetched = gateway_for(call.ai_agent.client).fetch_call(call.twilio_call_sid)
    except TelephonyError as exc:
        if exc.code == TWILIO_NOT_FOUND:
            logger.warning("Call %s is unknown at Twilio; closing it as failed", call.twilio_call_sid)
            _close(call, CallSession.Status.FAILED, report, UNKNOWN_AT_TWILIO)
            return
        report.errors += 1
        logger.warning("Could not reconcile call %s with Twilio (tried again next tick): %s", call.twilio_call_sid, exc)
        return
    status = STATUS_MAP.get(fetched.status.lower(), "")
    if status not in CallSession.FINAL_STATUSES:
        return  # still live at Twilio (a long call): nothing to correct
    _close(
        call, status, report, NOT_REPORTED.format(status=fetched.status),
        duration=fetched.duration, answered_by=fetched.answered_by,
    )  # fmt: skip


def _reconcile_simulated(call: CallSession, report: ReconcileReport, now: datetime) -> None:
    if call.answered_at is None:
        _close(call, CallSession.Status.NO_ANSWER, report, NOT_ANSWERED, duration=0)
    elif now - call.started_at >= stale_after():
        duration = int((now - call.answered_at).total_seconds())
        _close(call, CallSession.Status.COMPLETED, report, LEFT_OPEN, duration=duration)


def calls_reconcile_stale(*, now: datetime | None = None, limit: int = MAX_PER_TICK) -> ReconcileReport:
    """One tick: close the calls whose end was never reported.

    - Twilio: a call live past ``CALL_RECONCILE_AFTER_MINUTES`` is fetched; when Twilio says it
      ended, it is closed through the status webhook's own path (``lifecycle.call_status_update``),
      so outcome, counters, follow-up and learning are the same. Unknown at Twilio (404): failed;
      any other error is logged with the SID and looked at again next tick.
    - The simulated phone (nobody else reports on its calls): unanswered past the ring timeout is
      ``no_answer``, as Twilio would say; answered and left open past the limit is completed.
    - No call SID (the placing process died mid-dial): failed after the limit; a callback's is
      left to the dispatcher, which settles the callback too.
    """
    now = now or timezone.now()
    report = ReconcileReport()
    live = (
        CallSession.objects.filter(status__in=CallSession.LIVE_STATUSES, started_at__lt=now - RING_TIMEOUT)
        .select_related("ai_agent__client")
        .order_by("started_at")[:limit]
    )
    for call in live:
        old = now - call.started_at >= stale_after()
        if not call.twilio_call_sid:
            if old and call.callback_id is None:  # a callback's is the dispatcher's, which settles the callback too
                close_orphan(call, now)
                report.count(CallSession.Status.FAILED)
            continue
        if uses_simulated_phone(call.ai_agent.client):
            report.checked += 1
            _reconcile_simulated(call, report, now)
        elif old:
            report.checked += 1
            _reconcile_twilio(call, report)
    return report
