"""The relay socket's side of a turn: the engine's streaming turn (``calls.turns``) in the socket's order.

Streamed words cannot be taken back, so the socket claims the caller's words first (under the
unique (call, sequence) key, the sequence it expects), speaks the engine's stream as it comes,
then finishes the turn with what the caller heard; words the actions add ("The earliest I can
call you is ...") are spoken after. A second socket given the same prompt loses the claim (or
finds it answered) and says nothing, so one prompt never gets two replies. What is here is the
socket's own: which claim a prompt takes, the session's ``end`` (handoff), and the cuts of a
turn the caller spoke over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agents.models import AIAgent
from calls.models import CallSession, CallTurn
from calls.selectors import LiveCall, live_call
from calls.turns import Spoken, TurnPlan, conversation_over, turn_claim, turn_finish, turn_plan
from integrations.llm.base import Reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedTurn:
    """A prompt this socket answers: the caller's turn is stored (``turn``) at ``plan.sequence``."""

    plan: TurnPlan
    turn: CallTurn  # the caller's stored turn, for the socket's copy of the transcript

    @property
    def call(self) -> CallSession:
        return self.plan.live.call

    @property
    def sequence(self) -> int:
        return self.plan.sequence


@dataclass(frozen=True)
class StoredReply:
    sequence: int  # the agent turn's
    text: str  # everything the turn says (streamed text and ``more``)
    more: str  # words the actions added, to speak after the streamed text
    handoff: dict[str, str] | None  # set when the session must end (goodbye, opt-out, transfer)
    turn: CallTurn  # the agent's stored turn


def relay_call(*, agent: AIAgent, call_sid: str) -> LiveCall | None:
    return live_call(agent=agent, call_sid=call_sid)


def relay_turn_claim(*, agent: AIAgent, call_sid: str, sequence: int, utterance: str) -> ClaimedTurn | int | None:
    """Re-read the call, claim ``sequence`` (the turn this socket expects), then plan the turn.

    For a socket without a copy of the call (it lost a claim) or a turn whose plan may write
    (``plan_may_write``): the plan comes after the claim is won. The loser of the claim gets
    the sequence to expect next (an int) and answers nothing. None: the call is unknown or over.
    """
    live = live_call(agent=agent, call_sid=call_sid)
    if live is None or conversation_over(live):
        return None
    next_sequence = live.next_sequence
    if sequence < next_sequence:
        logger.warning("Call %s: prompt %d was answered on another socket; not answered twice", call_sid, sequence)
        # A caller turn still being answered elsewhere has its agent turn to come.
        return next_sequence + 1 if live.turns[-1].speaker == CallTurn.Speaker.CALLER else next_sequence
    turn = turn_claim(call=live.call, sequence=sequence, utterance=utterance)
    if turn is None:
        return sequence + 2
    return ClaimedTurn(plan=turn_plan(live=live, sequence=sequence, utterance=utterance), turn=turn)


def relay_turn_claim_planned(*, plan: TurnPlan) -> ClaimedTurn | int | None:
    """Claim a turn planned from the socket's own copy of the call, while its stream starts.

    The copy (read at setup, grown by the socket's own turns) may be stale only in the call's
    status: a call a status callback ended meanwhile is not answered. A turn another socket
    stored first makes the insert fail; the socket then stays silent and re-reads.
    """
    call = plan.live.call
    if conversation_over(plan.live):
        return None
    if CallSession.objects.filter(pk=call.pk, status__in=CallSession.FINAL_STATUSES).exists():
        return None
    turn = turn_claim(call=call, sequence=plan.sequence, utterance=plan.utterance)
    if turn is None:
        return plan.sequence + 2
    return ClaimedTurn(plan=plan, turn=turn)


def relay_turn_store(
    *, claimed: ClaimedTurn, reply: Reply, spoken: str, first_token_ms: int | None, last_token_ms: int | None,
    interrupted: bool = False,
) -> StoredReply:  # fmt: skip
    """Finish the turn as the caller heard it: ``spoken`` is the text streamed.

    An interrupted turn keeps only what was heard and none of the reply's actions (the caller
    spoke over it before it was done).
    """
    heard = Spoken(text=spoken, first_token_ms=first_token_ms, last_token_ms=last_token_ms, interrupted=interrupted)
    finished = turn_finish(claimed.plan, reply, claimed=True, spoken=heard)
    turn = finished.turn
    return StoredReply(
        sequence=turn.sequence, text=turn.text, more=finished.more, handoff=_handoff(turn.actions), turn=turn
    )


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
