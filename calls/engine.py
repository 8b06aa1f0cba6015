"""The conversation engine: a caller's words on a call in, the agent's answer out.

A turn is one engine for two transports (``calls.turns``): a plan (the engine answers, or the
provider with the context), the answer as a stream, then the actions applied and the turns
stored. ``call_turn_answer`` is the ``<Gather>`` webhook's turn: the call fetched up front
(``calls.selectors.live_call``), the stream collected, and the caller's and the agent's turns
stored with one ``bulk_create``; it returns a transport-free :class:`TurnAnswer`, rendered as
TwiML by ``call_turn``. The relay socket (``calls.relay``) speaks the same stream as it comes.
A plain turn sends four statements: the webhook's agent read, the call, the transcript, the
insert. Turns are keyed by (call, sequence), so a webhook Twilio delivers twice replays the
stored answer instead of asking the provider again (ADR 0006).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import AIAgent
from calls.context import build_context, memory_record, previous_call_memory
from calls.day_counts import call_day_counts_add, call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.providers import conversation_provider
from calls.relay.twiml import connect_relay
from calls.selectors import live_call
from calls.telephony import webhook_url
from calls.turns import conversation_over, turn_finish, turn_plan, turn_reply
from calls.webhook_params import TwilioEvent
from customers.services import customer_delete, customer_for_caller
from integrations.llm.base import Reply, collected
from integrations.twilio import twiml

logger = logging.getLogger(__name__)

UNAVAILABLE = "Thanks for calling {company}. We can't take your call right now; please try again later. Goodbye."
UNKNOWN_CALL = "Sorry, I can't find this call. Goodbye."
GOODBYE = "Thank you for your time. Goodbye!"


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
    reply = collected(conversation_provider().stream_reply(context, live=False))  # as a turn's: the stream collected
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
    take seconds); its stream is collected whole, since ``<Say>`` needs the whole answer. The
    unique (call, sequence) key settles a delivery that races its twin: the second one's insert
    fails, everything it did is rolled back, and it answers with what the first one stored.
    """
    started = time.perf_counter()
    live = live_call(agent=agent, call_sid=call_sid)
    if live is None:
        return TurnAnswer(text=UNKNOWN_CALL, unknown_call=True)
    next_sequence = live.next_sequence
    sequence = turn if turn is not None and 0 < turn <= next_sequence else next_sequence
    if sequence < next_sequence:
        stored = next((t for t in live.turns if t.sequence == sequence + 1), None)
        return TurnAnswer.of(stored) if stored else TurnAnswer(text=GOODBYE)
    if conversation_over(live):
        return TurnAnswer(text=GOODBYE)
    plan = turn_plan(live=live, sequence=sequence, utterance=utterance, started=started)
    reply = collected(turn_reply(plan, live=False))
    # Webhooks run in autocommit (no ATOMIC_REQUESTS), so no caller's transaction is open here.
    return TurnAnswer.of(turn_finish(plan, reply, claimed=False).turn)
