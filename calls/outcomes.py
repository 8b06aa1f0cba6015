"""A call's outcome, and everything it changes: the call, the customer, the agent's counters and memory.

Two doors share one set of rules: :func:`call_record_outcome` (a person records or corrects
how a call went) and :func:`call_outcome_learn` (the engine closes a call that just ended).
The rules (counted once, learned once, locks taken call first, then agent) are in
docs/rules.md, "A call's outcome".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from agents.memory import OutcomeFacts, fold_outcome, fold_outcomes, objection_key, refold_outcome
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from callbacks.services import callback_reschedule, callback_schedule
from calls.day_counts import call_day_counts_sync
from calls.models import CallSession, CallTurn
from calls.selectors import CALL_NOT_FOUND
from conversation.intents import builtin_objection, match_objection
from core.errors import CallNotAllowed, NotFound, ValidationFailed
from customers.contactability import note_preferred_time
from customers.models import CustomerProfile
from customers.services import (
    customer_add_note,
    customer_opt_out,
    customer_raise_interest,
    customer_record_objection,
    interest_after_call,
)

Outcome = CallSession.Outcome
Level = CustomerProfile.InterestLevel

PICKED_UP_OUTCOMES = CallSession.PICKED_UP_OUTCOMES
# The customer's ``successful_calls``: the call moved them towards a sale.
SUCCESSFUL_OUTCOMES = frozenset({Outcome.INTERESTED, Outcome.CONVERTED})
# What an outcome says about the customer's interest: (level, at_least), moved along the
# customer's ladder (customers.services.interest_after_call: converted stays converted).
OUTCOME_INTEREST = {
    Outcome.CONVERTED: (Level.CONVERTED, False),
    Outcome.INTERESTED: (Level.WARM, True),
    Outcome.CALLBACK_REQUESTED: (Level.WARM, True),
    Outcome.NOT_INTERESTED: (Level.COLD, False),
}
CALLBACK_PRIORITY = 2  # the customer asked for it: ahead of routine follow-ups (4)
DEFAULT_CALLBACK_REASON = "Customer asked for a callback"
# A callback in the past would be dialled at once, maybe while this very call is still live.
PAST_CALLBACK = "callback_datetime is in the past; give the time the customer asked to be called back."
_CLAUSE_SPLIT = re.compile(r"[.;!?\n,]+|\bbut\b|\band\b|\balso\b", re.IGNORECASE)


@dataclass(frozen=True)
class OutcomeResult:
    """What recording an outcome did, for the API to show."""

    call: CallSession
    customer: CustomerProfile
    agent: AIAgent
    callback: ScheduledCallback | None
    callback_requested_at: datetime | None
    callback_moved: bool
    counted: bool  # this request counted the call (its first outcome after it ended)
    changed: bool  # the outcome differs from the one the call had
    learned: bool  # the call's outcome is in the agent's memory now


def interest_after(current: str, outcome: str) -> str:
    """The customer's interest level after a call with ``outcome``.

    interested or callback requested -> at least warm; converted -> converted;
    not interested -> cold. A converted customer stays converted whatever a later call
    says (a "no thanks" is about another offer; a person can still change the level on
    the customer), and the other outcomes leave the level alone.
    """
    if outcome not in OUTCOME_INTEREST:
        return current
    level, at_least = OUTCOME_INTEREST[outcome]
    return interest_after_call(current, level, at_least=at_least)


def objections_in_text(text: str, objection_responses: Mapping[str, str]) -> list[tuple[str, str]]:
    """``[(key, clause)]`` for each objection a free-text summary mentions, first mention first.

    Each clause is matched against the agent's trained objections first (so the key is the
    one whose answer the agent has), then against the built-in kinds; a clause that is about
    neither ("customer likes the features") yields nothing.
    """
    found: dict[str, str] = {}
    for clause in _CLAUSE_SPLIT.split(text or ""):
        clause = clause.strip()
        if not clause:
            continue
        match = match_objection(clause, objection_responses)
        key = match.key if match else builtin_objection(clause)
        if key and key not in found:
            found[key] = clause
    return list(found.items())


def _local(moment: datetime, zone_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone_name or "UTC"))


def _facts_from(
    *, call: CallSession, customer: CustomerProfile, agent: AIAgent, turn_actions: Iterable[Any]
) -> OutcomeFacts:
    trained = (agent.knowledge or {}).get("objection_responses") or {}
    raised: set[str] = set()
    answered: set[str] = set()
    for actions in turn_actions:
        for action in actions if isinstance(actions, list) else ():
            if not isinstance(action, Mapping) or not action.get("key"):
                continue
            if action.get("type") == "record_objection":
                raised.add(str(action["key"]))
            elif action.get("type") == "answered_objection":
                # The agent gave the trained answer, so the objection came up too.
                answered.add(str(action["key"]))
                raised.add(str(action["key"]))
    raised |= {key for key, _ in objections_in_text(call.customer_response, trained)}
    return OutcomeFacts(
        outcome=call.outcome,
        picked_up=call.outcome in PICKED_UP_OUTCOMES,
        day=_local(call.started_at, agent.client.timezone).date(),
        # Only our own attempts show when customers pick up: an inbound caller chose the hour.
        hour=_local(call.started_at, customer.timezone or agent.client.timezone).hour
        if call.call_type != CallSession.CallType.INBOUND
        else None,
        objections=frozenset(objection_key(k) for k in raised) - {""},
        answered_objections=frozenset(objection_key(k) for k in answered) - {""},
    )


def call_outcome_facts(*, call: CallSession, agent: AIAgent, turn_actions: Iterable[Any] | None = None) -> OutcomeFacts:
    """What ``call``'s current outcome teaches the memory (see ``agents.memory.OutcomeFacts``).

    Objections come from the engine's turn records (``record_objection``,
    ``answered_objection``) and from the outcome's written customer response; the pick-up
    hour is the customer's local hour (the client's when the customer's zone is unknown)
    and the trend day is the client's. ``turn_actions`` (each turn's ``actions`` list)
    saves the query when the caller has the turns already.
    """
    if turn_actions is None:
        turn_actions = CallTurn.objects.filter(call=call).values_list("actions", flat=True)
    return _facts_from(call=call, customer=call.customer_profile, agent=agent, turn_actions=turn_actions)


def _count_success(customer: CustomerProfile, agent: AIAgent, outcome: str, sign: int) -> None:
    if outcome in SUCCESSFUL_OUTCOMES:
        customer.successful_calls = max(0, customer.successful_calls + sign)
    if outcome == Outcome.CONVERTED:
        agent.successful_conversions = max(0, agent.successful_conversions + sign)


def _count_call(customer: CustomerProfile, agent: AIAgent, outcome: str) -> None:
    customer.total_calls += 1
    agent.calls_handled += 1
    _count_success(customer, agent, outcome, +1)


def _apply_outcome_to_customer(*, customer: CustomerProfile, outcome: str) -> None:
    """The customer side of a *new* outcome (never re-applied when the same outcome is recorded again)."""
    if outcome in OUTCOME_INTEREST:
        level, at_least = OUTCOME_INTEREST[outcome]
        customer_raise_interest(customer=customer, level=level, at_least=at_least)
    if outcome == Outcome.DO_NOT_CALL and not customer.is_do_not_call:
        # A customer who asked not to be called is never dialled again: no pending callback survives.
        customer_opt_out(customer=customer, reason="Customer asked not to be called.")


def _touch_contacted(customer: CustomerProfile, call: CallSession) -> None:
    if customer.last_contacted_at is None or call.started_at > customer.last_contacted_at:
        customer.last_contacted_at = call.started_at


def _save_counters(*, customer: CustomerProfile, agent: AIAgent, customer_fields: Iterable[str] = ()) -> None:
    # Legacy rows may disagree; the database insists successful_calls <= total_calls.
    customer.successful_calls = min(customer.successful_calls, customer.total_calls)
    customer.save(
        update_fields=sorted({"total_calls", "successful_calls", "last_contacted_at", *customer_fields, "updated_at"})
    )
    agent.save(update_fields=["calls_handled", "successful_conversions", "conversation_memory", "updated_at"])


def _locked_agent(agent_id: int) -> AIAgent:
    # NO KEY: a placement committing a new call (or day count) of this agent only needs KEY SHARE
    # on it for the foreign key; a plain FOR UPDATE here made the two wait on each other (deadlock).
    return AIAgent.objects.select_for_update(of=("self",), no_key=True).select_related("client").get(pk=agent_id)


def _sync(target: AIAgent, source: AIAgent) -> None:
    """Give the caller's agent object the counters and memory just saved."""
    target.calls_handled = source.calls_handled
    target.successful_conversions = source.successful_conversions
    target.conversation_memory = source.conversation_memory


