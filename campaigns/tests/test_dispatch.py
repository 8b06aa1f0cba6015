"""The campaign dispatcher with the clock moved: windows, holds, retries by outcome, pause, approval, faults."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from calls.dispatch import ORPHAN_AFTER
from calls.models import CallSession
from calls.simulated_phone import SimulatedGateway, SimulatedPhone
from campaigns.dispatch import LEASE, campaign_claim, lead_place, lead_wait_reason
from campaigns.models import ApprovalDecision, Campaign, CampaignLead
from campaigns.services import (
    CampaignSpec,
    campaign_create,
    campaign_decide,
    campaign_leads_add,
    campaign_leads_import_csv,
    campaign_transition,
    lead_decide,
)
from campaigns.tests.conftest import TUESDAY_2PM, customers, running_campaign, tick
from core.errors import Conflict
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CSV = (
    "phone_number,name,timezone,do_not_call,interest_level\n"
    "+12125550101,Dana,America/New_York,no,hot\n"
    "not-a-number,Bad Row,America/New_York,no,warm\n"
    "+12125550102,Opted Out,America/New_York,yes,warm\n"
    "+81312345678,Night Owl,Asia/Tokyo,no,warm\n"
    "+12125550103,Bad Level,America/New_York,no,boiling\n"
    "+12125550104,Eli,America/New_York,no,cold\n"
)


def fresh(obj):
    obj.refresh_from_db()
    return obj


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_csv_campaign_reports_bad_rows_skips_dnc_and_holds_a_lead_where_it_is_night(agent):
    campaign = campaign_create(agent=agent, spec=CampaignSpec(name="Spring", goal="Book a roof survey"))
    added = campaign_leads_import_csv(campaign=campaign, stream=io.BytesIO(CSV.encode()))
    # A customer without a timezone, added by hand.
    unknown = CustomerFactory(ai_agent=agent, phone_number="+12125550199", timezone="")
    campaign_leads_add(campaign=campaign, customers=[unknown])

    assert sorted(e.line for e in added.import_report.errors) == [3, 6]
    leads = {lead.customer.name: lead for lead in CampaignLead.objects.select_related("customer")}
    assert set(leads) == {"Dana", "Opted Out", "Night Owl", "Eli", unknown.name}
    assert (leads["Opted Out"].state, leads["Opted Out"].skip_reason) == ("skipped", "do_not_call")
    assert (leads[unknown.name].state, leads[unknown.name].skip_reason) == ("skipped", "timezone_unknown")
    assert leads["Dana"].score > leads["Eli"].score  # hot before cold
    assert set(leads["Dana"].score_parts) == {"interest", "engagement", "outcomes", "pickup", "attempts"}

    campaign_transition(campaign=campaign, to="running")
    assert tick()["placed"] == 2

    called = set(CallSession.objects.values_list("customer_profile__name", flat=True))
    assert called == {"Dana", "Eli"}  # Tokyo is at 03:00: held, not called
    night = fresh(leads["Night Owl"])
    assert night.state == "pending" and night.attempts == 0
    assert "Asia/Tokyo" in lead_wait_reason(campaign, night, TUESDAY_2PM)
    call = CallSession.objects.get(customer_profile__name="Dana")
    assert "Spring" in call.context and "Book a roof survey" in call.context


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_best_scored_lead_is_called_first(agent):
    cold = CustomerFactory(ai_agent=agent, timezone="America/New_York", interest_level="cold")
    hot = CustomerFactory(ai_agent=agent, timezone="America/New_York", interest_level="hot")
    running_campaign(agent, [cold, hot], max_concurrent=1)

    tick()

    assert CallSession.objects.get().customer_profile == hot


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_paused_campaign_places_nothing_and_resumes_where_it_stopped(agent):
    campaign = running_campaign(agent, customers(agent, 3), max_concurrent=1)
    claimed = campaign_claim(campaign=campaign, limit=1)  # a claim made just before the pause
    campaign_transition(campaign=campaign, to="paused")

    assert lead_place(lead_id=claimed[0].pk, token=claimed[0].claim_token) == "stopped"
    assert tick() == {"recovered": 0, "claimed": 0, "completed": 0}
    assert not CallSession.objects.exists()
    assert fresh(claimed[0]).state == "pending" and claimed[0].attempts == 0  # the attempt was not spent

    campaign_transition(campaign=campaign, to="running")
    assert tick()["placed"] == 1
    with pytest.raises(Conflict):
        campaign_transition(campaign=campaign, to="draft")


def test_campaign_status_moves_only_along_the_allowed_transitions(agent):
    campaign = campaign_create(agent=agent, spec=CampaignSpec(name="x"))
    with pytest.raises(Conflict, match="Add leads"):
        campaign_transition(campaign=campaign, to="running")
    campaign_leads_add(campaign=campaign, customers=customers(agent, 1))
    with pytest.raises(Conflict):
        campaign_transition(campaign=campaign, to="paused")
    campaign = campaign_transition(campaign=campaign, to="cancelled")
    assert campaign.leads.get().skip_reason == "cancelled"
    with pytest.raises(Conflict):
        campaign_transition(campaign=campaign, to="running")


def test_retries_follow_the_outcome_and_the_campaign_policy(agent):
    with time_machine.travel(TUESDAY_2PM, tick=False) as clock:
        (busy_one, silent_one, voicemail_one) = customers(agent, 3)
        campaign = running_campaign(
            agent, [busy_one, silent_one, voicemail_one], retry_on=["busy", "voicemail"], max_attempts=2,
            retry_spacing_minutes=30,
        )  # fmt: skip
        tick()
        phone = SimulatedPhone(agent)
        calls = {c.customer_profile_id: c for c in CallSession.objects.all()}
        phone.hang_up(calls[busy_one.pk].twilio_call_sid, status="busy")
        phone.hang_up(calls[silent_one.pk].twilio_call_sid, status="no-answer")
        phone.answer(calls[voicemail_one.pk], machine=True)

        leads = {lead.customer_id: lead for lead in CampaignLead.objects.all()}
        assert (leads[busy_one.pk].state, leads[busy_one.pk].attempts) == ("pending", 1)
        assert leads[busy_one.pk].next_attempt_at == TUESDAY_2PM + timedelta(minutes=30)
        assert (leads[silent_one.pk].state, leads[silent_one.pk].outcome) == ("done", "no_answer")  # not retried
        assert leads[voicemail_one.pk].state == "pending"
        # Campaign calls are retried by the campaign, never also by the agent's follow-up rule.
        assert not ScheduledCallback.objects.exists()

        assert tick().get("placed") is None  # the spacing has not passed
        clock.shift(timedelta(minutes=31))
        assert tick()["placed"] == 2
        for call in CallSession.objects.filter(status="queued"):
            phone.hang_up(call.twilio_call_sid, status="busy")

        leads = {lead.customer_id: lead for lead in CampaignLead.objects.all()}
        assert (leads[busy_one.pk].state, leads[busy_one.pk].skip_reason) == ("skipped", "attempts_used_up")
        assert leads[busy_one.pk].attempts == 2
        assert leads[busy_one.pk].score_parts["attempts"] == -8  # scored again after the first attempt
        assert tick()["completed"] == 1
        assert fresh(campaign).status == "completed"


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_an_answered_call_finishes_the_lead_with_its_outcome(agent):
    campaign = running_campaign(agent, customers(agent, 1))
    tick()
    SimulatedPhone(agent).hang_up(CallSession.objects.get().twilio_call_sid, status="completed")
    lead = campaign.leads.get()
    assert (lead.state, lead.outcome, lead.attempts) == ("done", "answered", 1)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_per_call_approval_waits_for_an_operator_and_every_decision_is_kept(agent, user_a):
    first, second = customers(agent, 2)
    campaign = running_campaign(agent, [first, second], approval_mode="per_call")
    assert tick()["claimed"] == 0

    lead_decide(lead=campaign.leads.get(customer=first), approve=True, decided_by=user_a)
    lead_decide(lead=campaign.leads.get(customer=second), approve=False, reason="VIP, call by hand", decided_by=user_a)
    assert tick()["placed"] == 1

    assert CallSession.objects.get().customer_profile == first
    rejected = campaign.leads.get(customer=second)
    assert (rejected.state, rejected.skip_reason) == ("skipped", "rejected")
    assert list(ApprovalDecision.objects.order_by("id").values_list("decision", "reason", "decided_by")) == [
        ("approved", "", user_a.pk),
        ("rejected", "VIP, call by hand", user_a.pk),
    ]
    with pytest.raises(Conflict):
        lead_decide(lead=rejected, approve=True)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_campaign_waiting_for_approval_places_nothing_and_a_rejection_cancels_it(agent, user_a):
    campaign = running_campaign(agent, customers(agent, 1), approval_mode="campaign")
    assert tick()["claimed"] == 0
    campaign = campaign_decide(campaign=campaign, approve=True, decided_by=user_a)
    assert tick()["placed"] == 1

    other = running_campaign(agent, customers(agent, 1, prefix="+1646555"), approval_mode="campaign")
    other = campaign_decide(campaign=other, approve=False, reason="Wrong list")
    assert other.status == Campaign.Status.CANCELLED
    assert ApprovalDecision.objects.filter(campaign=other, decision="rejected", reason="Wrong list").exists()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_duplicate_placement_task_dials_once(agent):
    campaign = running_campaign(agent, customers(agent, 1))
    (lead,) = campaign_claim(campaign=campaign, limit=5)

    assert lead_place(lead_id=lead.pk, token=lead.claim_token) == "placed"
    assert lead_place(lead_id=lead.pk, token=lead.claim_token) == "stale"
    assert CallSession.objects.count() == 1


class WorkerKilled(BaseException):
    """Stands for the worker process dying."""


def test_a_worker_killed_mid_campaign_neither_redials_nor_loses_an_attempt(agent, monkeypatch):
    with time_machine.travel(TUESDAY_2PM, tick=False) as clock:
        before, during = customers(agent, 2)
        campaign = running_campaign(agent, [before, during])
        claims = {lead.customer_id: lead for lead in campaign_claim(campaign=campaign, limit=5)}
        # Killed after claiming, before placing ``before``; and inside the dial of ``during``.
        real = SimulatedGateway.place_call

        def die(self, request):
            raise WorkerKilled

        monkeypatch.setattr(SimulatedGateway, "place_call", die)
        with pytest.raises(WorkerKilled):
            lead_place(lead_id=claims[during.pk].pk, token=claims[during.pk].claim_token)
        monkeypatch.setattr(SimulatedGateway, "place_call", real)
        orphan = CallSession.objects.get()
        assert orphan.twilio_call_sid is None  # recorded, maybe rung, never answered for

        clock.shift(LEASE + ORPHAN_AFTER)
        report = tick()

        assert report["recovered"] == 2
        lead_before, lead_during = campaign.leads.get(customer=before), campaign.leads.get(customer=during)
        assert (lead_before.attempts, lead_before.state) == (1, "in_progress")  # released unspent, then placed
        assert fresh(orphan).status == "failed"
        assert (lead_during.attempts, lead_during.state) == (1, "pending")  # spent: retried after the spacing
        assert CallSession.objects.filter(customer_profile=during).count() == 1
        assert CallSession.objects.filter(customer_profile=before).count() == 1


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_dial_time_refusals_skip_or_hold_the_lead(agent):
    dnc_later, converted_later = customers(agent, 2)
    campaign = running_campaign(agent, [dnc_later, converted_later])
    CustomerProfile.objects.filter(pk=dnc_later.pk).update(is_do_not_call=True)
    CustomerProfile.objects.filter(pk=converted_later.pk).update(is_converted=True, interest_level="converted")

    tick()

    assert not CallSession.objects.exists()
    assert dict(campaign.leads.values_list("customer_id", "skip_reason")) == {
        dnc_later.pk: "do_not_call",
        converted_later.pk: "converted",
    }
    assert set(campaign.leads.values_list("attempts", flat=True)) == {0}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_client_concurrency_limit_bounds_the_claims_and_the_dials(agent):
    agent.client.max_concurrent_calls = 2
    agent.client.save()
    campaign = running_campaign(agent, customers(agent, 5), max_concurrent=5)

    tick()
    tick()

    assert CallSession.objects.filter(status__in=CallSession.LIVE_STATUSES).count() == 2
    assert campaign.leads.filter(state="pending").count() == 3


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_lead_over_the_weekly_contact_limit_is_held_until_the_week_has_passed(agent):
    agent.client.contact_calls_per_week = 1
    agent.client.save()
    (customer,) = customers(agent, 1)
    CallSession.objects.create(
        ai_agent=agent, customer_profile=customer, call_type="outbound", status="completed", outcome="answered",
        started_at=TUESDAY_2PM - timedelta(days=2), twilio_call_sid="CA" + "1" * 32,
    )  # fmt: skip
    campaign = running_campaign(agent, [customer])

    assert tick()["held"] == 1

    lead = campaign.leads.get()
    assert (lead.state, lead.attempts) == ("pending", 0)
    assert lead.next_attempt_at == TUESDAY_2PM + timedelta(days=5)
    assert "7 days" in lead.note
