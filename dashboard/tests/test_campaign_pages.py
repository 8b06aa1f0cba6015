"""Campaign pages: create with a CSV, live progress (HTMX), actions, approvals, export; other clients get 404s.

The leads file is an import job run by a Celery task (eager in tests) once the upload's
transaction commits; ``django_capture_on_commit_callbacks`` stands in for that commit.
"""

from __future__ import annotations

import re
from datetime import time

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import CallSession
from campaigns.dispatch import campaigns_dispatch_inline
from campaigns.models import ApprovalDecision, Campaign, CampaignLead
from campaigns.services import CampaignSpec, campaign_create, campaign_leads_add, campaign_leads_import_run
from campaigns.tests.conftest import TUESDAY_2PM, customers
from customers.import_jobs import import_job_start
from customers.models import ImportJob

pytestmark = pytest.mark.django_db

CSV = (
    b"phone_number,name,timezone,do_not_call\n+12125550101,Dana,America/New_York,no\nbad,Bad,America/New_York,no\n"
    b"+12125550102,Eli,America/New_York,yes\n"
)


@pytest.fixture
def agent(agent_a):
    agent_a.working_hours_start, agent_a.working_hours_end = time(7, 0), time(22, 0)
    agent_a.save()
    return agent_a


def form(**extra) -> dict:
    return {
        "name": "Spring", "goal": "Book a survey", "days_of_week": ["0", "1", "2", "3", "4"], "window_start": "09:00",
        "window_end": "20:00", "max_attempts": "3", "retry_spacing_minutes": "60", "retry_on": ["busy", "no_answer"],
        "max_concurrent": "5", "approval_mode": "none", **extra,
    }  # fmt: skip


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_create_with_a_csv_then_watch_it_run(page_a, agent, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("leads.csv", CSV, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = page_a.post("/campaigns/", form(leads_file=upload))

    campaign, job = Campaign.objects.get(), ImportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/campaigns/{campaign.pk}/?import={job.pk}"
    assert CampaignLead.objects.count() == 2
    page = page_a.get(response.url).content.decode()
    assert "Import finished" in page and 'data-campaign-leads="2"' in page
    assert re.search(r"data-import-errors>1<", page) and 'data-error-line="3"' in page
    assert page_a.post(f"/campaigns/{campaign.pk}/start/").status_code == 302
    campaigns_dispatch_inline()

    live = page_a.get(f"/campaigns/{campaign.pk}/", HTTP_HX_REQUEST="true")
    html = live.content.decode()
    assert 'id="campaign-live"' in html and "<html" not in html
    assert 'data-kpi="dialled">1<' in html  # Eli opted out: skipped, not dialled
    assert 'hx-trigger="every 3s"' in html
    full = page_a.get(f"/campaigns/{campaign.pk}/?state=skipped").content.decode()
    assert "On the do-not-call list" in full and "campaign-chart-data" in full
    export = page_a.get(f"/campaigns/{campaign.pk}/results.csv")
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 3

    assert page_a.post(f"/campaigns/{campaign.pk}/pause/").status_code == 302
    assert Campaign.objects.get().status == "paused"


def test_a_window_outside_the_decent_hours_is_refused_on_the_form(page_a, agent):
    response = page_a.post("/campaigns/", form(window_start="06:00"))
    assert response.status_code == 422
    assert "08:00-21:00" in response.content.decode()
    assert not Campaign.objects.exists()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_approval_queue_records_each_decision(page_a, agent, user_a):
    campaign = campaign_create(agent=agent, spec=CampaignSpec(name="Careful", approval_mode="per_call"))
    campaign_leads_add(campaign=campaign, customers=customers(agent, 2))
    first, second = campaign.leads.order_by("id")

    assert "Calls waiting for approval" in page_a.get("/campaigns/approvals/").content.decode()
    page_a.post(f"/campaigns/{campaign.pk}/leads/{first.pk}/decision/", {"approve": "on"})
    page_a.post(f"/campaigns/{campaign.pk}/leads/{second.pk}/decision/", {"reason": "Existing client"})

    assert list(ApprovalDecision.objects.order_by("id").values_list("lead", "decision", "reason", "decided_by")) == [
        (first.pk, "approved", "", user_a.pk),
        (second.pk, "rejected", "Existing client", user_a.pk),
    ]


@pytest.fixture
def theirs(agent_b):
    campaign = campaign_create(agent=agent_b, spec=CampaignSpec(name="Bravo", approval_mode="campaign"))
    campaign_leads_add(campaign=campaign, customers=customers(agent_b, 1, prefix="+1646555"))
    return campaign


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/campaigns/{id}/"),
        ("get", "/campaigns/{id}/results.csv"),
        ("post", "/campaigns/{id}/start/"),
        ("post", "/campaigns/{id}/cancel/"),
        ("post", "/campaigns/{id}/decision/"),
        ("post", "/campaigns/{id}/leads/{lead}/decision/"),
    ],
)
def test_another_clients_campaign_is_a_404_on_every_page(page_a, agent, theirs, method, path):
    lead = theirs.leads.get()
    response = getattr(page_a, method)(
        path.format(id=theirs.pk, lead=lead.pk), {"approve": "on"} if method == "post" else None
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.approval) == ("draft", "pending")
    assert not ApprovalDecision.objects.exists() and not CallSession.objects.exists()


