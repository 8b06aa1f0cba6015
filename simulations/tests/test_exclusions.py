"""A persona simulation is a test, not business: it changes no real figure, list or memory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import AIAgent
from calls.learning import agent_learn_new_outcomes
from calls.models import CallSession
from calls.reports import daily_report_build
from simulations.personas import PERSONA_KEYS


@pytest.fixture(autouse=True)
def _no_chart_cache(settings):
    settings.DASHBOARD_CHART_CACHE_SECONDS = 0


def _figures(api, agent: AIAgent) -> dict:
    agent.refresh_from_db()
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(timezone.get_current_timezone()).date()
    report = daily_report_build(agent=agent, today=tomorrow)  # covers today's calls
    dashboard = api.get("/api/dashboard/ai-agent/").json()
    dashboard.pop("generated_at")
    return {
        "dashboard": dashboard,
        "customers": api.get("/api/customers/").json()["count"],
        "calls": api.get("/api/calls/").json()["count"],
        "callbacks": api.get("/api/callbacks/").json()["count"],
        "agent": (agent.calls_handled, agent.successful_conversions, agent.conversation_memory),
        "report": (report.calls, report.answered, report.conversions, report.outcomes),
    }


def test_a_simulation_run_changes_no_real_figure(demo_agent, demo_api, django_capture_on_commit_callbacks):
    before = _figures(demo_api, demo_agent)
    with django_capture_on_commit_callbacks(execute=True):
        started = demo_api.post("/api/agents/ai/simulations/", {}, format="json")
    assert started.status_code == 202
    simulated = CallSession.objects.filter(ai_agent=demo_agent, is_simulation=True)
    assert simulated.count() == len(PERSONA_KEYS)

    assert _figures(demo_api, demo_agent) == before
    # The learner finds nothing new to learn, and the calls list shows them only when asked.
    assert agent_learn_new_outcomes(agent_id=demo_agent.pk).learned == 0
    demo_agent.refresh_from_db()
    memory, learned_before = demo_agent.conversation_memory, before["agent"][2]
    for key in ("processed_calls", "outcomes", "objections", "objection_answers", "pickup_hours"):
        assert memory[key] == learned_before[key], key
    asked = demo_api.get("/api/calls/", {"simulations": "true"}).json()
    assert asked["count"] == len(PERSONA_KEYS)


def test_the_dashboard_pages_leave_simulations_out(demo_agent, demo_api, client, django_capture_on_commit_callbacks):
    from accounts.models import User

    client.force_login(User.objects.get(client=demo_agent.client))
    with django_capture_on_commit_callbacks(execute=True):
        demo_api.post("/api/agents/ai/simulations/", {"personas": ["price_sensitive"]}, format="json")
    call = CallSession.objects.get(is_simulation=True)
    number = call.customer_profile.phone_number
    assert number not in client.get("/customers/").content.decode()
    assert str(call.pk) not in client.get("/calls/").content.decode()
    assert "Persona simulation" in client.get(f"/calls/{call.pk}/").content.decode()
