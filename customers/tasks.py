"""Celery task of CSV import jobs: thin, takes the job's id, calls the service."""

from __future__ import annotations

from celery import shared_task

from customers.import_jobs import import_job_run


@shared_task(name="customers.import_csv", acks_late=True)
def customer_import_task(job_id: str) -> str | None:
    """Idempotent: a job already claimed (running, done or failed) is not imported again."""
    job = import_job_run(job_id=job_id)
    return job.status if job else None
