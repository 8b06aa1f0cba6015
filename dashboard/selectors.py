"""Read-only aggregates for the dashboard, always scoped to one agent (and so one client).

Everything here runs a fixed number of queries whatever the number of calls, customers or
callbacks, and reads about as many rows for a busy agent as for a quiet one: the recent
figures and calls per day come from the per-day counters the call services keep
(``calls.day_counts``), the customer counts from the per-level counters the customer
services keep (``customers.level_counts``), lists are sliced, and what still reads calls is
bounded to a day or a sample. Lifetime totals come from the counters the outcome service
keeps on the agent row rather than from counting a million calls.

Days and "today" are the client's (its timezone); pick-up hours are the customer's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.knowledge import level_breakdown
from agents.memory import (
    best_pickup_hours,
    coerce_memory,
    conversion_trend,
    learned_insights,
    preferred_call_hours,
    top_objections,
)
from agents.models import LEARNING_THRESHOLD, AIAgent, AIAgentTraining
from callbacks.models import ScheduledCallback
from callbacks.selectors import callback_list
from calls.models import CallDayCount, CallSession, CallTurn
from calls.selectors import call_list
from customers.models import CustomerLevelCount, CustomerProfile

PERFORMANCE_DAYS = 7  # the window of the dashboard's recent performance figures
RECENT_CALLS = 10
UPCOMING_CALLBACKS = 10
TREND_DAYS = 14
LOW_CONVERSION_MIN_CALLS = 20
CHART_CACHE_SECONDS = 60  # unless settings.DASHBOARD_CHART_CACHE_SECONDS says otherwise

Outcome = CallSession.Outcome
Level = CustomerProfile.InterestLevel
FUNNEL = (Level.COLD, Level.WARM, Level.HOT, Level.CONVERTED)


def client_zone(agent: AIAgent) -> ZoneInfo:
    return ZoneInfo(agent.client.timezone or "UTC")


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _calls(agent: AIAgent) -> QuerySet[CallSession]:
    # Persona simulations are tests, not calls: no real figure counts them.
    return CallSession.objects.filter(ai_agent=agent, is_simulation=False).order_by()


# --- the dashboard's sections ---------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    calls_handled: int  # lifetime, from the agent's counters
    successful_conversions: int
    conversion_rate: float  # percent, lifetime
    window_days: int
    calls_in_window: int
    answered_in_window: int
    conversions_in_window: int
    conversion_rate_in_window: float
    avg_duration_seconds: float | None  # of answered calls in the window
    today_calls: int
    today_outbound_calls: int
    daily_call_limit: int
    daily_calls_remaining: int
    failed_calls_today: int
    llm_fallbacks_24h: int


def agent_performance(*, agent: AIAgent, now: datetime | None = None) -> Performance:
    """Lifetime counters plus the last days' activity: two queries, over day counters and a day of calls.

    The window and today come from the calls-per-day counters (a few rows per day); only the
    AI fallbacks, a rolling 24 hours rather than client days, are summed over the calls.
    """
    now = now or timezone.now()
    zone = client_zone(agent)
    today = now.astimezone(zone).date()
    window_first = (now - timedelta(days=PERFORMANCE_DAYS - 1)).astimezone(zone).date()
    on_today = Q(day__gte=today)
    stats = (
        CallDayCount.objects.filter(ai_agent=agent, day__gte=min(window_first, today))
        .order_by()
        .aggregate(
            window=Coalesce(Sum("calls"), 0),
            answered=Coalesce(Sum("picked_up"), 0),
            conversions=Coalesce(Sum("calls", filter=Q(outcome=Outcome.CONVERTED)), 0),
            duration_calls=Coalesce(Sum("duration_calls"), 0),
            duration_seconds=Coalesce(Sum("duration_seconds"), 0),
            today=Coalesce(Sum("calls", filter=on_today), 0),
            today_outbound=Coalesce(Sum("outbound", filter=on_today), 0),
            failed_today=Coalesce(Sum("failed", filter=on_today), 0),
        )
    )
    # started_at and llm_fallbacks are in call_agent_recent_idx: an index-only sum of one day.
    stats["fallbacks"] = (
        _calls(agent).filter(started_at__gte=now - timedelta(hours=24)).aggregate(n=Sum("llm_fallbacks"))["n"]
    )
    stats["avg_duration"] = stats["duration_seconds"] / stats["duration_calls"] if stats["duration_calls"] else None
    limit = agent.client.daily_call_limit
    return Performance(
        calls_handled=agent.calls_handled,
        successful_conversions=agent.successful_conversions,
        conversion_rate=agent.conversion_rate,
        window_days=PERFORMANCE_DAYS,
        calls_in_window=stats["window"],
        answered_in_window=stats["answered"],
        conversions_in_window=stats["conversions"],
        conversion_rate_in_window=_percent(stats["conversions"], stats["window"]),
        avg_duration_seconds=round(stats["avg_duration"], 1) if stats["avg_duration"] is not None else None,
        today_calls=stats["today"],
        today_outbound_calls=stats["today_outbound"],
        daily_call_limit=limit,
        daily_calls_remaining=max(0, limit - stats["today_outbound"]),
        failed_calls_today=stats["failed_today"],
        llm_fallbacks_24h=stats["fallbacks"] or 0,
    )


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def recent_calls(*, agent: AIAgent, limit: int = RECENT_CALLS) -> list[CallSession]:
    """The newest calls with customer and turn count: the call list's first rows (one query)."""
    return list(call_list(agent=agent)[:limit])


