"""The "Test with personas" pages: start a run, poll it with HTMX, read the scorecard."""

from __future__ import annotations

import pytest

from simulations.models import SimulationRun
from simulations.personas import PERSONAS

pytestmark = pytest.mark.django_db


def test_training_page_leads_to_the_persona_test(page_a):
    assert 'href="/simulations/"' in page_a.get("/training/").content.decode()
    body = page_a.get("/simulations/").content.decode()
    for persona in PERSONAS:
        assert persona.name in body and f'value="{persona.key}"' in body


def test_starting_a_run_shows_its_scorecard(page_a, agent_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_a.post("/simulations/start/", {"personas": ["opts_out", "hostile"]})
    run = SimulationRun.objects.get(ai_agent=agent_a)
    assert response.status_code == 302 and response["Location"] == f"/simulations/{run.pk}/"
    body = page_a.get(response["Location"]).content.decode()
    assert "Put the number on the do-not-call list and ended the call" in body
    assert "Accepted the refusal and ended the call politely" in body
    assert body.count("Reached") == 2 and "hx-trigger" not in body
    assert f'href="/calls/{run.results["personas"][0]["call_id"]}/"' in body


def test_a_run_still_playing_polls_until_it_is_done(page_a, agent_a):
    run = SimulationRun.objects.create(ai_agent=agent_a, personas=["busy", "hostile"], completed=1)
    body = page_a.get(f"/simulations/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in body and "1 of 2 personas played" in body
    assert "<html" not in body  # the partial only, swapped in place


def test_no_persona_chosen_is_a_422_with_the_reason(page_a, agent_a):
    response = page_a.post("/simulations/start/", {})
    assert response.status_code == 422
    assert "Choose at least one persona." in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_an_untrained_agent_is_told_why(page_a, agent_a):
    agent_a.training_level = 0
    agent_a.save(update_fields=["training_level"])
    response = page_a.post("/simulations/start/", {"personas": ["busy"]}, follow=True)
    assert "it needs at least 20%" in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_another_clients_run_page_is_a_404(page_b, agent_a):
    run = SimulationRun.objects.create(ai_agent=agent_a, personas=["busy"])
    assert page_b.get(f"/simulations/{run.pk}/").status_code == 404
    assert page_b.get(f"/simulations/{run.pk}/", HTTP_HX_REQUEST="true").status_code == 404
