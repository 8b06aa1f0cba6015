"""A lead's score: who to call first, from what the product knows, with its parts kept visible.

Parts (points): interest level; recent engagement (contacted lately); earlier outcomes (the
customer's last calls); pick-up (how often this lead answered, else how often the agent's
customers answer at the lead's preferred time of day); attempts already used in this campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from agents.memory import best_pickup_hours
from agents.models import AIAgent
from calls.models import CallSession
from customers.models import CustomerProfile

INTEREST = {"cold": 10, "warm": 25, "hot": 40, "converted": 0}
OUTCOME_POINTS = {
    CallSession.Outcome.INTERESTED: 10,
    CallSession.Outcome.CALLBACK_REQUESTED: 8,
    CallSession.Outcome.ANSWERED: 3,
    CallSession.Outcome.NOT_INTERESTED: -15,
    CallSession.Outcome.NO_ANSWER: -2,
    CallSession.Outcome.VOICEMAIL: -2,
}
PICKED_UP = {
    CallSession.Outcome.ANSWERED, CallSession.Outcome.INTERESTED, CallSession.Outcome.NOT_INTERESTED,
    CallSession.Outcome.CONVERTED, CallSession.Outcome.CALLBACK_REQUESTED, CallSession.Outcome.DO_NOT_CALL,
}  # fmt: skip
PREFERRED_HOURS = {"morning": range(8, 12), "afternoon": range(12, 17), "evening": range(17, 21)}
PER_ATTEMPT = -8
HISTORY = 10  # earlier calls looked at per customer


def call_history(customers: Sequence[CustomerProfile]) -> dict:
    """The last outcomes of each customer's calls (newest first): one query for a batch of leads."""
    history: dict = defaultdict(list)
    rows = (
        CallSession.objects.filter(customer_profile__in=[c.pk for c in customers], is_simulation=False)
        .exclude(outcome="")
        .order_by("customer_profile", "-started_at")
        .values_list("customer_profile", "outcome")
    )
    for customer_id, outcome in rows:
        if len(history[customer_id]) < HISTORY:
            history[customer_id].append(outcome)
    return history


def lead_score(
    *, agent: AIAgent, customer: CustomerProfile, outcomes: Sequence[str], attempts: int, now: datetime
) -> tuple[float, dict]:
    parts: dict[str, float] = {"interest": INTEREST.get(customer.interest_level, 0)}
    last = customer.last_contacted_at
    since = now - last if last else timedelta.max
    parts["engagement"] = 10 if since < timedelta(days=7) else 5 if since < timedelta(days=30) else 0
    parts["outcomes"] = max(-20, min(20, sum(OUTCOME_POINTS.get(o, 0) for o in outcomes)))
    if outcomes:
        parts["pickup"] = round(10 * sum(o in PICKED_UP for o in outcomes) / len(outcomes), 1)
    else:
        best = {h["hour"]: h["pickup_rate"] for h in best_pickup_hours(agent.conversation_memory, limit=24)}
        hours = PREFERRED_HOURS.get(customer.call_preference_time, ())
        rates = [best[h] for h in hours if h in best]
        parts["pickup"] = round(max(rates) / 10, 1) if rates else 5.0  # rates are in %
    parts["attempts"] = PER_ATTEMPT * attempts
    return round(sum(parts.values()), 1), parts
