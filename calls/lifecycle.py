"""What happens to a call around the conversation: status events, recordings, AMD, the end.

Status events may arrive late or twice; Twilio numbers them (``SequenceNumber``), so an
event older than the last one applied is ignored, and a call that reached a final state
never goes back to ringing. The end of a call is processed exactly once: the transcript,
sentiment, outcome, the customer's and agent's counters, and a follow-up when nobody answered.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from callbacks.services import callback_schedule

# The module, not the task: calls.tasks imports the services (reconcile -> lifecycle) back, and
# the lifecycle profile tests end real calls through this path, so a missing task fails them.
from calls import tasks
from calls.call_end import call_end_notify
from calls.day_counts import call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.outcomes import call_outcome_learn
from calls.sentiment import lexicon_sentiment, llm_sentiment_enabled
from calls.telephony import gateway_for
from calls.webhook_params import TwilioEvent
from core.errors import CallNotAllowed
from integrations.twilio import TelephonyError, twiml

logger = logging.getLogger(__name__)

UNANSWERED = (CallSession.Status.BUSY, CallSession.Status.NO_ANSWER, CallSession.Status.FAILED)
DEFAULT_VOICEMAIL = "Hi, this is {name} from {company}. Sorry we missed you; we'll try again soon. Have a great day!"
MACHINE_PREFIX = "machine_"


def _locked_call(agent: AIAgent, call_sid: str) -> CallSession | None:
    return (
        CallSession.objects.select_for_update()
        .select_related("customer_profile")
        .filter(ai_agent=agent, twilio_call_sid=call_sid)
        .first()
    )


def call_status_update(*, agent: AIAgent, event: TwilioEvent, note: str = "") -> CallSession | None:
    """Apply one status event; returns the call, or None for an unknown call.

    The status webhook's path, and the reconciliation's (``calls.reconcile``) with an event
    made from what Twilio (or the simulated phone's ring timeout) says, so a call closed
    either way gets the same outcome, counters, follow-up and learning. ``note`` is kept in
    the call's notes when this event closes it (why it was closed without a callback).
    """
    if not event.call_status:
        return None
    with transaction.atomic():
        call = _locked_call(agent, event.call_sid)
        if call is None:
            return None
        if event.sequence_number is not None and event.sequence_number <= call.status_sequence:
            return call  # older than what we applied, or the same event again
        if call.is_final:
            return call  # a finished call never goes back to ringing
        now = timezone.now()
        call.status = event.call_status
        if event.answered_by and not call.answered_by:
            call.answered_by = event.answered_by  # who picked up decides voicemail vs answered
        if event.sequence_number is not None:
            call.status_sequence = event.sequence_number
        if call.status == CallSession.Status.IN_PROGRESS and not call.answered_at:
            call.answered_at = now
        if call.is_final:
            if note:
                call.conversation_notes = "\n".join(n for n in (call.conversation_notes, note) if n)
            call.ended_at = max(now, call.started_at)
            call.duration_seconds = event.call_duration if event.call_duration is not None else call.duration_seconds
            call_finish(call=call)
        call.save()
        call_day_counts_sync(agent=agent, call_ids=[call.pk])
    return call


def _default_outcome(call: CallSession) -> str:
    if call.answered_by.startswith(MACHINE_PREFIX):
        return CallSession.Outcome.VOICEMAIL
    return {
        CallSession.Status.BUSY: CallSession.Outcome.NO_ANSWER,
        CallSession.Status.NO_ANSWER: CallSession.Outcome.NO_ANSWER,
        CallSession.Status.FAILED: CallSession.Outcome.FAILED,
        CallSession.Status.CANCELED: CallSession.Outcome.FAILED,
    }.get(call.status, CallSession.Outcome.ANSWERED)


def call_finish(*, call: CallSession) -> None:
    """Close a call that reached a final status (inside the caller's transaction; saves nothing but related rows)."""
    turns = list(CallTurn.objects.filter(call=call).order_by("sequence"))
    call.conversation_transcript = "\n".join(
        f"{t.get_speaker_display()}: {t.text}" for t in turns if t.speaker != CallTurn.Speaker.SYSTEM
    )
    caller_lines = [t.text for t in turns if t.speaker == CallTurn.Speaker.CALLER and t.text]
    if caller_lines:
        call.sentiment_analysis = lexicon_sentiment(caller_lines)
        if llm_sentiment_enabled():
            # After commit: the call is closed whatever the model (or the broker) does next.
            transaction.on_commit(partial(_refine_sentiment_later, call_id=str(call.pk), call_sid=call.twilio_call_sid))
    if not call.outcome:
        call.outcome = _default_outcome(call)
    call_outcome_learn(call=call)
    _settle_callback(call)
    retried_elsewhere = call_end_notify(call)  # a campaign settles its lead and retries by its own policy
    unanswered = call.status in UNANSWERED or call.outcome == CallSession.Outcome.VOICEMAIL
    if unanswered and not call.is_simulation and not retried_elsewhere:
        _schedule_followup(call)


def _refine_sentiment_later(*, call_id: str, call_sid: str) -> None:
    try:
        tasks.call_sentiment_task.delay(call_id)
    except BrokerUnreachable:
        logger.exception(
            "Call %s is closed, but its LLM sentiment could not be queued: it keeps the lexicon's", call_sid
        )


def _settle_callback(call: CallSession) -> None:
    """The callback that caused this call is done when the customer answered, else it waits or is missed."""
    callback = call.callback
    if callback is None or callback.status != ScheduledCallback.Status.IN_PROGRESS:
        return
    answered = call.status == CallSession.Status.COMPLETED and call.outcome != CallSession.Outcome.VOICEMAIL
    callback.lease_expires_at = None
    if answered:
        callback.status = ScheduledCallback.Status.COMPLETED
    elif callback.attempts >= callback.max_attempts:
        callback.status = ScheduledCallback.Status.MISSED
    else:
        callback.status = ScheduledCallback.Status.SCHEDULED
        callback.scheduled_datetime = timezone.now() + timedelta(minutes=call.ai_agent.followup_delay_minutes)
    callback.save(update_fields=["status", "lease_expires_at", "scheduled_datetime", "updated_at"])


def _schedule_followup(call: CallSession) -> None:
    """Nobody answered: try again after the agent's delay, up to its attempt limit, in allowed hours."""
    agent, customer = call.ai_agent, call.customer_profile
    if customer.is_do_not_call or call.callback_id:
        return  # opted out; or the callback itself retries (see _settle_callback)
    # This call (not saved yet) plus the unanswered calls right before it.
    unanswered_in_a_row = 1
    earlier = (
        CallSession.objects.filter(customer_profile=customer)
        .exclude(pk=call.pk)
        .order_by("-started_at")
        .values_list("outcome", flat=True)[:10]
    )
    for outcome in earlier:
        if outcome not in (CallSession.Outcome.NO_ANSWER, CallSession.Outcome.FAILED, CallSession.Outcome.VOICEMAIL):
            break
        unanswered_in_a_row += 1
    if unanswered_in_a_row > agent.followup_max_attempts:
        return
    if ScheduledCallback.objects.filter(
        customer_profile=customer, status__in=ScheduledCallback.ACTIVE_STATUSES
    ).exists():
        return  # one pending call at a time is enough
    try:
        followup = callback_schedule(
            agent=agent,
            customer=customer,
            at=timezone.now() + timedelta(minutes=agent.followup_delay_minutes),
            reason=f"Follow-up: {call.get_outcome_display().lower()} on {call.started_at:%b %d}",
            priority=4,
            kind=ScheduledCallback.Kind.FOLLOWUP,
            source_call=call,
        )
    except CallNotAllowed as refused:
        logger.info("No follow-up for call %s: %s", call.pk, refused.message)
        return
    call.followup_scheduled = True
    call.followup_datetime = followup.scheduled_datetime


def call_recording_update(*, agent: AIAgent, event: TwilioEvent) -> None:
    if event.recording_status and event.recording_status != "completed":
        return
    with transaction.atomic():
        call = _locked_call(agent, event.call_sid)
        if call is None or not event.recording_url:
            return
        call.recording_url = event.recording_url
        call.recording_duration = event.recording_duration
        call.save(update_fields=["recording_url", "recording_duration", "updated_at"])


def call_amd_result(*, agent: AIAgent, event: TwilioEvent) -> None:
    """A machine answered: leave the trained voicemail message and end the call as voicemail."""
    with transaction.atomic():
        call = _locked_call(agent, event.call_sid)
        if call is None or call.answered_by:
            return  # unknown, or already handled (a repeated AMD callback)
        call.answered_by = event.answered_by or "unknown"
        fields = ["answered_by", "updated_at"]
        machine = call.answered_by.startswith(MACHINE_PREFIX) or call.answered_by == "fax"
        if machine:
            company = (agent.business_info or {}).get("company_name") or agent.client.name
            text = agent.voicemail_message.strip() or DEFAULT_VOICEMAIL.format(name=agent.name, company=company)
            last = CallTurn.objects.filter(call=call).order_by("-sequence").values_list("sequence", flat=True).first()
            CallTurn.objects.create(
                call=call,
                sequence=(last + 1) if last is not None else 0,
                speaker=CallTurn.Speaker.AGENT,
                text=text,
                actions=[{"type": "voicemail"}, {"type": "end_call", "outcome": "voicemail"}],
                provider="voicemail",
            )
            call.outcome = CallSession.Outcome.VOICEMAIL
            fields.append("outcome")
        call.save(update_fields=fields)
        call_day_counts_sync(agent=agent, call_ids=[call.pk])
    if machine and not call.is_final and not call.is_simulation:  # a simulated call never reaches Twilio
        voice = twiml.voice_for(agent.voice_model, agent.language)
        document = twiml.voicemail(text, voice=voice, language=agent.language)
        try:
            gateway_for(agent.client).update_twiml(call.twilio_call_sid, document)
        except TelephonyError as exc:
            logger.warning("Could not leave a voicemail on %s: %s", call.twilio_call_sid, exc)
