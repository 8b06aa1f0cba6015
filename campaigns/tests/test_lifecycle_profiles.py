"""A campaign lead end to end on both profiles: the embedded defaults, and the OpenAI provider and
Twilio backend through their SDKs against the wire-level fakes (calls/tests/test_lifecycle_profiles.py)."""

# ruff: noqa: F811 - the fixtures imported below are named again as test parameters, as pytest wants
from __future__ import annotations

from calls.models import CallSession
from calls.tests.conftest import *  # noqa: F403 - the profiles' fixtures (fake servers, the signed Twilio sim)
from calls.tests.test_lifecycle_profiles import answer_outbound, hang_up, monday, profile, sim  # noqa: F401
from campaigns import tasks as campaign_tasks
from campaigns.models import CampaignLead
from campaigns.services import CampaignSpec, campaign_create, campaign_leads_add, campaign_transition
from customers.tests.factories import CustomerFactory
from integrations.tests.fake_openai import tool_call


def test_a_campaign_lead_is_dialled_by_the_beat_task_and_settled_when_the_call_ends(
    profile, sim, trained_agent, hang_up, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550188", timezone="America/New_York")
    campaign = campaign_create(agent=trained_agent, spec=CampaignSpec(name="Spring offer", goal="Book a demo"))
    campaign_leads_add(campaign=campaign, customers=[customer])
    campaign_transition(campaign=campaign, to="running")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_tasks.campaigns_dispatch_task.delay()
    call = CallSession.objects.get(customer_profile=customer)
    assert call.twilio_call_sid and "Book a demo" in call.context
    assert len(profile.dials()) == (1 if profile.production else 0)
    sim.call_sid = call.twilio_call_sid
    answer_outbound(sim, profile)
    profile.model_says("Wonderful, you're all set. Goodbye!", tool_call("end_call", {"outcome": "converted"}))
    assert b"<Hangup" in sim.say("Yes, sign me up").content

    call = hang_up(sim, seq=3)

    assert (call.status, call.outcome) == ("completed", "converted")
    lead = CampaignLead.objects.get(campaign=campaign, customer=customer)
    assert (lead.state, lead.outcome, lead.attempts) == ("done", "converted", 1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_tasks.campaigns_dispatch_task.delay()
    assert CallSession.objects.count() == 1  # a settled lead is never dialled again
