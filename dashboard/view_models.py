"""Reads the dashboard pages need on top of ``dashboard.selectors``, always scoped to one agent.

Same rule as the selectors: a fixed number of queries whatever the number of rows, so a page
costs the same for one customer as for a hundred thousand. The overview must stay fast at a
million calls (bench/dashboard_scale.py), so its charts read counters and the learned memory
(docs/rules.md, "Dashboard counts") instead of scanning calls; see :func:`overview_page`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from agents.memory import coerce_memory, objection_key
from agents.models import AIAgent, AIAgentTraining
from agents.selectors import training_list
from callbacks.models import ScheduledCallback
from callbacks.selectors import CallbackFilters, callback_list
from calls.models import CallSession, CallTurn
from calls.selectors import CallFilters, call_list
from customers.models import CustomerProfile
from dashboard import selectors

Outcome = CallSession.Outcome

# Chart colours per outcome: the same meaning everywhere (green converts, red fails).
OUTCOME_COLORS = {
    Outcome.CONVERTED: "#16a34a",
    Outcome.INTERESTED: "#0d9488",
    Outcome.CALLBACK_REQUESTED: "#6366f1",
    Outcome.ANSWERED: "#3b82f6",
    Outcome.NOT_INTERESTED: "#f59e0b",
    Outcome.VOICEMAIL: "#a855f7",
    Outcome.NO_ANSWER: "#94a3b8",
    Outcome.DO_NOT_CALL: "#be123c",
    Outcome.FAILED: "#ef4444",
    "": "#cbd5e1",
}
OUTCOME_ORDER = [
    Outcome.CONVERTED, Outcome.INTERESTED, Outcome.CALLBACK_REQUESTED, Outcome.ANSWERED, Outcome.NOT_INTERESTED,
    Outcome.VOICEMAIL, Outcome.NO_ANSWER, Outcome.DO_NOT_CALL, Outcome.FAILED, "",
]  # fmt: skip
LEVEL_COLORS = {"cold": "#64748b", "warm": "#f59e0b", "hot": "#ef4444", "converted": "#16a34a"}
NO_OUTCOME_LABEL = "No outcome yet"
CUSTOMER_HISTORY = 20
TRAINING_HISTORY = 20
RINGING_CALLS = 5


def outcome_label(value: str) -> str:
    return Outcome(value).label if value in Outcome.values else NO_OUTCOME_LABEL


# --- overview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectionInsight:
    key: str
    label: str
    count: int
    interest_rate: float
    conversion_rate: float
    answer_uses: int
    answer_interest_rate: float
    answer_conversion_rate: float
    trained_answer: str


@dataclass(frozen=True)
class OverviewPage:
    dashboard: selectors.AgentDashboard
    charts: dict[str, Any]
    latency: selectors.LatencyPercentiles
    relay_latency: selectors.LatencyPercentiles  # ConversationRelay: prompt -> first word sent
    objections: list[ObjectionInsight]
    converting_answers: list[ObjectionInsight]
    pickup_learned_calls: int
    charts_as_of: datetime


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def funnel_from_counts(counts: selectors.CustomerStats) -> list[dict[str, Any]]:
    """cold -> warm -> hot -> converted, from the customer counts the page already fetched (no query).

    ``reached`` counts a customer at every level up to theirs (a hot customer was warm too);
    each step's rate is the share of the previous step that moved on.
    """
    at = {level: getattr(counts, level) for level in selectors.FUNNEL}
    steps, previous = [], None
    for index, level in enumerate(selectors.FUNNEL):
        reached = sum(at[later] for later in selectors.FUNNEL[index:])
        rate = _rate(reached, previous) if previous is not None else (100.0 if reached else 0.0)
        steps.append({"level": level, "count": at[level], "reached": reached, "rate": rate})
        previous = reached
    return steps


def learned_pickup_by_hour(*, agent: AIAgent) -> list[dict[str, Any]]:
    """Pick-up rate per customer-local hour (0-23) from the agent's memory: no query.

    The memory counts every closed call once (``calls.outcomes``), in the customer's local hour
    (the business's when the customer's zone is unknown), and a pick-up is a person answering.
    """
    hours = coerce_memory(agent.conversation_memory)["pickup_hours"]
    rows = []
    for hour in range(24):
        stats = hours.get(str(hour)) or {}
        attempts, answered = stats.get("attempts", 0), stats.get("answered", 0)
        rows.append(
            {"hour": hour, "attempts": attempts, "answered": answered, "pickup_rate": _rate(answered, attempts)}
        )
    return rows


def _calls_per_day_chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    present = {outcome for day in series for outcome, n in day["outcomes"].items() if n}
    datasets = [
        {
            "key": outcome,
            "label": outcome_label(outcome),
            "data": [day["outcomes"].get(outcome, 0) for day in series],
            "backgroundColor": OUTCOME_COLORS.get(outcome, "#cbd5e1"),
        }
        for outcome in OUTCOME_ORDER
        if outcome in present
    ]
    return {
        "labels": [day["date"] for day in series],
        "totals": [day["total"] for day in series],
        "datasets": datasets,
    }


def _funnel_chart(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "labels": [CustomerProfile.InterestLevel(step["level"]).label for step in steps],
        "levels": [step["level"] for step in steps],
        "reached": [step["reached"] for step in steps],
        "counts": [step["count"] for step in steps],
        "rates": [step["rate"] for step in steps],
        "colors": [LEVEL_COLORS[step["level"]] for step in steps],
    }


def _pickup_chart(hours: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "labels": [f"{row['hour']:02d}:00" for row in hours],
        "pickup_rate": [row["pickup_rate"] for row in hours],
        "attempts": [row["attempts"] for row in hours],
        "answered": [row["answered"] for row in hours],
    }


def _latency_chart(latency: selectors.LatencyPercentiles) -> dict[str, Any]:
    return {"labels": ["p50", "p95"], "values_ms": [latency.p50_ms, latency.p95_ms], "turns": latency.turns}


def _objection_insights(agent: AIAgent, rows: list[dict[str, Any]]) -> list[ObjectionInsight]:
    trained = (agent.knowledge or {}).get("objection_responses") or {}
    answers = {objection_key(key): answer for key, answer in trained.items()}
    return [
        ObjectionInsight(
            key=row["key"],
            label=row["label"],
            count=row["count"],
            interest_rate=row["interest_rate"],
            conversion_rate=row["conversion_rate"],
            answer_uses=row["answer_uses"],
            answer_interest_rate=row["answer_interest_rate"],
            answer_conversion_rate=row["answer_conversion_rate"],
            trained_answer=answers.get(row["key"], ""),
        )
        for row in rows
    ]


def overview_page(*, agent: AIAgent, now: datetime | None = None) -> OverviewPage:
    """The overview: the dashboard API's sections plus the four charts and the learning tables.

    Each chart is built the cheap way: the funnel reuses the customer counts already fetched;
    pick-up by hour comes from the learned memory, not a month of calls joined to customer
    timezones; calls per day and customer counts come from the writers' counters. The chart
    figures (calls per day, reply-time percentiles from a sample of recent calls) and the
    customer counts are cached per agent for ``DASHBOARD_CHART_CACHE_SECONDS`` (60 s by default,
    ``selectors.cached_for_agent``; the dashboard API shares the customer counts), so they may be
    a minute old; today's calls, the callbacks and the alerts never are.
    """
    now = now or timezone.now()
    dashboard = selectors.agent_dashboard(agent=agent, now=now)
    as_of, per_day, latency, relay_latency = selectors.cached_for_agent(
        agent,
        "recent-with-relay",
        lambda: (
            now,
            selectors.calls_per_day_by_outcome(agent=agent, now=now),
            selectors.turn_latency_percentiles(agent=agent, now=now),
            selectors.turn_latency_percentiles(agent=agent, now=now, relay=True),
        ),
    )
    pickup = learned_pickup_by_hour(agent=agent)
    charts = {
        "calls_per_day": _calls_per_day_chart(per_day),
        "funnel": _funnel_chart(funnel_from_counts(dashboard.customers)),
        "pickup": _pickup_chart(pickup),
        "latency": _latency_chart(latency),
    }
    objections = _objection_insights(agent, dashboard.learning.top_objections)
    converting = sorted(
        (o for o in objections if o.answer_uses),
        key=lambda o: (-o.answer_conversion_rate, -o.answer_interest_rate, -o.answer_uses, o.key),
    )
    return OverviewPage(
        dashboard=dashboard,
        charts=charts,
        latency=latency,
        relay_latency=relay_latency,
        objections=objections,
        converting_answers=converting,
        pickup_learned_calls=sum(row["attempts"] for row in pickup),
        charts_as_of=as_of,
    )


# --- training ------------------------------------------------------------------------------------


def training_history(*, agent: AIAgent) -> QuerySet[AIAgentTraining]:
    """The training sessions, newest first (the page paginates)."""
    return training_list(agent=agent)


# --- calls ---------------------------------------------------------------------------------------


def ringing_simulated_calls(*, agent: AIAgent, limit: int = RINGING_CALLS) -> list[CallSession]:
    """Outbound calls placed to the built-in phone that nobody has picked up yet (newest first)."""
    return list(
        CallSession.objects.filter(
            ai_agent=agent,
            status__in=(CallSession.Status.QUEUED, CallSession.Status.RINGING),
            answered_at__isnull=True,
            twilio_call_sid__isnull=False,
            is_simulation=False,
        )
        .exclude(call_type=CallSession.CallType.INBOUND)
        .select_related("customer_profile")
        .order_by("-started_at", "-id")[:limit]
    )


def last_sequence(*, call: CallSession) -> int:
    last = CallTurn.objects.filter(call=call).order_by("-sequence").values_list("sequence", flat=True).first()
    return -1 if last is None else last


# --- customers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerHistory:
    calls: list[CallSession]
    callbacks: list[ScheduledCallback]


def customer_history(*, agent: AIAgent, customer: CustomerProfile, limit: int = CUSTOMER_HISTORY) -> CustomerHistory:
    """The customer's latest calls and callbacks (two queries, however long the history)."""
    calls = list(call_list(agent=agent, filters=CallFilters(customer_id=str(customer.pk)))[:limit])
    callbacks = list(
        callback_list(agent=agent, filters=CallbackFilters(customer_id=str(customer.pk))).order_by(
            "-scheduled_datetime", "id"
        )[:limit]
    )
    return CustomerHistory(calls=calls, callbacks=callbacks)


