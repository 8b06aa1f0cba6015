"""The beat task and the placing task: one task per claim, enqueued after commit; a stale task dials nothing.

And the leads-file task: customers imported, good rows added as leads, a redelivery adds nothing.
"""

from __future__ import annotations

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import CallSession
from campaigns import tasks
from campaigns.models import CampaignLead
from campaigns.services import CampaignSpec, campaign_create, campaign_leads_import_start
from campaigns.tests.conftest import TUESDAY_2PM, customers, running_campaign
from customers.models import ImportJob

pytestmark = pytest.mark.django_db


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_tick_enqueues_each_claim_after_commit_and_a_redelivered_task_dials_once(
    agent, django_capture_on_commit_callbacks
):
    campaign = running_campaign(agent, customers(agent, 2))

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        report = tasks.campaigns_dispatch_task()

    assert report["claimed"] == 2 and len(enqueued) == 2
    assert CallSession.objects.count() == 2
    lead = campaign.leads.first()
    assert tasks.lead_place_task(lead.pk, "00000000-0000-0000-0000-000000000000") == "stale"
    assert CallSession.objects.count() == 2


def test_the_leads_file_task_adds_the_good_rows_once(agent, django_capture_on_commit_callbacks):
    campaign = campaign_create(agent=agent, spec=CampaignSpec(name="File"))
    upload = SimpleUploadedFile(
        "leads.csv", b"phone_number,name\n+12125550101,Dana\nbad,Bad\n+12125550102,Eli\n", content_type="text/csv"
    )
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        job = campaign_leads_import_start(campaign=campaign, user=None, upload=upload)

    assert len(enqueued) == 1
    job.refresh_from_db()
    assert (job.status, job.created, job.error_count, job.errors) == ("done", 2, 1, [[3, job.errors[0][1]]])
    assert not job.file  # a finished job keeps only its report
    assert sorted(CampaignLead.objects.values_list("customer__phone_number", flat=True)) == [
        "+12125550101",
        "+12125550102",
    ]
    assert tasks.campaign_leads_import_task(str(job.pk), str(campaign.pk)) == ImportJob.Status.DONE
    assert CampaignLead.objects.count() == 2
