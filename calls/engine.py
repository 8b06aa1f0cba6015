"""The conversation engine: a caller's words on a call in, the agent's answer out.

``call_turn_answer`` is the one entry point for "the caller said X on call Y": it fetches the
call up front (``calls.selectors.live_call``: the call with its customer, then its transcript),
asks the provider, applies the actions and stores the caller's and the agent's turns with one
``bulk_create``, and returns a transport-free :class:`TurnAnswer`. The ``<Gather>`` webhook
renders it as TwiML (``call_turn``); another transport (a relay socket) can call it the same way.
A plain turn sends four statements: the webhook's agent read, the call, the transcript, the
insert. Turns are keyed by (call, sequence), so a webhook Twilio delivers twice replays the
stored answer instead of asking the provider again (ADR 0006).
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import AIAgent
from calls.actions import AppliedActions, apply_actions, opt_out_honoured
from calls.context import build_context, memory_record, previous_call_memory
from calls.day_counts import call_day_counts_add, call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.providers import conversation_provider, silence_provider
from calls.relay.twiml import connect_relay
from calls.selectors import live_call
from calls.telephony import webhook_url
from calls.webhook_params import TwilioEvent
from core.phone import region_of
from customers.services import customer_capture_number, customer_delete, customer_for_caller, spoken_phone_number
from integrations.llm.base import Reply, ScheduleCallback
from integrations.twilio import twiml

logger = logging.getLogger(__name__)

UNAVAILABLE = "Thanks for calling {company}. We can't take your call right now; please try again later. Goodbye."
UNKNOWN_CALL = "Sorry, I can't find this call. Goodbye."
GOODBYE = "Thank you for your time. Goodbye!"
NUMBER_NOTED = "Thank you, I've noted {number}."
NUMBER_TAKEN = "I'm sorry, I can't use that number. Could you give me another one?"
ENDING_ACTIONS = ("end_call", "mark_do_not_call", "transfer_to_human")


@dataclass(frozen=True)
class TurnAnswer:
    """The agent's answer to one thing the caller said, whatever carries it to the caller.

    ``sequence`` is the stored agent turn's (None for an answer nothing was stored for: a call
    we do not know, or one already over); the caller's next turn is ``sequence + 1``.
    """

    text: str
    sequence: int | None = None
    hang_up: bool = False
    transfer_to: str = ""
    unknown_call: bool = False

    @classmethod
    def of(cls, turn: CallTurn) -> TurnAnswer:
        """The answer a stored agent turn gave: the same on every replay of its webhook."""
        actions = turn.actions or []
        transfer = next((a for a in actions if a.get("type") == "transfer_to_human" and a.get("to")), None)
        kinds = {a.get("type") for a in actions}
        return cls(
            text=turn.text,
            sequence=turn.sequence,
            hang_up="end_call" in kinds or "mark_do_not_call" in kinds,
            transfer_to=transfer["to"] if transfer else "",
        )


def _voice(agent: AIAgent) -> dict:
    return {"voice": twiml.voice_for(agent.voice_model, agent.language), "language": agent.language}


def answer_twiml(*, agent: AIAgent, answer: TurnAnswer) -> str:
    """The ``<Gather>`` transport's rendering of an answer."""
    if answer.unknown_call:
        return twiml.polite_error(answer.text)
    if answer.transfer_to:
        return twiml.say_and_dial(
            answer.text, answer.transfer_to, caller_id=agent.phone_number or None, **_voice(agent)
        )
    if answer.hang_up or answer.sequence is None:
        return twiml.say_and_hangup(answer.text, **_voice(agent))
    action_url = webhook_url(agent, "turn", n=answer.sequence + 1)
    return twiml.say_and_gather(answer.text, action_url=action_url, **_voice(agent))


def render_turn(*, agent: AIAgent, turn: CallTurn) -> str:
    """TwiML for a stored agent turn: the same document on every replay of its webhook."""
    if turn.sequence == 0 and agent.voice_mode == AIAgent.VoiceMode.RELAY:
        return connect_relay(agent=agent, greeting=turn.text)  # the call goes on over the relay socket
    return answer_twiml(agent=agent, answer=TurnAnswer.of(turn))


def _greeting_text(agent: AIAgent, reply: Reply) -> str:
    client = agent.client
    if client.disclosure_enabled and client.disclosure_text.strip():
        return f"{client.disclosure_text.strip()} {reply.text}"
    return reply.text


