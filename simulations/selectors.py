"""Reads of persona simulation runs, always through the agent (and so the client) that owns them."""

from __future__ import annotations

from django.db.models import QuerySet

from agents.models import AIAgent
from core.lookups import get_scoped
from simulations.models import SimulationRun
from simulations.personas import PERSONAS, Persona


def simulation_run_list(*, agent: AIAgent) -> QuerySet[SimulationRun]:
    return SimulationRun.objects.filter(ai_agent=agent).order_by("-created_at", "-id")


def simulation_run_get(*, agent: AIAgent, run_id) -> SimulationRun:
    """The same NotFound for a missing run and for another client's."""
    return get_scoped(
        SimulationRun.objects.filter(ai_agent=agent),
        run_id,
        message="Simulation not found.",
        code="simulation_not_found",
    )


def persona_list() -> tuple[Persona, ...]:
    return PERSONAS
