"""Memory across calls: a callback remembers the call it was booked on, a returning caller is known.

Every call goes through the real doors: signed webhooks (``TwilioSim``), the beat task that
places due callbacks on the simulated phone, and the real ``openai`` client against the fake
server when the prompt is checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from accounts.models import Client
from callbacks.models import ScheduledCallback
from calls import tasks
from calls.actions import NO_TRANSFER_NUMBER
from calls.models import CallSession
from calls.tests.conftest import TwilioSim, openai_configured
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory
from integrations.tests.fake_openai import Canned, completion

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)
TUESDAY_3PM = datetime(2026, 11, 24, 15, 0, tzinfo=NY)  # the "tomorrow afternoon" Dana asked for
CALLER = "+12125550123"
PRICING = "Our pricing is simple: $0 down, from $89/month."


def said(response) -> str:
    return " ".join(e.text or "" for e in ET.fromstring(response.content).iter("Say"))


def dana(agent, **fields) -> CustomerProfile:
    return CustomerFactory(
        ai_agent=agent, phone_number=CALLER, name="Dana Reyes", timezone="America/New_York", **fields
    )


def first_call_books_a_callback(client, agent, *, also_said: str = "") -> None:
    """Dana calls in on Monday, asks the price, and asks to be called back tomorrow afternoon."""
    first = TwilioSim(client, agent)
    with time_machine.travel(MONDAY_10AM, tick=False):
        first.incoming(from_number=CALLER)
        first.say("How much does it cost?")
        if also_said:
            first.say(also_said)
        first.say("I'm driving right now, can you call me back tomorrow afternoon?")
        first.status("completed", seq=3)
    assert ScheduledCallback.objects.get(customer_profile__phone_number=CALLER).status == "scheduled"


def callback_placed(client, agent, capture_on_commit) -> TwilioSim:
    """The beat task places the due callback on the simulated phone; the sim speaks for that call."""
    with capture_on_commit(execute=True):
        tasks.dispatch_due_callbacks.delay().get()
    call = CallSession.objects.get(call_type="scheduled")
    sim = TwilioSim(client, agent)
    sim.call_sid = call.twilio_call_sid
    return sim


def answered(sim: TwilioSim):
    return sim.post("answered", {"CallSid": sim.call_sid, "CallStatus": "in-progress"})


def test_the_callback_opens_with_the_call_it_was_booked_on(client, trained_agent, django_capture_on_commit_callbacks):
    dana(trained_agent)
    first_call_books_a_callback(client, trained_agent)
    assert CustomerProfile.objects.get(phone_number=CALLER).call_preference_time == "afternoon"

    with time_machine.travel(TUESDAY_3PM, tick=False):
        callback = callback_placed(client, trained_agent, django_capture_on_commit_callbacks)
        greeting = said(answered(callback))

    assert "Hi Dana, it's Sarah from Acme Solar, calling back as you asked yesterday about the pricing." in greeting
    assert "Is now still a good time?" in greeting


def test_a_yes_on_the_callback_gets_the_price_asked_for_not_the_pitch(
    client, trained_agent, django_capture_on_commit_callbacks
):
    dana(trained_agent)
    first_call_books_a_callback(client, trained_agent)
    with time_machine.travel(TUESDAY_3PM, tick=False):
        callback = callback_placed(client, trained_agent, django_capture_on_commit_callbacks)
        answered(callback)
        statements: list[str] = []

        def record(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            reply = said(callback.say("Yes, go ahead", n=1))
        asked_again = said(callback.say("And how much is it again?"))

    assert reply.startswith(PRICING) and "A big plus" not in reply
    assert asked_again.startswith(("As I mentioned", PRICING)) and "$89/month" in asked_again
    # The memory was read once, at the greeting: a turn is still the agent, the call, its own
    # transcript and one insert (no read of the earlier call or its callback).
    work = [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    assert len(work) == 4, work
    assert not any("scheduledcallback" in sql for sql in work), work


def test_the_callback_prompt_sent_to_the_model_carries_the_earlier_call(
    client, trained_agent, settings, django_capture_on_commit_callbacks
):
    dana(trained_agent)
    first_call_books_a_callback(client, trained_agent, also_said="I need to think about it")
    with time_machine.travel(TUESDAY_3PM, tick=True), openai_configured(settings, budget_s=2.0) as llm:
        llm.respond(
            Canned(body=completion("Hi Dana, Sarah from Acme Solar calling back about the pricing. Good time?")),
            Canned(body=completion("It's $0 down and from $89 a month.")),
        )
        callback = callback_placed(client, trained_agent, django_capture_on_commit_callbacks)
        greeting = said(answered(callback))
        callback.say("Yes, what was the price?")

    assert "calling back about the pricing" in greeting
    assert len(llm.requests) == 2
    for request in llm.requests:  # the greeting and the next turn both know the earlier call
        prompt = request["messages"][0]["content"]
        memory = prompt[prompt.index("The previous call with this customer:") :]
        assert "- When: Monday 23 November 2026; outcome: callback requested" in memory
        assert "- This call is the callback the customer asked for. Why: Caller asked for a callback" in memory
        assert "- They asked about: pricing" in memory
        assert '"How much does it cost?"' in memory and '"I need to think about it"' in memory
        assert "- Preferred time of day for calls: afternoon" in memory
        assert "- Open objections (not yet answered): need_to_think" in memory
        assert "calling back as they asked" in memory


def test_a_returning_inbound_caller_is_greeted_as_returning(client, trained_agent):
    dana(trained_agent)
    with time_machine.travel(MONDAY_10AM, tick=False):
        first = TwilioSim(client, trained_agent)
        first.incoming(from_number=CALLER)
        first.say("How much does it cost?")
        first.say("Thanks, bye")
        first.status("completed", seq=3)
    with time_machine.travel(TUESDAY_3PM, tick=False):
        greeting = said(TwilioSim(client, trained_agent).incoming(from_number=CALLER))

    assert greeting.endswith(
        "Thanks for calling Acme Solar, Dana! It's Sarah, good to hear from you again. "
        "Last time you asked about the pricing. How can I help you today?"
    )


def test_a_returning_caller_without_a_name_is_still_welcomed_back(client, trained_agent):
    with time_machine.travel(MONDAY_10AM, tick=False):
        first = TwilioSim(client, trained_agent)
        first.incoming(from_number="+12125550177")
        first.say("Thanks, bye")
        first.status("completed", seq=3)
    with time_machine.travel(TUESDAY_3PM, tick=False):
        greeting = said(TwilioSim(client, trained_agent).incoming(from_number="+12125550177"))

    assert "Thanks for calling Acme Solar again! It's Sarah, good to hear from you again." in greeting


def test_a_first_time_inbound_caller_gets_an_inbound_greeting_not_the_outbound_script(client, trained_agent):
    with time_machine.travel(MONDAY_10AM, tick=False):
        greeting = said(TwilioSim(client, trained_agent).incoming(from_number="+12125550188"))

    assert "Thank you for calling Acme Solar, this is Sarah. How can I help you?" in greeting
    assert "We help homeowners" not in greeting and "minute" not in greeting


def test_no_transfer_number_gives_one_message_without_please_hold(client, trained_agent):
    Client.objects.filter(pk=trained_agent.client_id).update(transfer_phone_number="")
    with time_machine.travel(MONDAY_10AM, tick=False):
        sim = TwilioSim(client, trained_agent)
        sim.incoming(from_number=CALLER)
        reply = sim.say("Can I talk to a real person please?")

    document = ET.fromstring(reply.content)
    assert said(reply) == NO_TRANSFER_NUMBER and "hold" not in said(reply).lower()
    assert document.find("Dial") is None and document.find("Gather") is not None
