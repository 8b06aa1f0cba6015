"""The conversation engine: one webhook turn in, TwiML out.

A turn reads the call with its agent, client, customer and transcript so far in one
statement (the webhook does it, to check the signature); asks the provider; applies its
actions; stores the caller's and the agent's turns in one insert. That is two statements for
an ordinary turn, whatever the length of the call. Turns are keyed by (call, sequence), so a
webhook Twilio delivers twice replays the stored answer instead of asking the provider again.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agents.models import AIAgent
from calls.actions import AppliedActions, apply_actions, opt_out_honoured
from calls.context import build_context, memory_record, previous_call_memory
from calls.day_counts import call_day_counts_add, call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.providers import conversation_provider, silence_provider
from calls.selectors_voice import LiveCall, TranscriptLine
from calls.telephony import webhook_url
from calls.webhook_params import TwilioEvent
from core.phone import region_of
from core.rows import insert_rows
from customers.services import customer_capture_number, customer_delete, customer_for_caller, spoken_phone_number
from integrations.llm.base import Reply, ScheduleCallback
from integrations.twilio import twiml

logger = logging.getLogger(__name__)

UNAVAILABLE = "Thanks for calling {company}. We can't take your call right now; please try again later. Goodbye."
UNKNOWN_CALL = "Sorry, I can't find this call. Goodbye."
GOODBYE = "Thank you for your time. Goodbye!"
NUMBER_NOTED = "Thank you, I've noted {number}."
NUMBER_TAKEN = "I'm sorry, I can't use that number. Could you give me another one?"


def _voice(agent: AIAgent) -> dict:
    return {"voice": twiml.voice_for(agent.voice_model, agent.language), "language": agent.language}


def render_turn(*, agent: AIAgent, turn: CallTurn | TranscriptLine) -> str:
    """TwiML for a stored agent turn: the same document on every replay of its webhook."""
    kinds = {a.get("type") for a in turn.actions or []}
    transfer = next((a for a in turn.actions or [] if a.get("type") == "transfer_to_human" and a.get("to")), None)
    if transfer:
        return twiml.say_and_dial(turn.text, transfer["to"], caller_id=agent.phone_number or None, **_voice(agent))
    if "end_call" in kinds or "mark_do_not_call" in kinds:
        return twiml.say_and_hangup(turn.text, **_voice(agent))
    return twiml.say_and_gather(turn.text, action_url=webhook_url(agent, "turn", n=turn.sequence + 1), **_voice(agent))


def _greeting_text(agent: AIAgent, reply: Reply) -> str:
    client = agent.client
    if client.disclosure_enabled and client.disclosure_text.strip():
        return f"{client.disclosure_text.strip()} {reply.text}"
    return reply.text


def call_begin(*, agent: AIAgent, event: TwilioEvent, inbound: bool, live: LiveCall | None = None) -> str:
    """The start of a call: an inbound call ringing in, or an outbound call the customer answered.

    The greeting is chosen before anything is written (no transaction is open while the
    provider thinks); then the call (created, or marked answered) and the greeting are written
    together. A webhook Twilio delivers twice loses on the unique CallSid or (call, sequence)
    key and answers with the greeting the first delivery stored. ``live`` is the outbound
    call as the webhook read it (None: the agent has no such call).
    """
    started = time.perf_counter()
    now = timezone.now()
    if inbound:
        if not agent.can_take_calls:
            company = (agent.business_info or {}).get("company_name") or agent.client.name
            return twiml.say_and_hangup(UNAVAILABLE.format(company=company), **_voice(agent))
        customer = customer_for_caller(agent=agent, caller_id=event.from_number)
        call = CallSession(
            ai_agent=agent, customer_profile=customer, twilio_call_sid=event.call_sid,
            call_type=CallSession.CallType.INBOUND, status=CallSession.Status.IN_PROGRESS, answered_at=now,
            is_simulation=customer.is_simulated,  # a persona of a simulation run is calling
        )  # fmt: skip
    else:
        if live is None:
            return twiml.polite_error(UNKNOWN_CALL)
        call, transcript = live
        if transcript:  # answered before: the greeting is stored
            return render_turn(agent=agent, turn=transcript[0])
    customer = call.customer_profile
    remembered = previous_call_memory(agent=agent, call=call, customer=customer)
    context = build_context(
        agent=agent, call=call, customer=customer, turns=(), utterance=None, previous_call=remembered
    )  # fmt: skip
    reply = conversation_provider().reply(context)
    greeting = CallTurn(
        call=call, sequence=0, speaker=CallTurn.Speaker.AGENT, text=_greeting_text(agent, reply),
        latency_ms=int((time.perf_counter() - started) * 1000), provider=reply.provider,
        # Later turns read the memory from here, so it is read from the database once per call.
        actions=[memory_record(remembered)] if remembered else [],
    )  # fmt: skip
    try:
        with transaction.atomic():
            if inbound:
                call_day_counts_add(calls=[call])
                call.save(force_insert=True)
            elif not call.answered_at:
                call.answered_at = now
                if not call.is_final:
                    call.status = CallSession.Status.IN_PROGRESS
                call.save(update_fields=["answered_at", "status", "updated_at"])
                call_day_counts_sync(agent=agent, call_ids=[call.pk])
            insert_rows([greeting])
    except IntegrityError:
        if inbound and call.customer_profile.is_anonymous:
            customer_delete(customer=call.customer_profile)  # this delivery's own anonymous caller
        stored = CallTurn.objects.filter(call__twilio_call_sid=event.call_sid, call__ai_agent=agent, sequence=0).first()
        if stored is None:  # the CallSid is another agent's call
            logger.warning("Call %s began twice, the first time for another agent", event.call_sid)
            return twiml.polite_error(UNKNOWN_CALL)
        return render_turn(agent=agent, turn=stored)  # the other delivery of this webhook answered first
    return render_turn(agent=agent, turn=greeting)


def call_turn(*, agent: AIAgent, event: TwilioEvent, live: LiveCall | None) -> str:
    """One caller utterance (or silence) and the agent's answer.

    ``live`` is the call with its transcript as the webhook read it (None: the agent has no
    such call). Nothing is locked and no transaction is open while
    the provider thinks (an LLM may take seconds). The unique (call, sequence) key settles a
    webhook Twilio delivers twice: the second delivery's insert fails, everything it did is
    rolled back, and it answers with what the first one stored.
    """
    started = time.perf_counter()
    if live is None:
        return twiml.polite_error(UNKNOWN_CALL)
    call, turns = live
    next_sequence = turns[-1].sequence + 1 if turns else 0
    sequence = event.turn if event.turn is not None and 0 < event.turn <= next_sequence else next_sequence
    if sequence < next_sequence:
        # A replayed webhook: answer with what was stored for that turn, change nothing.
        stored = next((t for t in turns if t.sequence == sequence + 1), None)
        return render_turn(agent=agent, turn=stored) if stored else twiml.say_and_hangup(GOODBYE, **_voice(agent))
    if call.is_final or (turns and _ended(turns[-1])):
        return twiml.say_and_hangup(GOODBYE, **_voice(agent))
    utterance = event.speech or ""
    reply = _number_given(agent=agent, call=call, turns=turns, utterance=utterance)
    if reply is None:
        customer = call.customer_profile
        context = build_context(agent=agent, call=call, customer=customer, turns=turns, utterance=utterance)
        reply = (conversation_provider() if utterance.strip() else silence_provider()).reply(context)
    reply = opt_out_honoured(reply=reply, utterance=utterance, call_sid=call.twilio_call_sid)
    # A reply that only talks is stored by one INSERT, a transaction of its own. One that acts
    # (books a callback, opts out, ...) writes its rows and its turns together or not at all;
    # so does any turn inside a caller's transaction, where a failed insert must not abort it.
    acts = bool(reply.actions or reply.fallback_reason) or connection.in_atomic_block
    try:
        with transaction.atomic() if acts else nullcontext():
            agent_turn = _store_turn(
                agent=agent, call=call, sequence=sequence, utterance=utterance, reply=reply, started=started
            )
    except IntegrityError:
        stored = CallTurn.objects.filter(call=call, sequence=sequence + 1).first()
        if stored is None:
            raise
        return render_turn(agent=agent, turn=stored)  # the other delivery of this webhook answered first
    return render_turn(agent=agent, turn=agent_turn)


def _number_given(*, agent: AIAgent, call: CallSession, turns, utterance: str) -> Reply | None:
    """An anonymous caller saying a number: it becomes theirs, and a callback they asked for is booked.

    None when there is nothing to capture (the provider answers the turn as usual).
    """
    customer = call.customer_profile
    if not customer.is_anonymous or not utterance:
        return None
    number = spoken_phone_number(utterance, region=region_of(agent.phone_number))
    if number is None:
        return None
    if not customer_capture_number(customer=customer, phone_number=number):
        return Reply(text=NUMBER_TAKEN, provider="engine")
    spoken = " ".join(number.removeprefix("+1") if number.startswith("+1") else number)
    asked = next(
        (
            a
            for turn in reversed(turns)
            for a in (turn.actions or [])
            if a.get("type") == "schedule_callback" and a.get("code") == "no_number"
        ),
        None,
    )
    text = NUMBER_NOTED.format(number=spoken)
    if asked is None:
        return Reply(text=f"{text} How else can I help?", provider="engine")
    when = datetime.fromisoformat(asked["requested"])
    return Reply(
        text=f"{text} I'll call you back as you asked.",
        actions=(ScheduleCallback(when=when, reason=asked.get("reason", "")),),
        provider="engine",
    )


def _store_turn(
    *, agent: AIAgent, call: CallSession, sequence: int, utterance: str, reply: Reply, started: float
) -> CallTurn:
    """Apply the reply's actions and store the caller's and the agent's turns; returns the agent's."""
    applied = apply_actions(agent=agent, call=call, customer=call.customer_profile, reply=reply, utterance=utterance)
    text = " ".join(t for t in (applied.say_instead or reply.text, applied.extra_text) if t)
    records = list(applied.records)
    if applied.end_outcome and not any(r.get("type") == "end_call" for r in records):
        records.append({"type": "end_call", "outcome": applied.end_outcome})
    if reply.fallback_reason:
        records.append({"type": "llm_fallback", "reason": reply.fallback_reason})
    if reply.answered_objection:
        records.append({"type": "answered_objection", "key": reply.answered_objection})
    now = timezone.now()
    caller_turn = CallTurn(call=call, sequence=sequence, speaker=CallTurn.Speaker.CALLER, text=utterance, spoken_at=now)
    agent_turn = CallTurn(
        call=call, sequence=sequence + 1, speaker=CallTurn.Speaker.AGENT, text=text, spoken_at=now,
        latency_ms=int((time.perf_counter() - started) * 1000), provider=reply.provider, actions=records,
    )  # fmt: skip
    insert_rows([caller_turn, agent_turn])
    _note_call_changes(agent=agent, call=call, applied=applied, reply=reply)
    return agent_turn


def _ended(turn: CallTurn | TranscriptLine) -> bool:
    return any(a.get("type") in ("end_call", "mark_do_not_call", "transfer_to_human") for a in turn.actions or [])


def _note_call_changes(*, agent: AIAgent, call: CallSession, applied: AppliedActions, reply: Reply) -> None:
    """Only turns that decided something write to the call row; plain turns leave it alone."""
    fields: set[str] = set()
    booked = any(r.get("type") == "schedule_callback" and r.get("callback_id") for r in applied.records)
    if applied.end_outcome:
        call.outcome = applied.end_outcome
        fields.add("outcome")
    elif booked:
        call.outcome = CallSession.Outcome.CALLBACK_REQUESTED
        fields.add("outcome")
    if booked:  # a booking on an earlier turn was saved then: later turns leave the row alone
        fields |= {"followup_scheduled", "followup_datetime"}
    if reply.fallback_reason:
        call.llm_fallbacks += 1
        fields.add("llm_fallbacks")
    if fields:
        call.save(update_fields=[*sorted(fields), "updated_at"])
        call_day_counts_sync(agent=agent, call_ids=[call.pk])