def call_outcome_learn(*, call: CallSession, turns: Sequence[CallTurn] | None = None) -> bool:
    """Close a call that just ended: count it, move the customer by its outcome, learn from it.

    Called by the engine when a call reaches a final status, inside its transaction and
    with the call (and its customer) locked. Idempotent: a call already learned, or one
    without an outcome, is left alone, so a replayed status webhook counts nothing twice.
    The call's ``outcome_learned`` flag is set on ``call`` and in the database.
    Returns whether anything was done.
    """
    if call.outcome_learned or not call.outcome:
        return False
    if call.is_simulation:
        # A persona test teaches the agent nothing and counts for nothing; closed all the same.
        call.outcome_learned = True
        CallSession.objects.filter(pk=call.pk).update(outcome_learned=True)
        return False
    with transaction.atomic():
        customer = call.customer_profile
        agent = _locked_agent(call.ai_agent_id)
        actions = [t.actions for t in turns] if turns is not None else None
        facts = call_outcome_facts(call=call, agent=agent, turn_actions=actions)
        _count_call(customer, agent, call.outcome)
        _apply_outcome_to_customer(customer=customer, outcome=call.outcome)
        _touch_contacted(customer, call)
        agent.conversation_memory = fold_outcome(agent.conversation_memory, facts)
        _save_counters(customer=customer, agent=agent)
        call.outcome_learned = True
        CallSession.objects.filter(pk=call.pk).update(outcome_learned=True)
    return True


