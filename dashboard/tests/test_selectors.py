"""Dashboard aggregates: right numbers in the client's day, customer-local hours, fixed query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from agents.memory import OutcomeFacts, fold_outcomes
from agents.tests.factories import AIAgentTrainingFactory
from callbacks.tests.factories import CallbackFactory
from calls.models import CallTurn
from calls.tests.factories import CallFactory
from customers.tests.factories import CustomerFactory
from dashboard.selectors import (
    agent_dashboard,
    agent_performance,
    alerts,
    callback_overview,
    calls_per_day_by_outcome,
    customer_stats,
    quick_actions,
    training_overview,
    turn_latency_percentiles,
)
from dashboard.view_models import funnel_from_counts

NOW = datetime(2025, 10, 1, 15, 0, tzinfo=UTC)  # Wednesday 11:00 in New York (client A's timezone)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def customer(agent_a):
    return CustomerFactory(ai_agent=agent_a)


def call(customer, started_at, **fields):
    return CallFactory(customer_profile=customer, started_at=started_at, **fields)


def test_performance_counts_today_in_the_clients_timezone(agent_a, customer, agent_b):
    agent_a.calls_handled, agent_a.successful_conversions = 40, 10
    call(customer, NOW - timedelta(hours=1), outcome="converted", duration_seconds=100)
    call(customer, NOW - timedelta(hours=2), call_type="inbound", outcome="answered", duration_seconds=50)
    call(customer, NOW - timedelta(hours=3), status="failed", outcome="failed", llm_fallbacks=2)
    # 23:00 the evening before in New York: not today, but within the last 24 hours.
    call(customer, datetime(2025, 10, 1, 3, 0, tzinfo=UTC), status="no_answer", outcome="no_answer", llm_fallbacks=3)
    call(customer, NOW - timedelta(days=10), outcome="converted", duration_seconds=999, llm_fallbacks=7)
    call(CustomerFactory(ai_agent=agent_b), NOW, outcome="converted", llm_fallbacks=9, status="failed")

    perf = agent_performance(agent=agent_a)

    assert (perf.calls_handled, perf.successful_conversions, perf.conversion_rate) == (40, 10, 25.0)
    assert (perf.today_calls, perf.today_outbound_calls, perf.failed_calls_today) == (3, 2, 1)
    assert perf.llm_fallbacks_24h == 5
    assert (perf.calls_in_window, perf.answered_in_window, perf.conversions_in_window) == (4, 2, 1)
    assert perf.conversion_rate_in_window == 25.0
    assert perf.avg_duration_seconds == 75.0
    assert (perf.daily_call_limit, perf.daily_calls_remaining) == (200, 198)


def test_performance_of_a_new_agent_is_all_zeros(agent_a):
    perf = agent_performance(agent=agent_a)

    assert (perf.calls_in_window, perf.today_calls, perf.llm_fallbacks_24h, perf.avg_duration_seconds) == (
        0,
        0,
        0,
        None,
    )


def test_callback_overview(agent_a, customer, agent_b):
    overdue = CallbackFactory(customer_profile=customer, scheduled_datetime=NOW - timedelta(hours=1))
    later_today = CallbackFactory(customer_profile=customer, scheduled_datetime=NOW + timedelta(hours=2))
    tomorrow = CallbackFactory(customer_profile=customer, scheduled_datetime=NOW + timedelta(days=1))
    CallbackFactory(customer_profile=customer, scheduled_datetime=NOW - timedelta(days=1), status="completed")
    CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_b), scheduled_datetime=NOW - timedelta(hours=1))

    overview = callback_overview(agent=agent_a)

    assert (overview.scheduled, overview.overdue, overview.due_today) == (3, 1, 1)
    assert [c.pk for c in overview.upcoming] == [later_today.pk, tomorrow.pk]
    assert overdue.pk not in [c.pk for c in overview.upcoming]


def test_customer_stats_and_funnel(agent_a, agent_b):
    for level, n in (("cold", 4), ("warm", 3), ("hot", 2)):
        for _ in range(n):
            CustomerFactory(ai_agent=agent_a, interest_level=level)
    CustomerFactory(ai_agent=agent_a, interest_level="converted", is_converted=True, is_do_not_call=True)
    CustomerFactory(ai_agent=agent_b, interest_level="hot")

    stats = customer_stats(agent=agent_a)

    assert (stats.total, stats.cold, stats.warm, stats.hot, stats.converted, stats.do_not_call) == (10, 4, 3, 2, 1, 1)
    assert funnel_from_counts(stats) == [
        {"level": "cold", "count": 4, "reached": 10, "rate": 100.0},
        {"level": "warm", "count": 3, "reached": 6, "rate": 60.0},
        {"level": "hot", "count": 2, "reached": 3, "rate": 50.0},
        {"level": "converted", "count": 1, "reached": 1, "rate": 33.3},
    ]


def test_empty_funnel(agent_a):
    assert [step["rate"] for step in funnel_from_counts(customer_stats(agent=agent_a))] == [0.0, 0.0, 0.0, 0.0]


def test_training_overview(agent_a):
    agent_a.knowledge = {"script": " ".join(["word"] * 60), "objection_responses": {"price": "It pays for itself."}}
    AIAgentTrainingFactory.create_batch(2, ai_agent=agent_a)

    overview = training_overview(agent=agent_a)

    assert (overview.level, overview.status, overview.sessions, overview.objections_trained) == (85, "active", 2, 1)
    assert overview.breakdown["script"] == {"points": 25.0, "max": 25}
    assert overview.last_session_at is not None


def test_quick_actions_for_a_blank_agent_with_overdue_callbacks(agent_a, customer):
    agent_a.phone_number = None
    CallbackFactory.create_batch(3, customer_profile=customer, scheduled_datetime=NOW - timedelta(hours=1))
    dashboard = agent_dashboard(agent=agent_a)

    actions = {a.key: a for a in quick_actions(
        agent=agent_a, training=dashboard.training, customers=dashboard.customers, callbacks=dashboard.callbacks,
        performance=dashboard.performance,
    )}  # fmt: skip

    assert actions["review_overdue_callbacks"].label == "Review 3 overdue callbacks"
    assert set(actions) >= {"add_sales_script", "train_objection_handling", "add_product_details", "set_phone_number"}
    assert actions["train_objection_handling"].endpoint == "POST /api/agents/ai/training/"
    assert "start_first_call" in actions  # trained to 85 %, has a customer, no call yet


def test_quick_actions_for_a_trained_agent_with_no_customers(agent_a):
    agent_a.knowledge = {
        "script": " ".join(["word"] * 60),
        "objection_responses": {"price": "It pays for itself."},
        "product_info": {"pricing": "$89/month"},
    }
    dashboard = agent_dashboard(agent=agent_a)

    assert [a.key for a in dashboard.quick_actions] == ["continue_training", "add_customers"]


def test_alerts(agent_a, customer):
    agent_a.training_level = 12
    agent_a.client.daily_call_limit = 2
    call(customer, NOW - timedelta(hours=1), status="failed", outcome="failed", llm_fallbacks=4)
    call(customer, NOW - timedelta(hours=2), outcome="answered")
    CallbackFactory(customer_profile=customer, scheduled_datetime=NOW - timedelta(hours=1))

    found = {a.code: a for a in alerts(
        agent=agent_a, performance=agent_performance(agent=agent_a), callbacks=callback_overview(agent=agent_a)
    )}  # fmt: skip

    assert list(found) == [
        "agent_not_trained", "overdue_callbacks", "failed_calls_today", "llm_fallbacks", "daily_limit_reached"
    ]  # fmt: skip
    assert found["agent_not_trained"].level == "error"
    assert found["agent_not_trained"].message == "The agent is trained to 12%; it needs 20% to take calls."
    assert (found["llm_fallbacks"].count, found["overdue_callbacks"].count) == (4, 1)
    assert found["failed_calls_today"].message == "1 call failed today."


def test_no_alerts_for_a_healthy_agent(agent_a):
    assert agent_dashboard(agent=agent_a).alerts == []


def test_learning_insights_come_from_the_memory(agent_a):
    day = NOW.date()
    agent_a.conversation_memory = fold_outcomes(
        {},
        [
            OutcomeFacts("converted", True, day, 14, frozenset({"price_too_high"}), frozenset({"price_too_high"})),
            OutcomeFacts("interested", True, day, 14, frozenset({"price_too_high"})),
            OutcomeFacts("no_answer", False, day, 14),
        ],
    )

    learning = agent_dashboard(agent=agent_a).learning

    assert learning.processed_calls == 3
    assert learning.top_objections[0]["key"] == "price_too_high"
    assert learning.top_objections[0]["answer_conversion_rate"] == 100.0
    assert learning.best_pickup_hours == [{"hour": 14, "attempts": 3, "answered": 2, "pickup_rate": 66.7}]
    assert learning.conversion_trend[-1] == {"date": "2025-10-01", "calls": 3, "conversions": 1}
    assert len(learning.conversion_trend) == 14


def test_learning_insights_survive_garbage_memory(agent_a):
    agent_a.conversation_memory = {"processed_calls": "many", "objections": [1, 2], "pickup_hours": {"x": 1}}

    learning = agent_dashboard(agent=agent_a).learning

    assert (learning.processed_calls, learning.top_objections, learning.best_pickup_hours) == (0, [], [])


def _fill(agent, customers: int, calls: int) -> None:
    people = [CustomerFactory(ai_agent=agent) for _ in range(customers)]
    for i in range(calls):
        one = call(people[i % len(people)], NOW - timedelta(hours=i), outcome="converted", duration_seconds=60)
        CallTurn.objects.create(call=one, sequence=0, speaker="agent", latency_ms=300)
    for person in people[:10]:
        CallbackFactory(customer_profile=person, scheduled_datetime=NOW + timedelta(hours=1))
    AIAgentTrainingFactory(ai_agent=agent)


def test_dashboard_runs_a_fixed_number_of_queries(agent_a, django_assert_num_queries):
    # Seven: the recent figures read the day counters, plus one sum of the last 24 hours' AI fallbacks.
    _fill(agent_a, customers=1, calls=1)
    with django_assert_num_queries(7):
        agent_dashboard(agent=agent_a)

    _fill(agent_a, customers=30, calls=200)
    with django_assert_num_queries(7):
        dashboard = agent_dashboard(agent=agent_a)
    assert (len(dashboard.recent_calls), len(dashboard.callbacks.upcoming)) == (10, 10)


# --- chart series -------------------------------------------------------------------------------


def test_calls_per_day_by_outcome_uses_client_days_and_fills_gaps(agent_a, customer, agent_b):
    call(customer, NOW, outcome="converted")
    call(customer, NOW - timedelta(hours=1), outcome="interested")
    call(customer, datetime(2025, 10, 1, 3, 30, tzinfo=UTC), outcome="no_answer")  # 23:30 Sept 30 in New York
    call(customer, NOW - timedelta(days=5), outcome="converted")  # outside the window
    call(CustomerFactory(ai_agent=agent_b), NOW, outcome="converted")

    series = calls_per_day_by_outcome(agent=agent_a, days=3)

    assert series == [
        {"date": "2025-09-29", "total": 0, "outcomes": {}},
        {"date": "2025-09-30", "total": 1, "outcomes": {"no_answer": 1}},
        {"date": "2025-10-01", "total": 2, "outcomes": {"converted": 1, "interested": 1}},
    ]


def _turns(call_obj, latencies, speaker="agent"):
    start = CallTurn.objects.filter(call=call_obj).count()
    CallTurn.objects.bulk_create(
        [CallTurn(call=call_obj, sequence=start + i, speaker=speaker, latency_ms=ms) for i, ms in enumerate(latencies)]
    )


def test_turn_latency_percentiles_interpolate_like_percentile_cont(agent_a, customer, agent_b):
    recent = call(customer, NOW - timedelta(days=1))
    _turns(recent, [1000, 100, 900, 200, 800, 300, 700, 400, 600, 500])
    _turns(recent, [5], speaker="caller")
    _turns(recent, [None])
    _turns(call(customer, NOW - timedelta(days=30)), [99999])
    _turns(call(CustomerFactory(ai_agent=agent_b), NOW), [88888])

    result = turn_latency_percentiles(agent=agent_a, days=7)

    assert (result.turns, result.p50_ms, result.p95_ms, result.days) == (10, 550.0, 955.0, 7)


def test_turn_latency_percentiles_with_one_or_no_turns(agent_a, customer):
    assert turn_latency_percentiles(agent=agent_a).p50_ms is None

    _turns(call(customer, NOW), [420])

    result = turn_latency_percentiles(agent=agent_a)
    assert (result.turns, result.p50_ms, result.p95_ms) == (1, 420.0, 420.0)


def test_chart_series_run_a_fixed_number_of_queries(agent_a, django_assert_max_num_queries):
    _fill(agent_a, customers=20, calls=120)
    with django_assert_max_num_queries(1):
        calls_per_day_by_outcome(agent=agent_a, days=14)
    with django_assert_max_num_queries(4):  # the sampled call ids, then (on SQLite) a count and two ranks
        turn_latency_percentiles(agent=agent_a)


def test_relay_turns_have_their_own_time_to_first_word_and_stay_out_of_the_gather_figures(agent_a, customer):
    relay_call = call(customer, NOW - timedelta(hours=1))
    CallTurn.objects.bulk_create(
        [
            CallTurn(
                call=relay_call,
                sequence=i,
                speaker="agent",
                latency_ms=first + 900,
                first_token_ms=first,
                last_token_ms=first + 900,
            )
            for i, first in enumerate([100, 200, 300])
        ]
    )
    _turns(call(customer, NOW - timedelta(hours=2)), [1500, 2500])

    gather = turn_latency_percentiles(agent=agent_a)
    relay = turn_latency_percentiles(agent=agent_a, relay=True)

    assert (gather.turns, gather.p50_ms) == (2, 2000.0)
    assert (relay.turns, relay.p50_ms, relay.p95_ms) == (3, 200.0, 290.0)
