"""The beat task and the placing task: one task per claim, enqueued after commit; a stale task dials nothing."""

from __future__ import annotations

import pytest
import time_machine

from calls.models import CallSession
from campaigns import tasks
from campaigns.tests.conftest import TUESDAY_2PM, customers, running_campaign

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