def agent_learn_calls(*, agent: AIAgent, calls: Sequence[CallSession]) -> int:
    """Fold ended calls that were counted but never learned (seeded, imported) into the memory.

    For the learning task's incremental run: it picks the calls (its watermark), this folds
    them in one write of the agent row and marks them learned. Counters are not touched:
    whatever closed those calls counted them. Returns how many calls were folded.

    Exactly once, even with two learners at a time: the calls are locked first (in the
    engine's lock order, call then agent, so the two never deadlock), skipping any another
    transaction holds (it is learning or closing them), and re-read unlearned under the lock.
    """
    pending = [
        c
        for c in calls
        if c.ai_agent_id == agent.pk and c.outcome and not c.outcome_learned and c.is_final and not c.is_simulation
    ]
    if not pending:
        return 0
    with transaction.atomic():
        ids = [c.pk for c in pending]
        fresh = list(
            CallSession.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("customer_profile")
            .filter(pk__in=ids, outcome_learned=False, is_simulation=False)
            .exclude(outcome="")
        )
        if not fresh:
            return 0
        locked = _locked_agent(agent.pk)
        actions: dict[Any, list] = {c.pk: [] for c in fresh}
        for call_id, turn_actions in CallTurn.objects.filter(call__in=fresh).values_list("call_id", "actions"):
            actions[call_id].append(turn_actions)
        facts = [
            _facts_from(call=c, customer=c.customer_profile, agent=locked, turn_actions=actions[c.pk]) for c in fresh
        ]
        locked.conversation_memory = fold_outcomes(locked.conversation_memory, facts)
        locked.save(update_fields=["conversation_memory", "updated_at"])
        CallSession.objects.filter(pk__in=[c.pk for c in fresh]).update(outcome_learned=True)
        agent.conversation_memory = locked.conversation_memory
    return len(fresh)


def _validate(
    *,
    outcome: str,
    callback_requested: bool,
    callback_datetime: datetime | None,
    customer_satisfaction: int | None,
) -> None:
    if outcome not in Outcome.values:
        raise ValidationFailed(f"'{outcome}' is not a call outcome ({', '.join(Outcome.values)}).")
    if customer_satisfaction is not None and not 1 <= customer_satisfaction <= 5:
        raise ValidationFailed("customer_satisfaction must be between 1 and 5.")
    if callback_requested and callback_datetime is None:
        raise ValidationFailed("callback_datetime is required when callback_requested is true.")
    if callback_requested and outcome == Outcome.DO_NOT_CALL:
        raise ValidationFailed("A customer who asked not to be called cannot also get a callback.")
    if callback_datetime is not None and timezone.is_naive(callback_datetime):
        raise ValidationFailed("callback_datetime needs a timezone (e.g. 2025-10-02T14:00:00Z).")
    if callback_datetime is not None and callback_datetime < timezone.now():
        raise ValidationFailed(PAST_CALLBACK, code="callback_in_past")


def _record_objections(customer: CustomerProfile, call: CallSession, agent: AIAgent, text: str) -> None:
    trained = (agent.knowledge or {}).get("objection_responses") or {}
    for key, clause in objections_in_text(text, trained):
        customer_record_objection(customer=customer, key=key, text=clause, call_id=str(call.pk))


def _book_callback(
    *, agent: AIAgent, call: CallSession, customer: CustomerProfile, at: datetime, reason: str
) -> ScheduledCallback:
    """Book (or move) the one callback this call asked for, into a time the customer may be called.

    An open callback already booked from this call (by the engine during the call, or by
    an earlier request) is rescheduled rather than duplicated, so a repeated request books
    one callback.
    """
    existing = (
        ScheduledCallback.objects.filter(
            source_call=call, kind=ScheduledCallback.Kind.CALLBACK, status=ScheduledCallback.Status.SCHEDULED
        )
        .order_by("created_at", "id")
        .first()
    )
    if existing is None:
        return callback_schedule(
            agent=agent,
            customer=customer,
            at=at,
            reason=reason or DEFAULT_CALLBACK_REASON,
            priority=CALLBACK_PRIORITY,
            source_call=call,
        )
    callback = callback_reschedule(callback=existing, at=at)
    if reason and reason[:500] != callback.reason:
        callback.reason = reason[:500]
        callback.save(update_fields=["reason", "updated_at"])
    return callback