@dataclass(frozen=True)
class CustomerStats:
    total: int
    cold: int
    warm: int
    hot: int
    converted: int
    do_not_call: int


def cached_for_agent(agent: AIAgent, name: str, compute):
    """``compute()``, kept per agent for DASHBOARD_CHART_CACHE_SECONDS (0 turns the cache off).

    Keyed by the agent's public id (never reused), so a value can only ever be that agent's.
    """
    seconds = getattr(settings, "DASHBOARD_CHART_CACHE_SECONDS", CHART_CACHE_SECONDS)
    if not seconds:
        return compute()
    key = f"dashboard:chart:{name}:{agent.public_id}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value


def customer_stats(*, agent: AIAgent) -> CustomerStats:
    """Real customers per level and on the do-not-call list, from the per-level counters (eight rows at most)."""
    counts = CustomerLevelCount.objects.filter(ai_agent=agent).aggregate(
        total=Coalesce(Sum("customers"), 0),
        **{level: Coalesce(Sum("customers", filter=Q(interest_level=level)), 0) for level in FUNNEL},
        do_not_call=Coalesce(Sum("customers", filter=Q(is_do_not_call=True)), 0),
    )
    return CustomerStats(**counts)


@dataclass(frozen=True)
class CallbackOverview:
    scheduled: int
    overdue: int
    due_today: int
    upcoming: list[ScheduledCallback] = field(default_factory=list)


def callback_overview(
    *, agent: AIAgent, now: datetime | None = None, limit: int = UPCOMING_CALLBACKS
) -> CallbackOverview:
    """Scheduled callbacks: the next ones to place and how many are overdue (two queries)."""
    now = now or timezone.now()
    zone = client_zone(agent)
    tomorrow = local_day_start(now.astimezone(zone).date() + timedelta(days=1), zone)
    scheduled = callback_list(agent=agent).filter(status=ScheduledCallback.Status.SCHEDULED)
    counts = (
        scheduled.order_by()
        .select_related(None)
        .aggregate(
            scheduled=Count("pk"),
            overdue=Count("pk", filter=Q(scheduled_datetime__lt=now)),
            due_today=Count("pk", filter=Q(scheduled_datetime__gte=now, scheduled_datetime__lt=tomorrow)),
        )
    )
    upcoming = list(
        scheduled.filter(scheduled_datetime__gte=now)
        .select_related("customer_profile")
        .order_by("scheduled_datetime", "priority_level", "id")[:limit]
    )
    return CallbackOverview(upcoming=upcoming, **counts)


