"""Callers who withhold their number are answered like anyone (issue 11, finding 3).

Each gets an anonymous customer of their own; a callback they ask for waits until they say a
number, which is read in the agent's country; an anonymous customer is never dialled or merged.
"""

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from calls.models import CallSession
from calls.tests.conftest import TwilioSim
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

MONDAY_10AM = "2026-11-23 15:00:00+00:00"  # 10:00 in New York
NO_NUMBER = "I don't have a number to call you back on; can you give me one?"
WITHHELD = ["anonymous", "Restricted", "UNKNOWN", "blocked", "", "not-a-number", "+1555"]


def _customer(sim) -> CustomerProfile:
    return CallSession.objects.select_related("customer_profile").get(twilio_call_sid=sim.call_sid).customer_profile


@pytest.mark.parametrize("caller_id", WITHHELD)
def test_a_withheld_or_unreadable_caller_id_is_answered_and_recorded(twilio_sim, caller_id):
    response = twilio_sim.incoming(from_number=caller_id)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<Gather" in body and "<Hangup" not in body and "went wrong" not in body
    customer = _customer(twilio_sim)
    assert customer.is_anonymous and customer.phone_number == ""


def test_a_missing_from_is_answered_too(twilio_sim):
    response = twilio_sim.post(
        "incoming",
        {"CallSid": twilio_sim.call_sid, "To": twilio_sim.agent.phone_number, "Direction": "inbound"},
    )
    assert response.status_code == 200 and "<Gather" in response.content.decode()
    assert _customer(twilio_sim).is_anonymous


def test_every_anonymous_call_gets_its_own_customer(client, trained_agent):
    first, second = TwilioSim(client, trained_agent), TwilioSim(client, trained_agent)
    first.incoming(from_number="anonymous")
    second.incoming(from_number="anonymous")
    first.incoming(from_number="anonymous")  # Twilio retrying the first webhook adds nobody

    assert _customer(first) != _customer(second)
    assert CustomerProfile.objects.filter(ai_agent=trained_agent, is_anonymous=True).count() == 2


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize("said", ["It's 212 555 0123.", "two one two five five five zero one two three"])
def test_a_callback_waits_for_a_number_and_is_booked_once_the_caller_says_one(twilio_sim, said):
    twilio_sim.incoming(from_number="anonymous")

    asked = twilio_sim.say("Can you call me back tomorrow afternoon?")

    assert NO_NUMBER in asked.content.decode()
    assert "<Gather" in asked.content.decode()
    assert not ScheduledCallback.objects.exists()

    noted = twilio_sim.say(said)

    customer = _customer(twilio_sim)
    assert customer.phone_number == "+12125550123" and not customer.is_anonymous
    assert customer.timezone == "America/New_York"
    callback = ScheduledCallback.objects.get(customer_profile=customer)
    assert callback.scheduled_datetime.date().isoformat() == "2026-11-24"
    assert "2 1 2 5 5 5 0 1 2 3" in noted.content.decode()
    assert CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid).followup_scheduled


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_number_another_customer_has_is_not_merged(twilio_sim):
    known = CustomerFactory(ai_agent=twilio_sim.agent, phone_number="+12125550123", name="Dana")
    twilio_sim.incoming(from_number="anonymous")
    twilio_sim.say("Call me back tomorrow afternoon")

    reply = twilio_sim.say("my number is 212 555 0123")

    assert "can't use that number" in reply.content.decode()
    assert _customer(twilio_sim).is_anonymous
    assert not ScheduledCallback.objects.exists()
    known.refresh_from_db()
    assert known.total_calls == 0 and known.name == "Dana"


def test_an_anonymous_customer_is_never_dialled(api_a, twilio_sim):
    twilio_sim.incoming(from_number="anonymous")
    customer = _customer(twilio_sim)

    response = api_a.post(
        "/api/callbacks/",
        {"customer_id": str(customer.pk), "scheduled_datetime": "2030-01-07T15:00:00Z", "reason": "Follow up"},
        format="json",
    )

    assert 400 <= response.status_code < 500, response.content
    assert not ScheduledCallback.objects.exists()
