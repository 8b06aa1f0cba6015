"""GET /api/dashboard/ai-agent/: every section, tenancy, and a query count independent of the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory, UserFactory
from agents.memory import OutcomeFacts, fold_outcomes
from agents.selectors import NO_AGENT_MESSAGE
from agents.tests.factories import AIAgentTrainingFactory
from callbacks.tests.factories import CallbackFactory
from calls.day_counts import call_day_counts_rebuild
from calls.models import CallSession, CallTurn
from customers.level_counts import customer_level_counts_rebuild
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

NOW = datetime(2025, 10, 1, 15, 0, tzinfo=UTC)  # Wednesday 11:00 in New York
URL = "/api/dashboard/ai-agent/"
SECTIONS = {
    "agent", "performance", "recent_calls", "customers", "callbacks", "training", "learning", "quick_actions",
    "alerts", "generated_at",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def fill(agent, *, customers: int, calls: int, callbacks: int, trainings: int = 1) -> None:
    """Rows of every kind the dashboard reads, created in bulk."""
    people = CustomerProfile.objects.bulk_create(
        [
            CustomerProfile(
                ai_agent=agent,
                phone_number=f"+1212555{i:04d}",
                name=f"Customer {i}",
                timezone="America/New_York",
                interest_level=("cold", "warm", "hot")[i % 3],
            )
            for i in range(customers)
        ]
    )
    sessions = CallSession.objects.bulk_create(
        [
            CallSession(
                ai_agent=agent,
                customer_profile=people[i % customers],
                call_type="outbound",
                status="completed",
                outcome=("interested", "converted", "no_answer")[i % 3],
                started_at=NOW - timedelta(minutes=10 * i),
                duration_seconds=60,
                llm_fallbacks=i % 2,
            )
            for i in range(calls)
        ]
    )
    CallTurn.objects.bulk_create(
        [CallTurn(call=s, sequence=n, speaker="agent", latency_ms=300) for s in sessions for n in range(2)]
    )
    for i in range(callbacks):
        CallbackFactory(customer_profile=people[i % customers], scheduled_datetime=NOW + timedelta(hours=i - 2))
    AIAgentTrainingFactory.create_batch(trainings, ai_agent=agent)
    # Loaded in bulk past the services, so recounted as after a bulk load.
    call_day_counts_rebuild(agent=agent)
    customer_level_counts_rebuild(agent=agent)


def test_dashboard_has_every_section(api_a, agent_a):
    agent_a.knowledge = {"objection_responses": {"price_too_high": "It pays for itself."}}
    agent_a.calls_handled, agent_a.successful_conversions = 9, 3
    agent_a.conversation_memory = fold_outcomes(
        {},
        [OutcomeFacts("converted", True, NOW.date(), 14, frozenset({"price_too_high"}), frozenset({"price_too_high"}))],
    )
    agent_a.save()
    fill(agent_a, customers=4, calls=12, callbacks=3)

    response = api_a.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == SECTIONS
    assert body["agent"]["name"] == "Sarah"
    assert body["agent"]["can_take_calls"] is True
    perf = body["performance"]
    assert (perf["calls_handled"], perf["successful_conversions"], perf["conversion_rate"]) == (9, 3, 33.3)
    assert (perf["today_calls"], perf["today_outbound_calls"], perf["daily_call_limit"]) == (12, 12, 200)
    assert perf["avg_duration_seconds"] == 60.0
    assert perf["llm_fallbacks_24h"] == 6
    assert len(body["recent_calls"]) == 10
    assert body["recent_calls"][0]["turn_count"] == 2
    assert set(body["recent_calls"][0]) >= {"customer_name", "customer_phone", "outcome", "sentiment_label"}
    assert body["customers"] == {"total": 4, "cold": 2, "warm": 1, "hot": 1, "converted": 0, "do_not_call": 0}
    assert (body["callbacks"]["scheduled"], body["callbacks"]["overdue"]) == (3, 2)
    assert len(body["callbacks"]["upcoming"]) == 1
    assert body["training"]["sessions"] == 1
    assert body["training"]["objections_trained"] == 1
    assert set(body["training"]["breakdown"]) == {"script", "product", "objections", "company", "techniques", "faq"}
    assert body["learning"]["top_objections"][0]["key"] == "price_too_high"
    assert body["learning"]["processed_calls"] == 1
    assert "review_overdue_callbacks" in [a["key"] for a in body["quick_actions"]]
    assert {a["code"] for a in body["alerts"]} == {"overdue_callbacks", "llm_fallbacks"}


def test_dashboard_of_a_new_agent(api_a, agent_a):
    agent_a.training_level = 0
    agent_a.status = "training"
    agent_a.phone_number = None
    agent_a.save()

    body = api_a.get(URL).json()

    assert body["recent_calls"] == []
    assert body["customers"]["total"] == 0
    assert body["learning"]["top_objections"] == []
    assert [a["code"] for a in body["alerts"]] == ["agent_not_trained"]
    assert {"set_phone_number", "train_objection_handling"} <= {a["key"] for a in body["quick_actions"]}


def test_dashboard_without_an_agent_is_404_with_how_to_create_one(db):
    api = APIClient()
    api.force_authenticate(UserFactory(client=ClientFactory()))

    response = api.get(URL)

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "agent_not_found", "message": NO_AGENT_MESSAGE}


def test_dashboard_needs_sign_in(agent_a):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_staff_without_a_client_are_refused(staff_user):
    api = APIClient()
    api.force_authenticate(staff_user)

    assert api.get(URL).status_code == 403


def test_dashboard_shows_nothing_of_another_client(api_b, agent_b, agent_a):
    agent_a.calls_handled = 50
    agent_a.conversation_memory = fold_outcomes({}, [OutcomeFacts("converted", True, NOW.date(), 9, frozenset({"x"}))])
    agent_a.save()
    fill(agent_a, customers=5, calls=20, callbacks=4)
    before = CallSession.objects.filter(ai_agent=agent_a).count()

    body = api_b.get(URL).json()

    assert body["agent"]["name"] == "Ben"
    assert body["recent_calls"] == []
    assert body["customers"]["total"] == 0
    assert (body["callbacks"]["scheduled"], body["callbacks"]["upcoming"]) == (0, [])
    assert (body["performance"]["calls_handled"], body["performance"]["today_calls"]) == (0, 0)
    assert (body["learning"]["processed_calls"], body["training"]["sessions"]) == (0, 0)
    assert CallSession.objects.filter(ai_agent=agent_a).count() == before


def _queries(api) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(URL)
    assert response.status_code == 200
    return len(captured)


def test_dashboard_query_count_is_the_same_with_1_and_200_rows(api_a, agent_a, agent_b):
    fill(agent_a, customers=1, calls=1, callbacks=1)
    one = _queries(api_a)

    fill(agent_b, customers=1, calls=1, callbacks=1)  # other tenants' rows do not matter either
    CallSession.objects.filter(ai_agent=agent_a).delete()
    CustomerProfile.objects.filter(ai_agent=agent_a).delete()
    fill(agent_a, customers=200, calls=200, callbacks=200, trainings=5)
    many = _queries(api_a)

    assert many == one
    body = api_a.get(URL).json()
    assert (body["customers"]["total"], len(body["recent_calls"]), len(body["callbacks"]["upcoming"])) == (200, 10, 10)


def test_customer_counts_are_at_most_a_minute_old_and_only_ever_the_clients_own(
    api_a, api_b, agent_a, agent_b, settings
):
    """Counting every customer is the one read that grows with the list: once a minute, as on the overview."""
    from django.core.cache import cache

    settings.DASHBOARD_CHART_CACHE_SECONDS = 60
    cache.clear()
    fill(agent_a, customers=3, calls=1, callbacks=1)
    assert api_a.get(URL).json()["customers"]["total"] == 3
    CustomerFactory(ai_agent=agent_a, phone_number="+13125550188")  # counted, as the services count it

    with CaptureQueriesContext(connection) as captured:
        body = api_a.get(URL).json()
    assert body["customers"]["total"] == 3
    assert not [q for q in captured.captured_queries if 'COUNT("customers_customerprofile"' in q["sql"]]
    assert body["performance"]["today_calls"] == 1  # today's figures stay live
    assert api_b.get(URL).json()["customers"]["total"] == 0  # kept per agent, never shared
    cache.clear()  # the minute is up (Redis expires the entry on its own clock, not the test's)
    assert api_a.get(URL).json()["customers"]["total"] == 4
    cache.clear()


def test_learning_insights_come_from_what_the_agent_learned(api_a, agent_a):
    agent_a.conversation_memory = {
        "version": 1,
        "processed_calls": 60,
        "outcomes": {"converted": 10, "answered": 30, "no_answer": 20},
        "objections": {"price_too_high": {"count": 20, "interested": 8, "converted": 4}},
        "objection_answers": {"price_too_high": {"uses": 20, "interested": 8, "converted": 4}},
        "pickup_hours": {"17": {"attempts": 20, "answered": 18}, "10": {"attempts": 20, "answered": 5}},
        "conversion_trend": {},
    }
    agent_a.save()
    learning = api_a.get("/api/dashboard/ai-agent/").json()["learning"]
    assert learning["preferred_call_hours"] == [17]
    assert learning["insights"], "the learned sentences are shown"
    assert any("17" in sentence or "5 PM" in sentence or "5 pm" in sentence for sentence in learning["insights"])
