"""Persona simulations of a relay-mode agent: every caller line over the agent's ConversationRelay socket.

The simulated phone opens the socket on the running server (the ASGI app under uvicorn here,
``SIMULATED_PHONE_RELAY_URL``) for each line, as Twilio would speak to the agent; the scorecard
is the gather agent's. Only the socket records a turn's time to first token.
"""

from __future__ import annotations

import pytest

from calls.models import CallSession, CallTurn
from simulations.models import SimulationRun
from simulations.personas import PERSONA_KEYS

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/agents/ai/simulations/"


@pytest.fixture
def relay_demo_agent(demo_agent):
    demo_agent.voice_mode = "relay"
    demo_agent.save(update_fields=["voice_mode"])
    return demo_agent


def test_a_relay_agent_reaches_every_persona_goal_with_each_line_spoken_over_its_socket(
    relay_server, relay_demo_agent, demo_api
):
    started = demo_api.post(URL, {}, format="json")  # the task runs (eagerly) once the start commits
    assert started.status_code == 202, started.content

    run = demo_api.get(f"{URL}{started.json()['id']}/").json()
    assert run["status"] == "done", run
    assert run["completed"] == run["total"] == len(PERSONA_KEYS)
    by_key = {p["key"]: p for p in run["results"]}
    for persona in run["results"]:
        assert persona["goals"] and all(goal["reached"] for goal in persona["goals"]), persona
    assert run["summary"]["goals_reached"] == run["summary"]["goals"]
    assert run["summary"]["unanswered_objections"] == run["summary"]["unanswered_questions"] == 0

    for key in PERSONA_KEYS:
        call = CallSession.objects.get(pk=by_key[key]["call_id"])
        assert call.is_simulation and call.status == "completed", key
        replies = CallTurn.objects.filter(call=call, speaker="agent", sequence__gt=0)
        if key != "voicemail":  # the machine is never spoken to
            assert replies.exists() and all(t.first_token_ms is not None for t in replies), key
    price = CallSession.objects.get(pk=by_key["price_sensitive"]["call_id"])
    lines = list(CallTurn.objects.filter(call=price).order_by("sequence").values_list("speaker", "text"))
    assert ("caller", "Hi. Before anything else, how much does it cost?") in lines
    assert any(speaker == "agent" and "$89/month" in text for speaker, text in lines)
    assert CallSession.objects.get(pk=by_key["opts_out"]["call_id"]).customer_profile.is_do_not_call
    assert CallSession.objects.get(pk=by_key["wants_human"]["call_id"]).outcome
    assert SimulationRun.objects.get(pk=started.json()["id"]).status == SimulationRun.Status.DONE


def test_a_run_whose_relay_socket_does_not_answer_fails_and_says_so(relay_demo_agent, demo_api, settings):
    settings.SIMULATED_PHONE_RELAY_URL = "ws://127.0.0.1:9"  # nothing listens there
    started = demo_api.post(URL, {"personas": ["price_sensitive"]}, format="json")
    assert started.status_code == 202, started.content
    run = SimulationRun.objects.get(pk=started.json()["id"])
    assert run.status == SimulationRun.Status.FAILED
    assert "Price-sensitive" in run.error and "socket did not answer" in run.error
