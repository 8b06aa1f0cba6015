"""Celery task of persona simulations: thin, takes the run's id, calls the service."""

from __future__ import annotations

from celery import shared_task

from simulations.services import simulation_run_execute


@shared_task(name="simulations.run", acks_late=True)
def simulation_run_task(run_id: str) -> str | None:
    """Idempotent: a run already taken (or finished) is not played again."""
    run = simulation_run_execute(run_id=run_id)
    return run.status if run else None