@dataclass(frozen=True)
class TrainingOverview:
    level: int
    status: str
    can_take_calls: bool
    breakdown: dict[str, dict[str, float]]
    sessions: int
    last_session_at: datetime | None
    objections_trained: int


def training_overview(*, agent: AIAgent) -> TrainingOverview:
    sessions = (
        AIAgentTraining.objects.filter(ai_agent=agent).order_by().aggregate(n=Count("pk"), last=Max("created_at"))
    )
    knowledge = agent.knowledge or {}
    return TrainingOverview(
        level=agent.training_level,
        status=agent.status,
        can_take_calls=agent.can_take_calls,
        breakdown=level_breakdown(knowledge),
        sessions=sessions["n"],
        last_session_at=sessions["last"],
        objections_trained=len(knowledge.get("objection_responses") or {}),
    )


@dataclass(frozen=True)
class LearningInsights:
    processed_calls: int
    outcomes: dict[str, int]
    top_objections: list[dict[str, Any]]
    best_pickup_hours: list[dict[str, Any]]
    conversion_trend: list[dict[str, Any]]
    insights: list[str]  # plain sentences, most useful first
    preferred_call_hours: list[int]  # customer-local hours the agent books open callbacks at


def learning_insights(*, agent: AIAgent, now: datetime | None = None) -> LearningInsights:
    """What the agent's memory says, read from the agent row (no query)."""
    memory = coerce_memory(agent.conversation_memory)
    today = (now or timezone.now()).astimezone(client_zone(agent)).date()
    return LearningInsights(
        processed_calls=memory["processed_calls"],
        outcomes=memory["outcomes"],
        top_objections=top_objections(memory),
        best_pickup_hours=best_pickup_hours(memory),
        conversion_trend=conversion_trend(memory, today=today, days=TREND_DAYS),
        insights=learned_insights(memory, today=today),
        preferred_call_hours=preferred_call_hours(memory),
    )


@dataclass(frozen=True)
class QuickAction:
    key: str
    label: str
    endpoint: str  # the API call that does it


@dataclass(frozen=True)
class Alert:
    code: str
    level: str  # info | warning | error
    message: str
    count: int = 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def quick_actions(
    *, agent: AIAgent, training: TrainingOverview, customers: CustomerStats, callbacks: CallbackOverview,
    performance: Performance,
) -> list[QuickAction]:  # fmt: skip
    """The next useful things to do, most pressing first."""
    actions: list[QuickAction] = []
    if callbacks.overdue:
        actions.append(
            QuickAction(
                "review_overdue_callbacks",
                f"Review {_plural(callbacks.overdue, 'overdue callback')}",
                "GET /api/dashboard/ai-agent/callbacks/?status=scheduled&overdue=true",
            )
        )
    if not training.breakdown["script"]["points"]:
        actions.append(QuickAction("add_sales_script", "Add a sales script", "POST /api/agents/ai/training/"))
    if not training.objections_trained:
        actions.append(
            QuickAction("train_objection_handling", "Train objection handling", "POST /api/agents/ai/training/")
        )
    if not training.breakdown["product"]["points"]:
        actions.append(QuickAction("add_product_details", "Add product details", "POST /api/agents/ai/training/"))
    if training.level < 100 and training.objections_trained and training.breakdown["script"]["points"]:
        actions.append(
            QuickAction(
                "continue_training", f"Continue training ({training.level}% done)", "POST /api/agents/ai/training/"
            )
        )
    if not agent.phone_number:
        actions.append(QuickAction("set_phone_number", "Set the agent's phone number", "PATCH /api/agents/ai/"))
    if not customers.total:
        actions.append(
            QuickAction("add_customers", "Add or import customers", "GET /api/dashboard/ai-agent/customers/")
        )
    elif training.can_take_calls and not performance.calls_handled and not performance.calls_in_window:
        actions.append(QuickAction("start_first_call", "Start the first call", "POST /api/agents/ai/start-call/"))
    return actions


