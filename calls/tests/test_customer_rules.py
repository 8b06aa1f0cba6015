"""The customer's rules hold through the calls app's doors: a live call (the engine's actions)
and the call-outcome API both go through ``customers.services`` (docs/rules.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.models import CallTurn
from calls.tests.factories import CallFactory
from customers.models import CustomerProfile
from customers.services import MAX_NOTES, MAX_OBJECTIONS
from customers.tests.factories import CustomerFactory
from integrations.tests.fake_openai import Canned, completion, tool_call

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)
OUTCOME = "/api/agents/ai/call-outcome/"
CALLER = "+12125550123"


# --- the engine: what the model decides on a live call ---------------------------------------


def _the_model_does(fake_llm, *tools):
    fake_llm.respond(
        Canned(body=completion("Hi, this is Sarah from Acme Solar. Do you have a minute?")),
        Canned(body=completion("I understand.", tool_calls=list(tools))),
    )


def _customer(twilio_sim) -> CustomerProfile:
    return CustomerProfile.objects.get(ai_agent=twilio_sim.agent, phone_number=CALLER)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_converted_customer_stays_converted_whatever_the_model_says_on_a_call(twilio_sim, fake_llm):
    CustomerFactory(ai_agent=twilio_sim.agent, phone_number=CALLER, interest_level="converted", is_converted=True)
    _the_model_does(fake_llm, tool_call("set_interest_level", {"level": "cold"}))
    twilio_sim.incoming()

    twilio_sim.say("Not interested in the battery, thanks")

    customer = _customer(twilio_sim)
    assert (customer.interest_level, customer.is_converted) == ("converted", True)
    assert not any(a["type"] == "set_interest_level" for a in CallTurn.objects.get(sequence=2).actions)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_call_adds_its_objection_to_a_full_list_dropping_the_oldest(twilio_sim, fake_llm):
    old = [{"key": f"old_{n}", "text": "", "at": "2026-01-01T00:00:00+00:00", "call": None} for n in range(50)]
    CustomerFactory(ai_agent=twilio_sim.agent, phone_number=CALLER, objections=old)
    _the_model_does(fake_llm, tool_call("record_objection", {"key": "price_too_high", "text": "too pricey"}))
    twilio_sim.incoming()

    twilio_sim.say("That's too pricey for us")

    objections = _customer(twilio_sim).objections
    assert len(objections) == MAX_OBJECTIONS
    assert objections[0]["key"] == "old_1"
    assert (objections[-1]["key"], objections[-1]["text"]) == ("price_too_high", "too pricey")
    assert objections[-1]["call"] == str(CallTurn.objects.get(sequence=2).call_id)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_caller_the_model_opts_out_loses_every_open_callback(twilio_sim, fake_llm):
    customer = CustomerFactory(ai_agent=twilio_sim.agent, phone_number=CALLER)
    open_ones = CallbackFactory.create_batch(2, customer_profile=customer)
    _the_model_does(fake_llm, tool_call("mark_do_not_call", {"reason": "asked to be removed"}))
    twilio_sim.incoming()

    twilio_sim.say("This is my last call with you people")  # no opt-out the engine answers itself: the model's call

    assert _customer(twilio_sim).is_do_not_call
    assert {(c.status, c.last_error) for c in ScheduledCallback.objects.filter(pk__in=[c.pk for c in open_ones])} == {
        ("canceled", "Customer opted out on a call.")
    }
    record = next(a for a in CallTurn.objects.get(sequence=2).actions if a["type"] == "mark_do_not_call")
    assert record["callbacks_cancelled"] == 2


# --- the call-outcome API: a person says how a call went ---------------------------------------

NOW = datetime(2025, 10, 1, 15, 0, tzinfo=UTC)


def _ended_call(customer):
    return CallFactory(customer_profile=customer, started_at=NOW - timedelta(hours=1))


@time_machine.travel(NOW, tick=False)
def test_not_interested_recorded_for_a_converted_customer_leaves_them_converted(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a, interest_level="converted", is_converted=True)

    response = api_a.post(OUTCOME, {"call_id": str(_ended_call(customer).pk), "outcome": "not_interested"})

    assert response.status_code == 200, response.json()
    assert response.json()["customer"]["interest_level"] == "converted"
    customer.refresh_from_db()
    assert (customer.interest_level, customer.is_converted) == ("converted", True)


@time_machine.travel(NOW, tick=False)
def test_a_do_not_call_outcome_cancels_the_customers_open_callbacks(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    pending = CallbackFactory(customer_profile=customer)

    response = api_a.post(OUTCOME, {"call_id": str(_ended_call(customer).pk), "outcome": "do_not_call"})

    assert response.status_code == 200, response.json()
    pending.refresh_from_db()
    assert (pending.status, pending.last_error) == ("canceled", "Customer asked not to be called.")
    customer.refresh_from_db()
    assert customer.is_do_not_call


@time_machine.travel(NOW, tick=False)
def test_an_outcome_note_and_objection_join_full_lists_once_in_the_shared_shape(api_a, agent_a):
    notes = [{"at": "2025-01-01T00:00:00+00:00", "text": f"note {n}", "source": "api"} for n in range(MAX_NOTES)]
    objections = [{"key": f"old_{n}", "text": "", "at": None, "call": None} for n in range(MAX_OBJECTIONS)]
    customer = CustomerFactory(ai_agent=agent_a, conversation_notes=notes, objections=objections)
    call = _ended_call(customer)
    body = {"call_id": str(call.pk), "outcome": "interested", "conversation_notes": "Wants a quote."}
    body["customer_response"] = "Too expensive for us"

    assert api_a.post(OUTCOME, body).status_code == 200
    assert api_a.post(OUTCOME, body).status_code == 200  # the same request again adds nothing

    customer.refresh_from_db()
    assert len(customer.conversation_notes) == MAX_NOTES
    assert customer.conversation_notes[0]["text"] == "note 1"
    assert customer.conversation_notes[-1] == {
        "at": NOW.isoformat(),
        "text": "Wants a quote.",
        "source": "outcome",
        "call": str(call.pk),
    }
    assert len(customer.objections) == MAX_OBJECTIONS
    assert [(o["key"], o["call"]) for o in customer.objections[-1:]] == [("price_too_high", str(call.pk))]
    assert customer.objections[-2]["key"] == "old_49"