@transaction.atomic
def call_record_outcome(
    *,
    agent: AIAgent,
    call: CallSession,
    outcome: str,
    customer_response: str | None = None,
    conversation_notes: str | None = None,
    callback_requested: bool = False,
    callback_datetime: datetime | None = None,
    callback_reason: str = "",
    customer_satisfaction: int | None = None,
) -> OutcomeResult:
    """Record how ``call`` went and apply it everywhere, all or nothing.

    Updates the call (outcome, response, notes, satisfaction, follow-up), the customer
    (interest level by :func:`interest_after`, notes and objections appended once per call,
    counters, last contact), the agent's counters and memory (docs/rules.md, "A call's outcome"), and books
    the callback when asked, moved into a time the customer may be called. ``None`` for
    the text fields and satisfaction keeps what the call already has.

    Raises NotFound for another agent's call, ValidationFailed for bad input, and
    CallNotAllowed when a callback is asked for a customer on the do-not-call list; then
    nothing at all is written.
    """
    _validate(
        outcome=outcome,
        callback_requested=callback_requested,
        callback_datetime=callback_datetime,
        customer_satisfaction=customer_satisfaction,
    )
    locked_call = (
        CallSession.objects.select_for_update().select_related("customer_profile").filter(ai_agent=agent, pk=call.pk)
    ).first()
    if locked_call is None:
        raise NotFound(CALL_NOT_FOUND, code="call_not_found")
    call = locked_call
    customer = call.customer_profile
    locked = _locked_agent(agent.pk)
    if callback_requested and customer.is_do_not_call:
        raise CallNotAllowed(
            "The customer is on the do-not-call list, so no callback can be booked. Nothing was recorded.",
            code="do_not_call",
        )

    previous = call.outcome
    changed = previous != outcome
    actions = list(CallTurn.objects.filter(call=call).values_list("actions", flat=True)) if call.is_final else []
    old_facts = call_outcome_facts(call=call, agent=locked, turn_actions=actions) if call.outcome_learned else None

    call.outcome = outcome
    if customer_response is not None:
        call.customer_response = customer_response.strip()
    if conversation_notes is not None:
        call.conversation_notes = conversation_notes.strip()
    if customer_satisfaction is not None:
        call.customer_satisfaction = customer_satisfaction

    counted = False
    if call.is_final:
        if not previous:
            _count_call(customer, locked, outcome)
            counted = True
        elif changed:
            _count_success(customer, locked, previous, -1)
            _count_success(customer, locked, outcome, +1)
        new_facts = call_outcome_facts(call=call, agent=locked, turn_actions=actions)
        memory = locked.conversation_memory
        locked.conversation_memory = (
            refold_outcome(memory, old_facts, new_facts) if old_facts else fold_outcome(memory, new_facts)
        )
        call.outcome_learned = True
    # A call still going on is counted and learned when it ends (call_outcome_learn), with
    # the outcome recorded here unless the conversation decides another one.

    if changed:
        _apply_outcome_to_customer(customer=customer, outcome=outcome)
    customer_fields = set()
    if conversation_notes:
        customer_add_note(customer=customer, text=conversation_notes, source="outcome", call_id=str(call.pk))
    if customer_response:
        _record_objections(customer, call, locked, customer_response)
    _touch_contacted(customer, call)

    callback = None
    if callback_requested and callback_datetime is not None:  # _validate insists on both
        callback = _book_callback(
            agent=locked, call=call, customer=customer, at=callback_datetime, reason=callback_reason
        )
        call.followup_scheduled = True
        call.followup_datetime = callback.scheduled_datetime
        if note_preferred_time(customer=customer, agent=locked, asked_for=callback_datetime):
            customer_fields.add("call_preference_time")

    call.save(
        update_fields=[
            "outcome",
            "customer_response",
            "conversation_notes",
            "customer_satisfaction",
            "followup_scheduled",
            "followup_datetime",
            "outcome_learned",
            "updated_at",
        ]
    )
    call_day_counts_sync(agent=locked, call_ids=[call.pk])
    _save_counters(customer=customer, agent=locked, customer_fields=customer_fields)
    _sync(agent, locked)
    return OutcomeResult(
        call=call,
        customer=customer,
        agent=locked,
        callback=callback,
        callback_requested_at=callback_datetime if callback_requested else None,
        callback_moved=bool(callback and callback.scheduled_datetime != callback_datetime),
        counted=counted,
        changed=changed,
        learned=call.outcome_learned,
    )