def alerts(*, agent: AIAgent, performance: Performance, callbacks: CallbackOverview) -> list[Alert]:
    """What needs attention now, most serious first."""
    found: list[Alert] = []
    if agent.training_level < LEARNING_THRESHOLD:
        found.append(
            Alert(
                "agent_not_trained", "error",
                f"The agent is trained to {agent.training_level}%; it needs {LEARNING_THRESHOLD}% to take calls.",
            )
        )  # fmt: skip
    if agent.status == AIAgent.Status.PAUSED:
        found.append(Alert("agent_paused", "warning", "The agent is paused and takes no calls."))
    if callbacks.overdue:
        found.append(
            Alert(
                "overdue_callbacks", "warning",
                f"{_plural(callbacks.overdue, 'callback')} past due and not placed yet.", callbacks.overdue,
            )
        )  # fmt: skip
    if performance.failed_calls_today:
        found.append(
            Alert(
                "failed_calls_today", "warning",
                f"{_plural(performance.failed_calls_today, 'call')} failed today.", performance.failed_calls_today,
            )
        )  # fmt: skip
    if performance.llm_fallbacks_24h:
        found.append(
            Alert(
                "llm_fallbacks", "warning",
                f"The AI model failed on {_plural(performance.llm_fallbacks_24h, 'turn')} in the last 24 h; "
                "the scripted provider answered instead.",
                performance.llm_fallbacks_24h,
            )
        )  # fmt: skip
    if performance.daily_call_limit and performance.today_outbound_calls >= performance.daily_call_limit:
        found.append(
            Alert(
                "daily_limit_reached", "info",
                f"Today's limit of {performance.daily_call_limit} outbound calls is reached; calls resume tomorrow.",
                performance.today_outbound_calls,
            )
        )  # fmt: skip
    if performance.calls_in_window >= LOW_CONVERSION_MIN_CALLS and performance.conversion_rate_in_window == 0:
        found.append(
            Alert(
                "no_conversions", "info",
                f"No conversions in the last {PERFORMANCE_DAYS} days out of "
                f"{_plural(performance.calls_in_window, 'call')}: review the objection answers.",
            )
        )  # fmt: skip
    return found


@dataclass(frozen=True)
class AgentDashboard:
    agent: AIAgent
    performance: Performance
    recent_calls: list[CallSession]
    customers: CustomerStats
    callbacks: CallbackOverview
    training: TrainingOverview
    learning: LearningInsights
    quick_actions: list[QuickAction]
    alerts: list[Alert]
    generated_at: datetime


def agent_dashboard(*, agent: AIAgent, now: datetime | None = None) -> AgentDashboard:
    """Everything ``GET /api/dashboard/ai-agent/`` and the overview show above the charts.

    Seven queries whatever the data size. The customer counts may be a minute old (the chart
    cache), the figure that matters least to the second; today's calls, the callbacks and the
    alerts are always live.
    """
    now = now or timezone.now()
    performance = agent_performance(agent=agent, now=now)
    customers = cached_for_agent(agent, "customers", lambda: customer_stats(agent=agent))
    callbacks = callback_overview(agent=agent, now=now)
    training = training_overview(agent=agent)
    return AgentDashboard(
        agent=agent,
        performance=performance,
        recent_calls=recent_calls(agent=agent),
        customers=customers,
        callbacks=callbacks,
        training=training,
        learning=learning_insights(agent=agent, now=now),
        quick_actions=quick_actions(
            agent=agent, training=training, customers=customers, callbacks=callbacks, performance=performance
        ),
        alerts=alerts(agent=agent, performance=performance, callbacks=callbacks),
        generated_at=now,
    )


# --- series for the dashboard pages' charts ------------------------------------------------------