def _poll(page, campaign, job) -> str:
    response = page.get(f"/campaigns/{campaign.pk}/imports/{job.pk}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_upload_shows_progress_then_the_leads_added(page_a, agent, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("leads.csv", CSV, content_type="text/csv")
    with django_capture_on_commit_callbacks() as queued:
        response = page_a.post("/campaigns/", form(leads_file=upload))
    campaign, job = Campaign.objects.get(), ImportJob.objects.get()

    waiting = page_a.get(response.url).content.decode()  # the worker has not started yet
    assert job.status == "queued" and not CampaignLead.objects.exists()
    assert 'data-done="false"' in waiting and 'hx-trigger="every 1s"' in waiting
    assert f'hx-get="/campaigns/{campaign.pk}/imports/{job.pk}/"' in waiting
    assert "Waiting to start" in _poll(page_a, campaign, job)

    for callback in queued:  # the upload's transaction commits: the task runs
        callback()
    done = _poll(page_a, campaign, job)
    assert 'data-done="true"' in done and "hx-trigger" not in done and "<html" not in done
    assert 'data-campaign-leads="2"' in done and "2 leads" in done
    assert 'data-error-line="3"' in done and re.search(r"data-import-created>2<", done)
    assert CampaignLead.objects.filter(campaign=campaign).count() == 2
    full = page_a.get(f"/campaigns/{campaign.pk}/imports/{job.pk}/")  # without JavaScript: the page
    assert full.status_code == 302 and full.url == f"/campaigns/{campaign.pk}/?import={job.pk}"


def test_a_file_without_a_phone_column_is_refused_on_the_form(page_a, agent, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("leads.csv", b"name,email\nAva,a@x.test\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = page_a.post("/campaigns/", form(leads_file=upload))

    assert response.status_code == 422 and "phone" in response.content.decode()
    assert not ImportJob.objects.exists() and not CampaignLead.objects.exists()


def _queued_job(agent_, django_capture_on_commit_callbacks) -> ImportJob:
    upload = SimpleUploadedFile("leads.csv", CSV, content_type="text/csv")
    with django_capture_on_commit_callbacks():  # stored, never run
        return import_job_start(agent=agent_, user=None, upload=upload)


def test_another_clients_import_or_campaign_is_a_404(
    page_a, agent, agent_b, theirs, django_capture_on_commit_callbacks
):
    mine = campaign_create(agent=agent, spec=CampaignSpec(name="Mine"))
    my_job = _queued_job(agent, django_capture_on_commit_callbacks)
    their_job = _queued_job(agent_b, django_capture_on_commit_callbacks)

    for path in (f"/campaigns/{mine.pk}/imports/{their_job.pk}/", f"/campaigns/{theirs.pk}/imports/{my_job.pk}/"):
        assert page_a.get(path).status_code == 404, path
        assert page_a.get(path, HTTP_HX_REQUEST="true").status_code == 404, path
    for job_id in (their_job.pk, "../../etc"):  # the page's import card (its HTMX poll is the live card only)
        assert page_a.get(f"/campaigns/{mine.pk}/", {"import": job_id}).status_code == 404
    their_job.refresh_from_db()
    assert their_job.status == "queued" and their_job.rows_processed == 0


def test_the_task_refuses_a_job_of_another_agent(agent, theirs, django_capture_on_commit_callbacks):
    my_job = _queued_job(agent, django_capture_on_commit_callbacks)
    before = theirs.leads.count()

    with pytest.raises(ValueError, match="campaign_leads_import_run"):
        campaign_leads_import_run(job_id=str(my_job.pk), campaign_id=str(theirs.pk))
    assert theirs.leads.count() == before
    assert ImportJob.objects.get().status == "failed"