def call_begin(*, agent: AIAgent, event: TwilioEvent, inbound: bool) -> str:
    """The start of a call: an inbound call ringing in, or an outbound call the customer answered.

    The greeting is chosen before anything is written (no transaction is open while the
    provider thinks); then the call (created, or marked answered) and the greeting are written
    together. A webhook Twilio delivers twice loses on the unique CallSid or (call, sequence)
    key and answers with the greeting the first delivery stored.
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
        live = live_call(agent=agent, call_sid=event.call_sid)
        if live is None:
            return twiml.polite_error(UNKNOWN_CALL)
        call = live.call
        if live.turns:  # answered before: the greeting is stored
            return render_turn(agent=agent, turn=live.turns[0])
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
            CallTurn.objects.bulk_create([greeting])
    except IntegrityError:
        if inbound and call.customer_profile.is_anonymous:
            customer_delete(customer=call.customer_profile)  # this delivery's own anonymous caller
        stored = CallTurn.objects.filter(call__twilio_call_sid=event.call_sid, call__ai_agent=agent, sequence=0).first()
        if stored is None:  # the CallSid is another agent's call
            logger.warning("Call %s began twice, the first time for another agent", event.call_sid)
            return twiml.polite_error(UNKNOWN_CALL)
        return render_turn(agent=agent, turn=stored)  # the other delivery of this webhook answered first
    return render_turn(agent=agent, turn=greeting)


def call_turn(*, agent: AIAgent, event: TwilioEvent) -> str:
    """The ``<Gather>`` webhook's turn: the answer to ``SpeechResult`` (absent: silence), as TwiML."""
    answer = call_turn_answer(agent=agent, call_sid=event.call_sid, utterance=event.speech or "", turn=event.turn)
    return answer_twiml(agent=agent, answer=answer)


def call_turn_answer(*, agent: AIAgent, call_sid: str, utterance: str, turn: int | None = None) -> TurnAnswer:
    """The caller said ``utterance`` ("" for silence) on the agent's call ``call_sid``: the agent's answer.

    ``turn`` is the caller's turn number the transport was told to send (``?n=`` on the gather
    URL): a number already stored is a repeated delivery and replays what was stored, changing
    nothing. Nothing is locked and no transaction is open while the provider thinks (an LLM may
    take seconds). The unique (call, sequence) key settles a delivery that races its twin: the
    second one's insert fails, everything it did is rolled back, and it answers with what the
    first one stored.
    """
    started = time.perf_counter()
    live = live_call(agent=agent, call_sid=call_sid)
    if live is None:
        return TurnAnswer(text=UNKNOWN_CALL, unknown_call=True)
    call, turns = live.call, live.turns
    next_sequence = live.next_sequence
    sequence = turn if turn is not None and 0 < turn <= next_sequence else next_sequence
    if sequence < next_sequence:
        stored = next((t for t in turns if t.sequence == sequence + 1), None)
        return TurnAnswer.of(stored) if stored else TurnAnswer(text=GOODBYE)
    if call.is_final or (turns and _ended(turns[-1])):
        return TurnAnswer(text=GOODBYE)
    reply = _number_given(agent=agent, call=call, turns=turns, utterance=utterance)
    if reply is None:
        context = build_context(
            agent=agent, call=call, customer=call.customer_profile, turns=turns, utterance=utterance
        )
        reply = (conversation_provider() if utterance.strip() else silence_provider()).reply(context)
    reply = opt_out_honoured(reply=reply, utterance=utterance, call_sid=call.twilio_call_sid)
    # A reply that only talks is one INSERT (bulk_create's own transaction). One that acts (books
    # a callback, opts out, ...) writes its rows and its turns together or not at all. Webhooks
    # run in autocommit (no ATOMIC_REQUESTS), so no caller's transaction is open around either.
    acts = bool(reply.actions or reply.fallback_reason)
    try:
        with transaction.atomic() if acts else nullcontext():
            agent_turn = _store_turn(
                agent=agent, call=call, sequence=sequence, utterance=utterance, reply=reply, started=started
            )
    except IntegrityError:
        stored = CallTurn.objects.filter(call=call, sequence=sequence + 1).first()
        if stored is None:
            raise
        agent_turn = stored  # the other delivery of this webhook answered first
    return TurnAnswer.of(agent_turn)


def _number_given(*, agent: AIAgent, call: CallSession, turns: list[CallTurn], utterance: str) -> Reply | None:
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
    records = turn_records(applied=applied, reply=reply)
    now = timezone.now()
    caller_turn = CallTurn(call=call, sequence=sequence, speaker=CallTurn.Speaker.CALLER, text=utterance, spoken_at=now)
    agent_turn = CallTurn(
        call=call, sequence=sequence + 1, speaker=CallTurn.Speaker.AGENT, text=text, spoken_at=now,
        latency_ms=int((time.perf_counter() - started) * 1000), provider=reply.provider, actions=records,
    )  # fmt: skip
    CallTurn.objects.bulk_create([caller_turn, agent_turn])
    _note_call_changes(agent=agent, call=call, applied=applied, reply=reply)
    return agent_turn


def turn_records(*, applied: AppliedActions, reply: Reply) -> list[dict]:
    """What the agent did on a turn, as the JSON records stored on its turn (both transports)."""
    records = list(applied.records)
    if applied.end_outcome and not any(r.get("type") == "end_call" for r in records):
        records.append({"type": "end_call", "outcome": applied.end_outcome})
    if reply.fallback_reason:
        records.append({"type": "llm_fallback", "reason": reply.fallback_reason})
    if reply.answered_objection:
        records.append({"type": "answered_objection", "key": reply.answered_objection})
    return records


def _ended(turn: CallTurn) -> bool:
    return any(a.get("type") in ENDING_ACTIONS for a in turn.actions or [])


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
