"""One caller's turn, in the streaming form both transports use: one engine, two transports.

:func:`turn_plan` decides who answers the caller's words (the engine itself for an opt-out or
a number an anonymous caller gave, else the provider, with the context built from the call
in hand); :func:`turn_reply` is the answer as a stream (text pieces, then the whole
:class:`Reply`); :func:`turn_claim` stores the caller's words alone under the unique (call,
sequence) key; :func:`turn_finish` applies the reply's actions and stores the agent's turn.

The ``<Gather>`` webhook (``engine.call_turn_answer``) collects the stream and finishes with
both turns in one INSERT; the relay socket (``calls.relay``) claims first, speaks the pieces as
they come and finishes with what the caller heard. Nothing is locked and no transaction is
open while the provider thinks (ADR 0006).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import AIAgent
from calls.actions import AppliedActions, apply_actions, opt_out_reply
from calls.context import build_context
from calls.day_counts import call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.providers import conversation_provider, silence_provider
from calls.selectors import LiveCall
from conversation.intents import is_opt_out
from conversation.scripted import sentence_stream
from core.phone import region_of
from customers.services import customer_capture_number, spoken_phone_number
from integrations.llm.base import ConversationContext, Reply, ScheduleCallback

logger = logging.getLogger(__name__)

NUMBER_NOTED = "Thank you, I've noted {number}."
NUMBER_TAKEN = "I'm sorry, I can't use that number. Could you give me another one?"
ENDING_ACTIONS = ("end_call", "mark_do_not_call", "transfer_to_human")


@dataclass(frozen=True)
class TurnPlan:
    """Who answers the caller's words at ``sequence`` (the caller's turn), and from what."""

    live: LiveCall  # the call and its transcript before these words
    sequence: int
    utterance: str
    context: ConversationContext | None  # the provider's view; None when ``ready`` answers
    ready: Reply | None = None  # the engine's own answer, decided before any provider speaks
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Spoken:
    """What a streaming transport said of the reply before the turn was stored, and when."""

    text: str  # the pieces sent or, cut short, what the caller heard
    first_token_ms: int | None
    last_token_ms: int | None  # None: cut short
    interrupted: bool = False  # the caller spoke over it: the turn keeps none of the reply's actions


@dataclass(frozen=True)
class FinishedTurn:
    """The agent's stored turn (another delivery's, when that one stored first)."""

    turn: CallTurn
    more: str = ""  # words the actions added; a transport that already spoke the reply says them last


def conversation_over(live: LiveCall) -> bool:
    """The call ended, or its last turn ended it (a goodbye, an opt-out, a transfer): nothing more is answered."""
    return live.call.is_final or bool(live.turns and turn_ends_call(live.turns[-1]))


def plan_may_write(*, live: LiveCall, utterance: str) -> bool:
    """Planning this turn may write (an anonymous caller may be saying their number).

    A transport that claims turns plans such a turn only after its claim is won.
    """
    return live.call.customer_profile.is_anonymous and bool(utterance)


def turn_plan(*, live: LiveCall, sequence: int, utterance: str, started: float | None = None) -> TurnPlan:
    """Who answers ``utterance``: the engine itself, or the provider given the context.

    An opt-out is answered by the engine before any model speaks (the law says stop, whatever
    a model would say). A number an anonymous caller says becomes theirs here (the only write).
    """
    call = live.call
    # A number said with an opt-out is captured first, so the do-not-call mark holds that number.
    ready = _number_given(agent=call.ai_agent, call=call, turns=live.turns, utterance=utterance)
    if is_opt_out(utterance):
        ready = opt_out_reply(utterance=utterance)
    context = None
    if ready is None:
        context = build_context(
            agent=call.ai_agent, call=call, customer=call.customer_profile, turns=live.turns, utterance=utterance
        )
    return TurnPlan(
        live=live, sequence=sequence, utterance=utterance, context=context, ready=ready,
        started=time.perf_counter() if started is None else started,
    )  # fmt: skip


def turn_reply(plan: TurnPlan, *, live: bool = True) -> Iterator[str | Reply]:
    """The answer as it is written: text pieces, then the whole :class:`Reply`.

    The engine's own answer sentence by sentence; else the provider's stream (the scripted
    agent's for silence: its rule ends a dead line). ``live`` as in the provider contract:
    False when the transport collects the whole stream before saying anything.
    """
    if plan.ready is not None:
        yield from sentence_stream(plan.ready)
        return
    provider = conversation_provider() if plan.utterance.strip() else silence_provider()
    yield from provider.stream_reply(plan.context, live=live)


def turn_claim(*, call: CallSession, sequence: int, utterance: str) -> CallTurn | None:
    """Store the caller's words alone under the unique (call, sequence) key; None when another delivery has it."""
    try:
        with transaction.atomic():
            return CallTurn.objects.create(
                call=call, sequence=sequence, speaker=CallTurn.Speaker.CALLER, text=utterance
            )
    except IntegrityError:
        logger.warning(
            "Call %s: turn %d was taken by another delivery; not answered twice", call.twilio_call_sid, sequence
        )
        return None


def turn_finish(plan: TurnPlan, reply: Reply, *, claimed: bool, spoken: Spoken | None = None) -> FinishedTurn:
    """Apply the reply's actions and store the agent's turn; the caller's too unless ``claimed`` stored it.

    ``spoken`` is None when nothing was said yet: the turn says the reply (or what the actions
    say instead), then what they add. A streaming transport gives what it said: the turn keeps
    that, and the actions' words come after it in ``more``. A reply that only talks is one
    INSERT (bulk_create's own transaction); one that acts writes its rows and its turns together
    or not at all. An unclaimed turn that a twin delivery stored first rolls back and finishes
    with the twin's agent turn.
    """
    call = plan.live.call
    agent = call.ai_agent
    if spoken is not None and spoken.interrupted:
        reply = dataclasses.replace(reply, actions=(), answered_objection="")
    acts = bool(reply.actions or reply.fallback_reason)
    try:
        with transaction.atomic() if acts else nullcontext():
            applied = apply_actions(
                agent=agent, call=call, customer=call.customer_profile, reply=reply, utterance=plan.utterance
            )
            more = " ".join(t for t in (applied.say_instead, applied.extra_text) if t)
            if spoken is None:
                text = " ".join(t for t in (applied.say_instead or reply.text, applied.extra_text) if t)
                latency_ms = int((time.perf_counter() - plan.started) * 1000)
            else:
                text = " ".join(t for t in (spoken.text.strip(), more) if t)
                latency_ms = spoken.last_token_ms
            now = timezone.now()
            agent_turn = CallTurn(
                call=call, sequence=plan.sequence + 1, speaker=CallTurn.Speaker.AGENT, text=text, spoken_at=now,
                latency_ms=latency_ms, provider=reply.provider, actions=turn_records(applied=applied, reply=reply),
                first_token_ms=spoken.first_token_ms if spoken else None,
                last_token_ms=spoken.last_token_ms if spoken else None,
                interrupted=bool(spoken and spoken.interrupted),
            )  # fmt: skip
            rows = [agent_turn]
            if not claimed:
                rows.insert(0, CallTurn(call=call, sequence=plan.sequence, speaker=CallTurn.Speaker.CALLER,
                                        text=plan.utterance, spoken_at=now))  # fmt: skip
            CallTurn.objects.bulk_create(rows)
            _note_call_changes(agent=agent, call=call, applied=applied, reply=reply)
    except IntegrityError:
        stored = None if claimed else CallTurn.objects.filter(call=call, sequence=plan.sequence + 1).first()
        if stored is None:
            raise
        return FinishedTurn(turn=stored)  # the other delivery of this turn answered first
    return FinishedTurn(turn=agent_turn, more=more)


def turn_records(*, applied: AppliedActions, reply: Reply) -> list[dict]:
    """What the agent did on a turn, as the JSON records stored on its turn."""
    records = list(applied.records)
    if applied.end_outcome and not any(r.get("type") == "end_call" for r in records):
        records.append({"type": "end_call", "outcome": applied.end_outcome})
    if reply.fallback_reason:
        records.append({"type": "llm_fallback", "reason": reply.fallback_reason})
    if reply.answered_objection:
        records.append({"type": "answered_objection", "key": reply.answered_objection})
    return records


def turn_ends_call(turn: CallTurn) -> bool:
    """The stored agent turn ends the call (a goodbye, an opt-out, a transfer)."""
    return any(a.get("type") in ENDING_ACTIONS for a in turn.actions or [])


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
