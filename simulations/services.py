"""Run a client's agent against simulated customers, over the same call path as a real call.

Every persona call is the built-in phone (``calls.simulated_phone``): signed webhook requests
to the real views (and, for a relay-mode agent, each line over its ConversationRelay socket on
the running server), so the engine, its actions and the end-of-call processing all run as they
would for a customer. The customer is a fresh simulated profile, and the call is marked as a
simulation from its first row, so it never reaches a list, a statistic, the dialler or learning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import LEARNING_THRESHOLD, AIAgent
from callbacks.models import ScheduledCallback
from callbacks.services import callback_cancel
from calls.models import CallSession, CallTurn
from calls.simulated_phone import SimulatedPhone, new_call_sid
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from customers.models import CustomerProfile
from customers.services import customer_create_simulated
from simulations.models import SimulationRun
from simulations.personas import PERSONA_KEYS, Persona, ScriptedCaller, persona_by_key
from simulations.scoring import CallFacts, Exchange, score

logger = logging.getLogger(__name__)

MAX_CALLER_LINES = 12  # a persona never has more; the bound keeps a looping conversation finite
KEEP_RUNS = 10  # older runs are deleted with their simulated customers and calls
STALE_AFTER = timedelta(minutes=30)  # a run "running" this long lost its worker


def simulation_run_start(*, agent: AIAgent, persona_keys: Sequence[str] | None = None) -> SimulationRun:
    """Queue a run of ``persona_keys`` (all personas when empty) for the agent; one run at a time."""
    keys = list(dict.fromkeys(persona_keys or PERSONA_KEYS))
    unknown = [k for k in keys if k not in PERSONA_KEYS]
    if unknown:
        raise ValidationFailed(f"Unknown persona {unknown[0]!r}; choose from {', '.join(PERSONA_KEYS)}.")
    if not agent.can_take_calls:
        raise CallNotAllowed(
            f"The agent is trained to {agent.training_level}%; it needs at least {LEARNING_THRESHOLD}% "
            "(and not to be paused) to take calls, simulated or not.",
            code="agent_not_trained",
        )
    with transaction.atomic():
        AIAgent.objects.select_for_update().filter(pk=agent.pk).first()  # one start at a time per agent
        busy = SimulationRun.objects.filter(
            ai_agent=agent,
            status__in=(SimulationRun.Status.QUEUED, SimulationRun.Status.RUNNING),
            created_at__gte=timezone.now() - STALE_AFTER,
        )
        if busy.exists():
            raise Conflict("A persona simulation is already running for this agent; wait for its scorecard.")
        _prune_old_runs(agent)
        run = SimulationRun.objects.create(ai_agent=agent, personas=keys)
    from simulations.tasks import simulation_run_task

    run_id = str(run.pk)
    transaction.on_commit(lambda: simulation_run_task.delay(run_id))
    return run


def _prune_old_runs(agent: AIAgent) -> None:
    old = list(SimulationRun.objects.filter(ai_agent=agent).order_by("-created_at")[KEEP_RUNS - 1 :])
    if not old:
        return
    customer_ids = [p["customer_id"] for run in old for p in (run.results or {}).get("personas", [])]
    CustomerProfile.objects.filter(ai_agent=agent, is_simulated=True, pk__in=customer_ids).delete()
    SimulationRun.objects.filter(pk__in=[run.pk for run in old]).delete()


def simulation_run_execute(*, run_id) -> SimulationRun | None:
    """Play every persona of a queued run and store its scorecard; a run already taken is left alone."""
    claimed = SimulationRun.objects.filter(pk=run_id, status=SimulationRun.Status.QUEUED).update(
        status=SimulationRun.Status.RUNNING, started_at=timezone.now()
    )
    run = SimulationRun.objects.select_related("ai_agent__client").filter(pk=run_id).first()
    if not claimed or run is None:
        return run
    agent = run.ai_agent
    played: list[dict] = []
    for key in run.personas:
        persona = persona_by_key(key)
        try:
            played.append(_play(agent=agent, persona=persona))
        except Exception as exc:
            logger.exception("Simulation %s: persona %s failed", run.pk, key)
            SimulationRun.objects.filter(pk=run.pk).update(
                status=SimulationRun.Status.FAILED,
                error=f"The {persona.name} persona failed: {exc}"[:2000],
                results=_results(played),
                finished_at=timezone.now(),
            )
            raise
        SimulationRun.objects.filter(pk=run.pk).update(completed=len(played), results=_results(played))
    SimulationRun.objects.filter(pk=run.pk).update(status=SimulationRun.Status.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _results(played: list[dict]) -> dict:
    goals = [g for p in played for g in p["goals"]]
    return {
        "personas": played,
        "summary": {
            "personas": len(played),
            "goals": len(goals),
            "goals_reached": sum(1 for g in goals if g["reached"]),
            "unanswered_objections": sum(len(p["unanswered_objections"]) for p in played),
            "unanswered_questions": sum(len(p["unanswered_questions"]) for p in played),
        },
    }


def _play(*, agent: AIAgent, persona: Persona) -> dict:
    customer = customer_create_simulated(agent=agent, name=persona.caller_name)
    phone = SimulatedPhone(agent)
    caller = ScriptedCaller(persona)
    if persona.answers_with_voicemail:
        call = _outbound_session(agent=agent, customer=customer)
        phone.answer(call, machine=True)
        sid = call.twilio_call_sid
    else:
        screen = phone.dial_in(from_number=customer.phone_number)
        sid = screen.call_sid
        for _ in range(MAX_CALLER_LINES):
            if screen.ended or not screen.listening:
                break
            line = caller.next_line(" ".join(screen.said))
            if line is None:
                break
            screen = phone.say(sid, line.text)
    call = CallSession.objects.select_related("customer_profile").get(ai_agent=agent, twilio_call_sid=sid)
    if not call.is_final:
        # The persona hangs up (or the agent did): Twilio reports the end with a status callback.
        phone.hang_up(sid)
        call.refresh_from_db()
    _cancel_callbacks(customer)
    call.customer_profile.refresh_from_db(fields=["is_do_not_call"])
    return {
        "key": persona.key,
        "name": persona.name,
        "description": persona.description,
        "call_id": str(call.pk),
        "customer_id": str(customer.pk),
        "outcome": call.outcome,
        **score(persona, _facts(agent=agent, call=call, persona=persona, said=caller.said)),
    }


def _outbound_session(*, agent: AIAgent, customer: CustomerProfile) -> CallSession:
    """An outbound call the simulated phone will answer: recorded as placed, never sent to a network."""
    return CallSession.objects.create(
        ai_agent=agent, customer_profile=customer, call_type=CallSession.CallType.OUTBOUND,
        status=CallSession.Status.QUEUED, twilio_call_sid=new_call_sid(), context="Persona simulation",
        is_simulation=True,
    )  # fmt: skip


def _cancel_callbacks(customer: CustomerProfile) -> None:
    """A callback a persona booked counts on the scorecard, but a simulated customer is never dialled."""
    for callback in ScheduledCallback.objects.filter(
        customer_profile=customer, status=ScheduledCallback.Status.SCHEDULED
    ):
        callback_cancel(callback=callback, reason="Persona simulation: never dialled")


def _facts(*, agent: AIAgent, call: CallSession, persona: Persona, said: list[int]) -> CallFacts:
    turns = list(CallTurn.objects.filter(call=call).order_by("sequence"))
    lines = iter(persona.lines[i] for i in said)
    exchanges: list[Exchange] = []
    current, reply, actions = None, [], []
    for turn in turns:
        if turn.speaker == CallTurn.Speaker.CALLER and turn.text:
            if current is not None:
                exchanges.append(Exchange(current, " ".join(reply), tuple(actions)))
            current, reply, actions = next(lines, None), [], []
        elif turn.speaker == CallTurn.Speaker.AGENT:
            reply.append(turn.text)
            actions.extend(turn.actions or [])
    if current is not None:
        exchanges.append(Exchange(current, " ".join(reply), tuple(actions)))
    pricing = (agent.knowledge or {}).get("product_info", {}).get("pricing", "")
    return CallFacts(
        exchanges=tuple(exchanges),
        actions=tuple(a for t in turns for a in (t.actions or [])),
        outcome=call.outcome,
        ended=call.is_final,
        do_not_call=call.customer_profile.is_do_not_call,
        pricing=pricing if isinstance(pricing, str) else str(pricing),
        agent_lines=tuple(t.text for t in turns if t.speaker == CallTurn.Speaker.AGENT),
    )
