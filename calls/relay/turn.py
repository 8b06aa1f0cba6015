"""The engine side of one ConversationRelay prompt: claim it, then store the reply once spoken.

One engine, two transports: the context, the provider, the actions and the stored transcript
are the webhook turn's own (``calls.engine``, ``calls.context``, ``calls.actions``). What
differs is the order, because streamed words cannot be taken back:

1. :func:`relay_turn_claim` reads the call (``live_call``, as the webhook turn does),
   stores the caller's words at once under the unique (call, sequence) key, the sequence the
   socket expects, and builds the context. A second socket for the same CallSid given the
   same prompt loses that insert (or finds it answered) and answers nothing, so one prompt
   never gets two replies. An opt-out or a number the caller gave is answered by
   the engine itself, before any model speaks, as on the webhook turn.
2. The consumer streams the provider's reply to Twilio.
3. :func:`relay_turn_store` applies the reply's actions and stores the agent's turn with its
   latency, in one transaction; words the actions add ("The earliest I can call you is ...")
   are returned to be spoken after the streamed text.

This is ``engine.call_turn_answer`` cut in two around the stream. It uses the engine's own
pieces (``turn_records``, and the private ``_number_given``, ``_ended``, ``_note_call_changes``):
the whole dependency on the engine's internals, to fold into the engine when it grows a
streaming turn of its own.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from agents.models import AIAgent
from calls import engine
from calls.actions import apply_actions, opt_out_honoured
from calls.context import build_context
from calls.models import CallSession, CallTurn
from calls.selectors import LiveCall, live_call
from conversation.intents import is_opt_out
from integrations.llm.base import ConversationContext, Reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedTurn:
    """A prompt this socket answers: the caller's turn is stored at ``sequence``."""

    live: LiveCall  # the call and its transcript before this prompt
    sequence: int
    utterance: str
    context: ConversationContext | None  # None when ``ready`` answers without a provider
    ready: Reply | None = None


@dataclass(frozen=True)
class StoredReply:
    sequence: int  # the agent turn's
    text: str  # everything the turn says (streamed text and ``more``)
    more: str  # words the actions added, to speak after the streamed text
    handoff: dict[str, str] | None  # set when the session must end (goodbye, opt-out, transfer)


def relay_call(*, agent: AIAgent, call_sid: str) -> LiveCall | None:
    return live_call(agent=agent, call_sid=call_sid)


def relay_turn_claim(*, agent: AIAgent, call_sid: str, sequence: int, utterance: str) -> ClaimedTurn | int | None:
    """Store the caller's words at ``sequence``, the turn this socket expects, and build the context.

    ``sequence`` comes from the socket's own view of the call (like the webhook's ``?n=``):
    two sockets given the same prompt claim the same key and only one insert wins. The loser
    gets the sequence to expect next (an int) and answers nothing. None: the call is unknown
    or over.
    """
    live = live_call(agent=agent, call_sid=call_sid)
    if live is None:
        return None
    call, turns = live.call, live.turns
    if call.is_final or (turns and engine._ended(turns[-1])):
        return None
    next_sequence = turns[-1].sequence + 1 if turns else 0
    if sequence < next_sequence:
        logger.warning("Call %s: prompt %d was answered on another socket; not answered twice", call_sid, sequence)
        # A caller turn still being answered elsewhere has its agent turn to come.
        return next_sequence + 1 if turns[-1].speaker == CallTurn.Speaker.CALLER else next_sequence
    try:
        with transaction.atomic():
            CallTurn.objects.create(call=call, sequence=sequence, speaker=CallTurn.Speaker.CALLER, text=utterance)
    except IntegrityError:
        logger.warning("Call %s: prompt %d was taken by another socket; not answered twice", call_sid, sequence)
        return sequence + 2
    ready = engine._number_given(agent=agent, call=call, turns=turns, utterance=utterance)
    if ready is None and is_opt_out(utterance):
        ready = opt_out_honoured(reply=Reply(text="", provider="engine"), utterance=utterance, call_sid=call_sid)
    if ready is not None:
        return ClaimedTurn(live=live, sequence=sequence, utterance=utterance, context=None, ready=ready)
    context = build_context(agent=agent, call=call, customer=call.customer_profile, turns=turns, utterance=utterance)
    return ClaimedTurn(live=live, sequence=sequence, utterance=utterance, context=context)


def relay_turn_store(
    *, claimed: ClaimedTurn, reply: Reply, spoken: str, first_token_ms: int | None, last_token_ms: int | None,
    interrupted: bool = False,
) -> StoredReply:  # fmt: skip
    """Apply the reply's actions and store the agent's turn as the caller heard it.

    ``spoken`` is the text streamed; an interrupted turn keeps only what was heard and
    none of the reply's actions (the caller spoke over it before it was done).
    """
    call = claimed.live.call
    agent = call.ai_agent
    if interrupted:
        reply = dataclasses.replace(reply, actions=(), answered_objection="")
    with transaction.atomic():
        applied = apply_actions(
            agent=agent, call=call, customer=call.customer_profile, reply=reply, utterance=claimed.utterance
        )
        more = " ".join(t for t in (applied.say_instead, applied.extra_text) if t)
        text = " ".join(t for t in (spoken.strip(), more) if t)
        records = engine.turn_records(applied=applied, reply=reply)
        CallTurn.objects.create(
            call=call, sequence=claimed.sequence + 1, speaker=CallTurn.Speaker.AGENT, text=text,
            latency_ms=last_token_ms, first_token_ms=first_token_ms, last_token_ms=last_token_ms,
            provider=reply.provider, actions=records, interrupted=interrupted,
        )  # fmt: skip
        engine._note_call_changes(agent=agent, call=call, applied=applied, reply=reply)
    return StoredReply(sequence=claimed.sequence + 1, text=text, more=more, handoff=_handoff(records))


def relay_turn_timed(*, call: CallSession, sequence: int, last_token_ms: int) -> None:
    """The time to the last token of a turn whose actions added words after it was stored."""
    CallTurn.objects.filter(call=call, sequence=sequence).update(latency_ms=last_token_ms, last_token_ms=last_token_ms)


def relay_turn_interrupted(*, call: CallSession, sequence: int, heard: str) -> None:
    """The caller spoke over a stored agent turn: it keeps only what they heard, marked interrupted."""
    CallTurn.objects.filter(call=call, sequence=sequence, speaker=CallTurn.Speaker.AGENT).update(
        text=heard, interrupted=True
    )


def _handoff(records: list[dict]) -> dict[str, str] | None:
    """What the socket's ``end`` tells the ``<Connect action>`` URL, or None to keep talking."""
    kinds = {r.get("type"): r for r in records}
    if "transfer_to_human" in kinds:
        return {"reason": "transfer_to_human", "to": str(kinds["transfer_to_human"].get("to", ""))}
    if "mark_do_not_call" in kinds:
        return {"reason": "mark_do_not_call"}
    if "end_call" in kinds:
        return {"reason": "end_call", "outcome": str(kinds["end_call"].get("outcome", ""))}
    return None