# --- callbacks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackCounts:
    overdue: int
    upcoming: int
    done: int


def callback_counts(*, agent: AIAgent, now: datetime | None = None) -> CallbackCounts:
    now = now or timezone.now()
    scheduled = Q(status=ScheduledCallback.Status.SCHEDULED)
    counts = (
        callback_list(agent=agent)
        .select_related(None)
        .order_by()
        .aggregate(
            overdue=Count("pk", filter=scheduled & Q(scheduled_datetime__lt=now)),
            upcoming=Count("pk", filter=scheduled & Q(scheduled_datetime__gte=now)),
            done=Count("pk", filter=~scheduled),
        )
    )
    return CallbackCounts(**counts)


def callbacks_by_priority(*, agent: AIAgent, overdue: bool) -> QuerySet[ScheduledCallback]:
    """Scheduled callbacks past due (``overdue``) or still to come, most urgent first, then soonest."""
    filters = CallbackFilters(status=ScheduledCallback.Status.SCHEDULED, overdue=overdue)
    return callback_list(agent=agent, filters=filters).order_by("priority_level", "scheduled_datetime", "id")


def callbacks_done(*, agent: AIAgent) -> QuerySet[ScheduledCallback]:
    """Callbacks no longer waiting (placed, completed, cancelled, failed), latest first."""
    return (
        callback_list(agent=agent)
        .exclude(status=ScheduledCallback.Status.SCHEDULED)
        .order_by("-scheduled_datetime", "-id")
    )
