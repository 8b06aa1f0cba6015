"""Calls nobody (or a machine) answered: voicemail, and follow-ups by the agent's rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from calls.models import CallSession
from calls.outbound import call_place
from calls.tests.conftest import TwilioSim
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


@pytest.fixture
def outbound(monday, client, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    call = call_place(agent=trained_agent, customer=customer)
    sim = TwilioSim(client, trained_agent)
    sim.call_sid = call.twilio_call_sid
    return sim, call


def test_a_machine_gets_the_trained_voicemail_and_the_call_ends_as_voicemail(outbound, trained_agent):
    trained_agent.voicemail_message = "Hi, it's Sarah from Acme Solar about your solar quote. I'll try again soon."
    trained_agent.save()
    sim, call = outbound
    sim.post("answered", {"CallSid": sim.call_sid, "CallStatus": "in-progress"})
    sim.post("amd", {"CallSid": sim.call_sid, "AnsweredBy": "machine_end_beep"})
    sim.post("amd", {"CallSid": sim.call_sid, "AnsweredBy": "machine_end_beep"})  # repeated: nothing new
    sim.status("completed", seq=3, duration=20)
    call.refresh_from_db()
    assert call.answered_by == "machine_end_beep" and call.outcome == "voicemail"
    voicemail = call.turns.filter(provider="voicemail")
    assert voicemail.count() == 1 and "try again soon" in voicemail.get().text
    followup = ScheduledCallback.objects.get(kind="followup")
    assert followup.customer_profile_id == call.customer_profile_id


def test_busy_schedules_a_followup_after_the_agents_delay_up_to_its_attempts(outbound, trained_agent):
    trained_agent.followup_delay_minutes = 90
    trained_agent.followup_max_attempts = 1
    trained_agent.save()
    sim, call = outbound
    sim.status("busy", seq=2, duration=0)
    followup = ScheduledCallback.objects.get()
    assert followup.kind == "followup" and followup.source_call_id == call.pk
    assert followup.scheduled_datetime == MONDAY_10AM + timedelta(minutes=90)
    call.refresh_from_db()
    assert call.outcome == "no_answer" and call.followup_scheduled

    # The follow-up is placed and again nobody answers: the agent's one attempt is used up.
    followup.status = "canceled"
    followup.save()
    second = call_place(agent=trained_agent, customer=call.customer_profile, call_type="followup")
    sim.call_sid = second.twilio_call_sid
    sim.status("no-answer", seq=2, duration=0)
    assert not ScheduledCallback.objects.filter(status="scheduled").exists()


def test_a_do_not_call_customer_gets_no_followup(outbound):
    sim, call = outbound
    customer = call.customer_profile
    customer.is_do_not_call = True
    customer.save()
    sim.status("no-answer", seq=2, duration=0)
    assert not ScheduledCallback.objects.exists()
    assert CallSession.objects.get().outcome == "no_answer"
