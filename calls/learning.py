"""The learning run: fold new call outcomes into the agent's memory, refresh what it derives.

Most outcomes are folded the moment their call ends (``calls.outcomes.call_outcome_learn``).
This run, every 10 minutes per agent, catches the rest (seeded, imported or bulk-loaded calls,
and any call whose closing did not learn it), keeps the memory's derived keys current, and
moves an agent that has seen enough calls to ``optimizing`` (:func:`should_optimize`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from agents.memory import coerce_memory, with_learned_summary
from agents.models import ACTIVE_THRESHOLD, AIAgent
from calls.models import CallSession
from calls.outcomes import agent_learn_calls

OPTIMIZING_MIN_OUTCOMES = 50
WATERMARK_OVERLAP = timedelta(hours=1)
MAX_CALLS_PER_RUN = 5000  # a backlog is worked off over several runs, each a bounded write


@dataclass(frozen=True)
class LearningRun:
    agent_id: int
    learned: int
    learned_through: datetime | None
    status: str
    promoted: bool

    def as_dict(self) -> dict:
        return {
            "agent_id": self.agent_id,
            "learned": self.learned,
            "learned_through": self.learned_through.isoformat() if self.learned_through else None,
            "status": self.status,
            "promoted": self.promoted,
        }


def should_optimize(*, agent: AIAgent, memory: dict) -> bool:
    """The optimizing rule: an *active* agent (trained to 80 %+) with :data:`OPTIMIZING_MIN_OUTCOMES` learned outcomes.

    By then its learned preferences (the hours that pick up, the answers that convert) mean
    something. The move is one way; a paused, training or learning agent is never moved, and a
    client setting the agent back to active (``agent_update``) restarts the check on the next run.
    """
    return (
        agent.status == AIAgent.Status.ACTIVE
        and agent.training_level >= ACTIVE_THRESHOLD
        and coerce_memory(memory)["processed_calls"] >= OPTIMIZING_MIN_OUTCOMES
    )


def agents_to_learn() -> list[int]:
    """Every agent: each run is one indexed range read when nothing is new."""
    return list(AIAgent.objects.order_by("pk").values_list("pk", flat=True))


def _new_outcomes(agent: AIAgent) -> list[CallSession]:
    """The agent's calls updated since its ``learned_through`` watermark: incremental, not a rescan.

    Less :data:`WATERMARK_OVERLAP`: a call updated in a transaction that committed after a run
    started has an older ``updated_at``; re-reading it is harmless (``outcome_learned``), and
    ``calls.outcomes.agent_learn_calls`` folds each outcome once even when two runs overlap.
    """
    calls = CallSession.objects.filter(
        ai_agent=agent,
        outcome_learned=False,
        is_simulation=False,
        status__in=CallSession.FINAL_STATUSES,
        # A call that never reached the phone network (no SID) says nothing about the customer.
        twilio_call_sid__isnull=False,
    ).exclude(outcome="")
    if agent.learned_through is not None:
        calls = calls.filter(updated_at__gte=agent.learned_through - WATERMARK_OVERLAP)
    return list(calls.order_by("updated_at", "pk")[:MAX_CALLS_PER_RUN])


def agent_learn_new_outcomes(*, agent_id: int, now: datetime | None = None) -> LearningRun:
    """Fold the agent's new outcomes into its memory; refresh insights, status and watermark."""
    now = now or timezone.now()
    agent = AIAgent.objects.select_related("client").get(pk=agent_id)
    pending = _new_outcomes(agent)
    # A full batch means a backlog: the next run starts where this one stopped.
    through = pending[-1].updated_at if len(pending) >= MAX_CALLS_PER_RUN else now
    with transaction.atomic():
        learned = agent_learn_calls(agent=agent, calls=pending)  # locks the calls, then the agent
        locked = AIAgent.objects.select_for_update(of=("self",), no_key=True).select_related("client").get(pk=agent_id)
        today = now.astimezone(ZoneInfo(locked.client.timezone or "UTC")).date()
        memory = with_learned_summary(locked.conversation_memory, today=today)
        fields = []
        if memory != locked.conversation_memory:
            locked.conversation_memory = memory
            fields.append("conversation_memory")
        promoted = should_optimize(agent=locked, memory=memory)
        if promoted:
            locked.status = AIAgent.Status.OPTIMIZING
            fields.append("status")
        if locked.learned_through is None or through > locked.learned_through:
            locked.learned_through = through
            if not fields:  # only the watermark moved: not a change anyone made to the agent
                AIAgent.objects.filter(pk=agent_id).update(learned_through=through)
            else:
                fields.append("learned_through")
        if fields:
            locked.save(update_fields=[*fields, "updated_at"])
    return LearningRun(
        agent_id=agent_id, learned=learned, learned_through=locked.learned_through, status=locked.status,
        promoted=promoted,
    )  # fmt: skip
