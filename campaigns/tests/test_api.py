"""The campaigns API: every door, and another client's campaign is a 404 on each with nothing changed."""

from __future__ import annotations

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import CallSession
from campaigns.models import ApprovalDecision, Campaign, CampaignLead
from campaigns.tests.conftest import TUESDAY_2PM, customers, tick

pytestmark = pytest.mark.django_db

CSV = b"phone_number,name,timezone\n+12125550101,Dana,America/New_York\nnope,Bad,America/New_York\n"


def create(api, **extra):
    body = {"name": "Spring", "goal": "Book a survey", "window_start": "09:00", "window_end": "20:00", **extra}
    response = api.post("/api/campaigns/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_campaign_from_creation_to_results(api_a, agent):
    campaign = create(api_a, retry_on=["busy"], max_attempts=2)
    assert campaign["status"] == "draft"
    people = customers(agent, 2)

    added = api_a.post(
        f"/api/campaigns/{campaign['id']}/leads/", {"customer_ids": [str(c.pk) for c in people]}, format="json"
    )
    assert added.json() == {"added": 2, "already_in": 0, "skipped": {}, "error_count": 0, "errors": []}
    upload = SimpleUploadedFile("leads.csv", CSV, content_type="text/csv")
    imported = api_a.post(f"/api/campaigns/{campaign['id']}/leads/import/", {"file": upload}, format="multipart")
    assert imported.status_code == 200
    assert (imported.json()["added"], imported.json()["errors"]) == (
        1,
        [{"line": 3, "reason": imported.json()["errors"][0]["reason"]}],
    )

    assert api_a.post(f"/api/campaigns/{campaign['id']}/start/").json()["status"] == "running"
    tick()
    detail = api_a.get(f"/api/campaigns/{campaign['id']}/").json()
    assert detail["progress"]["leads"] == 3 and detail["progress"]["in_progress"] == 3
    leads = api_a.get(f"/api/campaigns/{campaign['id']}/leads/").json()
    assert leads["count"] == 3 and set(leads["results"][0]["score_parts"]) >= {"interest", "attempts"}
    assert api_a.post(f"/api/campaigns/{campaign['id']}/pause/").json()["status"] == "paused"
    assert api_a.post(f"/api/campaigns/{campaign['id']}/pause/").status_code == 409
    assert api_a.post(f"/api/campaigns/{campaign['id']}/resume/").json()["status"] == "running"

    export = api_a.get(f"/api/campaigns/{campaign['id']}/results.csv")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].lstrip("\ufeff").startswith("phone_number,name,state,outcome")
    assert len(lines) == 4
    assert api_a.post(f"/api/campaigns/{campaign['id']}/cancel/").json()["status"] == "cancelled"
    assert api_a.get("/api/campaigns/").json()["count"] == 1


def test_a_window_outside_8_to_21_is_refused(api_a, agent):
    response = api_a.post("/api/campaigns/", {"name": "x", "window_start": "07:00"}, format="json")
    assert response.status_code == 422


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_approvals_through_the_api_are_recorded(api_a, agent, user_a):
    campaign = create(api_a, approval_mode="per_call")
    (person,) = customers(agent, 1)
    api_a.post(f"/api/campaigns/{campaign['id']}/leads/", {"customer_ids": [str(person.pk)]}, format="json")
    api_a.post(f"/api/campaigns/{campaign['id']}/start/")

    queue = api_a.get("/api/campaigns/approvals/").json()
    assert queue["count"] == 1
    lead_id = queue["results"][0]["id"]
    refused = api_a.post(
        f"/api/campaigns/{campaign['id']}/leads/{lead_id}/decision/", {"approve": False}, format="json"
    )
    assert refused.status_code == 422  # a rejection needs its reason
    approved = api_a.post(
        f"/api/campaigns/{campaign['id']}/leads/{lead_id}/decision/", {"approve": True}, format="json"
    )
    assert approved.json()["approval"] == "approved"
    assert tick()["placed"] == 1
    detail = api_a.get(f"/api/campaigns/{campaign['id']}/").json()
    assert detail["decisions"][0]["decided_by"] == user_a.email


@pytest.fixture
def theirs(agent_b):
    """Client B's campaign, with a lead waiting for approval."""
    from campaigns.services import CampaignSpec, campaign_create, campaign_leads_add

    campaign = campaign_create(agent=agent_b, spec=CampaignSpec(name="Bravo", approval_mode="campaign"))
    campaign_leads_add(campaign=campaign, customers=customers(agent_b, 1, prefix="+1646555"))
    return campaign


DOORS = [
    ("get", "/api/campaigns/{id}/", None),
    ("post", "/api/campaigns/{id}/start/", None),
    ("post", "/api/campaigns/{id}/pause/", None),
    ("post", "/api/campaigns/{id}/resume/", None),
    ("post", "/api/campaigns/{id}/cancel/", None),
    ("post", "/api/campaigns/{id}/decision/", {"approve": True}),
    ("get", "/api/campaigns/{id}/leads/", None),
    ("post", "/api/campaigns/{id}/leads/", {"interest_levels": ["cold"]}),
    ("post", "/api/campaigns/{id}/leads/{lead}/decision/", {"approve": True}),
    ("get", "/api/campaigns/{id}/results.csv", None),
]


@pytest.mark.parametrize(("method", "path", "body"), DOORS)
def test_another_clients_campaign_is_not_found_on_every_door_and_nothing_changes(
    api_a, agent, theirs, method, path, body
):
    lead = theirs.leads.get()
    before = (theirs.status, theirs.approval, CampaignLead.objects.count(), lead.approval)

    response = getattr(api_a, method)(path.format(id=theirs.pk, lead=lead.pk), body, format="json")

    assert response.status_code == 404
    theirs.refresh_from_db()
    lead.refresh_from_db()
    assert (theirs.status, theirs.approval, CampaignLead.objects.count(), lead.approval) == before
    assert not ApprovalDecision.objects.exists()


def test_another_clients_lead_is_not_found_through_my_campaign(api_a, agent, theirs):
    mine = create(api_a, approval_mode="per_call")
    response = api_a.post(
        f"/api/campaigns/{mine['id']}/leads/{theirs.leads.get().pk}/decision/", {"approve": True}, format="json"
    )
    assert response.status_code == 404


def test_another_clients_customer_cannot_be_added_as_a_lead(api_a, agent, agent_b):
    mine = create(api_a)
    (stranger,) = customers(agent_b, 1, prefix="+1646555")
    response = api_a.post(f"/api/campaigns/{mine['id']}/leads/", {"customer_ids": [str(stranger.pk)]}, format="json")
    assert response.status_code == 404
    assert not CampaignLead.objects.exists()


def test_lists_show_only_my_campaigns_and_my_approval_queue(api_a, agent, theirs):
    assert api_a.get("/api/campaigns/").json()["count"] == 0
    assert api_a.get("/api/campaigns/approvals/").json()["count"] == 0
    assert Campaign.objects.count() == 1 and not CallSession.objects.exists()