def calls_per_day_by_outcome(*, agent: AIAgent, days: int = 14, now: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"date", "total", "outcomes": {outcome: n}}]`` for each of the last ``days`` client-local days.

    One query over the calls-per-day counters (a row per day and outcome); days without calls
    are filled with zeros. Calls without an outcome yet are counted under ``""``.
    """
    now = now or timezone.now()
    zone = client_zone(agent)
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    rows = CallDayCount.objects.filter(ai_agent=agent, day__gte=first, calls__gt=0).values_list(
        "day", "outcome", "calls"
    )
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for day, outcome, n in rows:
        per_day[day][outcome] = n
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        outcomes = per_day.get(day, {})
        series.append({"date": day.isoformat(), "total": sum(outcomes.values()), "outcomes": dict(outcomes)})
    return series


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(p) WITHIN GROUP (ORDER BY x)``: the interpolated percentile."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        # float() keeps the literal a number: nothing from outside reaches the SQL text.
        super().__init__(expression, percentile=repr(float(percentile)), **extra)


@dataclass(frozen=True)
class LatencyPercentiles:
    turns: int
    p50_ms: float | None
    p95_ms: float | None
    days: int


LATENCY_SAMPLE_CALLS = 500


def turn_latency_percentiles(
    *, agent: AIAgent, days: int = 7, now: datetime | None = None, relay: bool = False
) -> LatencyPercentiles:
    """p50 and p95 of the time the agent took to answer, over its turns on calls of the last ``days`` days.

    ``<Gather>`` turns by default (webhook in, TwiML out); with ``relay``, ConversationRelay
    turns' time from the caller's prompt to the first word sent, which is what the caller
    waits for on a streamed reply. Each kind is left out of the other's figures.

    At most the latest :data:`LATENCY_SAMPLE_CALLS` calls are read (found newest first through
    the agent/time index), so a busy agent's overview costs the same as a quiet one's.

    Both databases give the same, linearly interpolated answer (``percentile_cont``): on
    PostgreSQL in one aggregate; elsewhere with a COUNT and, per percentile, one
    ``ORDER BY latency_ms LIMIT 2 OFFSET k`` query that reads the two values around it.
    """
    now = now or timezone.now()
    # The ids first, as a list: against a subquery PostgreSQL hash-joins every turn in the table;
    # against a list it probes the (call, sequence) index once per call.
    recent_calls = list(
        CallSession.objects.filter(ai_agent=agent, started_at__gte=now - timedelta(days=days), is_simulation=False)
        .order_by("-started_at")
        .values_list("pk", flat=True)[:LATENCY_SAMPLE_CALLS]
    )
    field = "first_token_ms" if relay else "latency_ms"
    turns = CallTurn.objects.filter(
        call_id__in=recent_calls,
        speaker=CallTurn.Speaker.AGENT,
        **{f"{field}__isnull": False},
    ).order_by()
    if not relay:
        turns = turns.filter(first_token_ms__isnull=True)
    if connection.vendor == "postgresql":
        stats = turns.aggregate(n=Count("pk"), p50=PercentileCont(field, 0.5), p95=PercentileCont(field, 0.95))
        return LatencyPercentiles(turns=stats["n"], p50_ms=_ms(stats["p50"]), p95_ms=_ms(stats["p95"]), days=days)
    n = turns.count()
    if not n:
        return LatencyPercentiles(turns=0, p50_ms=None, p95_ms=None, days=days)
    ordered = turns.order_by(field).values_list(field, flat=True)

    def percentile(p: float) -> float:
        position = p * (n - 1)
        low = math.floor(position)
        values = list(ordered[low : low + 2])
        if len(values) == 1 or position == low:
            return float(values[0])
        return values[0] + (values[1] - values[0]) * (position - low)

    return LatencyPercentiles(turns=n, p50_ms=_ms(percentile(0.5)), p95_ms=_ms(percentile(0.95)), days=days)


def _ms(value: float | None) -> float | None:
    return round(float(value), 1) if value is not None else None
