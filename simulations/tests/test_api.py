"""Persona simulations through the API: start, poll, read the scorecard; tenant-scoped; bounded input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from customers.models import CustomerProfile
from simulations import services
from simulations.models import SimulationRun
from simulations.personas import PERSONA_KEYS

URL = "/api/agents/ai/simulations/"


@pytest.fixture
def run_now(django_capture_on_commit_callbacks):
    """POST a run and let its task (eager Celery) run when the request commits, as a worker would."""

    def start(api, body=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(URL, body or {}, format="json")
        return response

    return start


def test_demo_agent_reaches_every_persona_goal_over_the_real_call_path(demo_agent, demo_api, run_now):
    started = run_now(demo_api)
    assert started.status_code == 202, started.content

    run = demo_api.get(f"{URL}{started.json()['id']}/").json()
    assert run["status"] == "done"
    assert run["completed"] == run["total"] == len(PERSONA_KEYS)
    by_key = {p["key"]: p for p in run["results"]}
    assert list(by_key) == list(PERSONA_KEYS)
    for persona in run["results"]:
        assert persona["goals"], persona["key"]
        assert all(goal["reached"] for goal in persona["goals"]), persona
    assert run["summary"]["goals_reached"] == run["summary"]["goals"]
    assert run["summary"]["unanswered_objections"] == run["summary"]["unanswered_questions"] == 0

    # Each transcript is a call made through the webhooks: signed turns, a CA sid, marked as a simulation.
    price = CallSession.objects.get(pk=by_key["price_sensitive"]["call_id"])
    assert price.is_simulation and price.customer_profile.is_simulated
    assert price.twilio_call_sid.startswith("CA") and len(price.twilio_call_sid) == 34
    lines = list(CallTurn.objects.filter(call=price).order_by("sequence").values_list("speaker", "text"))
    assert ("caller", "Hi. Before anything else, how much does it cost?") in lines
    assert any(speaker == "agent" and "$89/month" in text for speaker, text in lines)
    assert CallSession.objects.get(pk=by_key["opts_out"]["call_id"]).customer_profile.is_do_not_call
    voicemail = CallSession.objects.get(pk=by_key["voicemail"]["call_id"])
    assert voicemail.outcome == "voicemail" and voicemail.call_type == "outbound"
    # The transcript is readable through the calls API like any call.
    detail = demo_api.get(f"/api/calls/{price.pk}/")
    assert detail.status_code == 200


def test_scorecard_names_what_the_training_could_not_answer(agent_a, api_a, run_now):
    # Agent A may take calls (85 %) but was never given pricing or objection answers.
    response = run_now(api_a, {"personas": ["price_sensitive"]})
    assert response.status_code == 202, response.content
    run = api_a.get(f"{URL}{response.json()['id']}/").json()
    (persona,) = run["results"]
    assert {g["key"]: g["reached"] for g in persona["goals"]} == {"price_answered": False, "objections_answered": False}
    assert [m["text"] for m in persona["unanswered_questions"]] == ["Hi. Before anything else, how much does it cost?"]
    assert "guess" in persona["unanswered_questions"][0]["reply"]
    assert [m["text"] for m in persona["unanswered_objections"]] == ["Hmm, that's too expensive for us."]
    assert run["summary"] == {
        "personas": 1, "goals": 2, "goals_reached": 0, "unanswered_objections": 1, "unanswered_questions": 1,
    }  # fmt: skip


def test_a_booked_callback_scores_but_the_simulated_customer_is_never_dialled(demo_agent, demo_api, run_now):
    run = demo_api.get(f"{URL}{run_now(demo_api, {'personas': ['busy']}).json()['id']}/").json()
    assert run["results"][0]["goals"] == [
        {"key": "callback_booked", "label": "Offered a better time and booked a callback", "reached": True}
    ]
    call = CallSession.objects.get(pk=run["results"][0]["call_id"])
    booked = ScheduledCallback.objects.get(customer_profile=call.customer_profile)
    assert booked.status == ScheduledCallback.Status.CANCELED
    # Even dialled by hand, a simulated customer is refused.
    refused = demo_api.post(
        "/api/agents/ai/start-call/", {"phone_number": call.customer_profile.phone_number}, format="json"
    )
    assert refused.status_code == 409
    assert "never dialled" in refused.json()["error"]["message"]
    assert not CallSession.objects.filter(customer_profile=call.customer_profile, call_type="outbound").exists()


def test_list_shows_the_clients_runs_newest_first(demo_agent, demo_api, run_now):
    first = run_now(demo_api, {"personas": ["opts_out"]}).json()["id"]
    second = run_now(demo_api, {"personas": ["hostile", "hostile"]}).json()
    assert second["personas"] == ["hostile"]  # a persona is played once per run
    listed = demo_api.get(URL).json()
    assert listed["count"] == 2
    assert [r["id"] for r in listed["results"]] == [second["id"], first]


def test_another_clients_run_is_not_found_on_every_door(demo_agent, demo_api, api_b, agent_b, run_now, client, user_b):
    run_id = run_now(demo_api, {"personas": ["opts_out"]}).json()["id"]
    assert api_b.get(f"{URL}{run_id}/").status_code == 404
    assert api_b.get(f"{URL}{run_id}/").json()["error"]["code"] == "simulation_not_found"
    assert api_b.get(URL).json()["count"] == 0
    client.force_login(user_b)
    assert client.get(f"/simulations/{run_id}/").status_code == 404
    assert SimulationRun.objects.get(pk=run_id).ai_agent == demo_agent


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"personas": ["nobody"]}, "personas"),
        ({"personas": "busy"}, "personas"),
        ({"personas": ["busy"] * 8}, "personas"),
    ],
)
def test_bad_input_is_a_400_and_starts_nothing(agent_a, api_a, body, field):
    response = api_a.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not SimulationRun.objects.exists()


def test_an_untrained_agent_or_a_running_run_is_a_409(agent_a, api_a):
    agent_a.training_level = 5
    agent_a.save(update_fields=["training_level"])
    refused = api_a.post(URL, {}, format="json")
    assert refused.status_code == 409
    assert "trained to 5%" in refused.json()["error"]["message"]

    agent_a.training_level = 85
    agent_a.save(update_fields=["training_level"])
    SimulationRun.objects.create(ai_agent=agent_a, personas=["busy"], status=SimulationRun.Status.RUNNING)
    busy = api_a.post(URL, {}, format="json")
    assert busy.status_code == 409
    assert SimulationRun.objects.count() == 1
    # A run whose worker died long ago does not block the next one.
    SimulationRun.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert api_a.post(URL, {"personas": ["busy"]}, format="json").status_code == 202


def test_old_runs_are_pruned_with_their_simulated_customers(agent_a, api_a, run_now, monkeypatch):
    monkeypatch.setattr(services, "KEEP_RUNS", 2)
    ids = [run_now(api_a, {"personas": ["opts_out"]}).json()["id"] for _ in range(3)]
    kept = SimulationRun.objects.order_by("created_at").values_list("pk", flat=True)
    assert [str(pk) for pk in kept] == ids[1:]
    assert CustomerProfile.objects.filter(is_simulated=True).count() == 2
