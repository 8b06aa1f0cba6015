"""Test with personas, in Chromium: the demo client runs its trained agent against every persona.

The run is a Celery task: eager in the tests, so it may finish inside the request that starts
it; the second test holds it back, as a busy worker would, and the page polls until it lands.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from agents.models import AIAgent
from calls.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD
from simulations.models import SimulationRun
from simulations.personas import PERSONAS
from simulations.services import simulation_run_execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_page(page, live_server):
    call_command("seed_demo", customers=6, calls=12, verbosity=0)
    page.goto("/login/")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_the_demo_agent_against_every_persona(demo_page, screenshots):
    page = demo_page
    page.get_by_role("link", name="Training").first.click()
    page.get_by_role("link", name="Test with personas").click()
    page.wait_for_url("**/simulations/")
    for persona in PERSONAS:
        assert page.get_by_role("checkbox", name=re.compile(persona.name)).is_checked()
    page.get_by_role("button", name="Run simulation").click()

    page.locator('#simulation-run[data-run-status="done"]').wait_for(timeout=60_000)
    cards = page.locator("[data-persona]")
    assert cards.count() == len(PERSONAS)
    for persona in PERSONAS:
        card = page.locator(f'[data-persona="{persona.key}"]')
        assert card.get_by_role("heading", name=persona.name).is_visible()
        goals = card.locator(".goal")
        assert goals.count() == len(persona.goals) > 0
        assert card.locator(".goal--reached").count() == len(persona.goals), card.inner_text()
    total = sum(len(p.goals) for p in PERSONAS)
    assert page.locator("[data-goals-reached]").inner_text() == f"{total} / {total}"
    page.screenshot(path=str(screenshots / "persona-simulation.png"), full_page=True)

    # Each transcript is one click away, and is marked as a simulation.
    page.locator('[data-persona="price_sensitive"]').get_by_role("link", name="Transcript").click()
    page.wait_for_url(re.compile(r"/calls/[0-9a-f-]+/$"))
    assert page.get_by_text("Persona simulation").is_visible()
    assert page.get_by_text("$89/month").first.is_visible()


def test_the_scorecard_arrives_by_polling_when_the_worker_is_slow(demo_page):
    page = demo_page
    agent = AIAgent.objects.get(client__slug="demo")
    run = SimulationRun.objects.create(ai_agent=agent, personas=["opts_out", "voicemail"])
    page.goto(f"/simulations/{run.pk}/")
    assert page.get_by_text("0 of 2 personas played").is_visible()
    simulation_run_execute(run_id=run.pk)  # the worker gets to it
    page.locator('#simulation-run[data-run-status="done"]').wait_for(timeout=15_000)
    assert page.locator("[data-persona]").count() == 2
    assert page.locator('[data-persona="opts_out"] .goal--reached').count() == 1
