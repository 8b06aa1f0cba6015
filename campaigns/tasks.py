"""Celery tasks of campaigns: the beat tick claims attempts, one task places each claim.

| task | schedule | service |
| --- | --- | --- |
| ``campaigns.dispatch`` | every 15 s | :func:`campaigns.dispatch.campaigns_dispatch` |
| ``campaigns.place_lead`` | per claimed attempt | :func:`campaigns.dispatch.lead_place` |
| ``campaigns.import_leads`` | per leads file uploaded | :func:`campaigns.services.campaign_leads_import_run` |

Both are idempotent: a duplicate or redelivered ``place_lead`` finds its claim tied to a call
already (or gone) and dials nothing; a lost one leaves a claim that the tick recovers.
"""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import transaction

from calls.tasks import RETRY
from campaigns import dispatch
from campaigns.models import CampaignLead
from campaigns.services import campaign_leads_import_run


def _enqueue(lead: CampaignLead) -> None:
    transaction.on_commit(partial(lead_place_task.delay, lead.pk, str(lead.claim_token)))


@shared_task(name="campaigns.dispatch", **RETRY)
def campaigns_dispatch_task() -> dict:
    return dispatch.campaigns_dispatch(enqueue=_enqueue).as_dict()


@shared_task(name="campaigns.place_lead", **RETRY)
def lead_place_task(lead_id: int, token: str) -> str:
    return dispatch.lead_place(lead_id=lead_id, token=token)


@shared_task(name="campaigns.import_leads", acks_late=True)
def campaign_leads_import_task(job_id: str, campaign_id: str) -> str | None:
    """Idempotent: a job already claimed (running, done or failed) is not imported again."""
    job = campaign_leads_import_run(job_id=job_id, campaign_id=campaign_id)
    return job.status if job else None
