"""Test with personas: run the agent against simulated customers and read the scorecard.

The run plays in the background (a Celery task); its page polls with HTMX until the
scorecard is there. The calls it made are simulations: linked from here, left out of every
real list and figure.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from dashboard.access import client_page, is_htmx
from dashboard.forms import PersonaSimulationForm
from simulations.selectors import persona_list, simulation_run_get, simulation_run_list
from simulations.services import simulation_run_start

RECENT_RUNS = 10


def _index(request: HttpRequest, form: PersonaSimulationForm, *, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "personas": persona_list(),
        "runs": list(simulation_run_list(agent=request.agent)[:RECENT_RUNS]),
    }
    return render(request, "dashboard/simulations/index.html", context, status=status)


@client_page
@require_GET
def simulations(request: HttpRequest) -> HttpResponse:
    return _index(request, PersonaSimulationForm())


@client_page
@require_POST
def simulation_start(request: HttpRequest) -> HttpResponse:
    form = PersonaSimulationForm(request.POST)
    if form.is_valid():
        try:
            run = simulation_run_start(agent=request.agent, persona_keys=form.cleaned_data["personas"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("dashboard:simulations")
        return redirect("dashboard:simulation-detail", run_id=run.pk)
    return _index(request, form, status=422)


@client_page
@require_GET
def simulation_detail(request: HttpRequest, run_id) -> HttpResponse:
    run = simulation_run_get(agent=request.agent, run_id=run_id)
    template = "dashboard/simulations/partials/run.html" if is_htmx(request) else "dashboard/simulations/detail.html"
    return render(request, template, {"run": run, "results": (run.results or {}).get("personas", [])})
