"""A call end to end through signed webhook requests, as Twilio would send them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Client
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from calls.tests.conftest import PRICE_ANSWER
from customers.models import CustomerProfile

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
# A Monday, 10:00 in New York: inside every calling window.
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


def twiml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def said(response) -> str:
    return " ".join(e.text or "" for e in twiml(response).iter("Say"))


def verbs(response) -> set[str]:
    return {e.tag for e in twiml(response).iter()}


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (CallSession, CallTurn, CustomerProfile, ScheduledCallback))


@time_machine.travel(MONDAY_10AM, tick=False)
def test_inbound_call_greets_answers_objection_and_product_question_books_callback_and_hangs_up(twilio_sim):
    greeting = twilio_sim.incoming()
    assert greeting.status_code == 200
    text = said(greeting)
    assert "Sarah" in text and "Acme Solar" in text  # [NAME] and [COMPANY] filled
    assert "AI assistant" in text and "recorded" in text  # the disclosure comes first on every call
    gather = next(twiml(greeting).iter("Gather"))
    assert gather.get("input") == "speech" and gather.get("speechTimeout") == "auto"
    assert next(twiml(greeting).iter("Say")).get("voice") == "Polly.Joanna-Neural"
    call = CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid)
    assert call.call_type == "inbound" and call.customer_profile.phone_number == "+12125550123"

    objection = twilio_sim.say("Honestly that sounds way too expensive for us")
    assert PRICE_ANSWER in said(objection)
    assert "Gather" in verbs(objection)
    customer = CustomerProfile.objects.get(pk=call.customer_profile_id)
    assert [o["key"] for o in customer.objections] == ["price_too_high"]

    product = twilio_sim.say("How much does it cost per month?")
    assert "$89" in said(product)

    callback = twilio_sim.say("I'm busy right now, call me tomorrow afternoon")
    assert "Hangup" in verbs(callback)
    booked = ScheduledCallback.objects.get(customer_profile=customer)
    local = booked.scheduled_datetime.astimezone(NY)
    assert (local.date().isoformat(), local.hour) == ("2026-11-24", 14)
    assert booked.source_call_id == call.pk and booked.status == "scheduled"

    twilio_sim.status("completed", seq=5, duration=95)
    call.refresh_from_db()
    assert call.status == "completed" and call.outcome == "callback_requested"
    assert call.duration_seconds == 95 and call.ended_at is not None
    assert "Caller: How much does it cost per month?" in call.conversation_transcript
    assert call.sentiment_analysis["label"] in ("positive", "neutral", "negative")
    turns = list(call.turns.order_by("sequence"))
    assert [t.speaker for t in turns] == ["agent", "caller", "agent", "caller", "agent", "caller", "agent"]
    assert all(t.latency_ms is not None for t in turns if t.speaker == "agent")
    customer.refresh_from_db()
    assert customer.total_calls == 1


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_callback_asked_for_late_at_night_is_booked_at_eight_the_next_morning(twilio_sim):
    twilio_sim.incoming()
    twilio_sim.say("Call me back tonight at 11pm")
    booked = ScheduledCallback.objects.get()
    local = booked.scheduled_datetime.astimezone(NY)
    # 23:00 is outside 08:00-21:00; the agent works 09:00-18:00, so the first allowed time is 09:00.
    assert local.date().isoformat() == "2026-11-24"
    assert local.hour == 9


@time_machine.travel(MONDAY_10AM, tick=False)
def test_opt_out_sets_do_not_call_cancels_callbacks_and_ends_the_call(twilio_sim):
    twilio_sim.incoming()
    call = CallSession.objects.get()
    ScheduledCallback.objects.create(
        ai_agent=call.ai_agent, customer_profile=call.customer_profile, scheduled_datetime=MONDAY_10AM.replace(day=25)
    )
    response = twilio_sim.say("Please take me off your list and stop calling me")
    assert "Hangup" in verbs(response) and "Gather" not in verbs(response)
    customer = CustomerProfile.objects.get(pk=call.customer_profile_id)
    assert customer.is_do_not_call
    assert not ScheduledCallback.objects.filter(status="scheduled").exists()
    twilio_sim.status("completed", seq=3)
    call.refresh_from_db()
    assert call.outcome == "do_not_call"
    assert not ScheduledCallback.objects.filter(status="scheduled").exists()  # no follow-up either


def test_forged_or_unsigned_requests_are_refused_and_write_nothing(twilio_sim):
    before = counts()
    assert (
        twilio_sim.post("incoming", {"CallSid": twilio_sim.call_sid, "From": "+12125550123"}, sign=False).status_code
        == 403
    )
    forged = twilio_sim.post(
        "incoming", {"CallSid": twilio_sim.call_sid, "From": "+12125550123"}, token="not-the-token"
    )
    assert forged.status_code == 403
    assert counts() == before


def test_a_signature_for_another_agent_url_is_refused(twilio_sim, agent_b):
    from calls.tests.conftest import TwilioSim

    other = TwilioSim(twilio_sim.http, agent_b)
    other.call_sid = twilio_sim.call_sid
    # Signed with agent B's token for agent A's URL: the tenant in the URL decides the token.
    response = twilio_sim.post(
        "incoming", {"CallSid": "CA" + "1" * 32, "From": "+12125550123"}, token="wrong-" + "x" * 20
    )
    assert response.status_code == 403


@time_machine.travel(MONDAY_10AM, tick=False)
def test_replayed_webhooks_create_nothing_new_and_answer_the_same(twilio_sim):
    first = twilio_sim.incoming()
    again = twilio_sim.incoming()
    assert first.content == again.content
    reply = twilio_sim.say("It's too expensive", n=1)
    before = counts()
    replay = twilio_sim.say("It's too expensive", n=1)
    assert replay.content == reply.content
    assert counts() == before
    assert CallSession.objects.count() == 1


def test_an_unknown_agent_is_a_polite_404(client):
    response = client.post("/webhooks/twilio/00000000-0000-0000-0000-000000000000/incoming/", {"CallSid": "CA1"})
    assert response.status_code == 404
    assert "not in service" in said(response)


@pytest.mark.parametrize(
    "params",
    [
        {},  # no CallSid at all
        {"CallSid": "<script>", "From": "garbage"},
        {"CallSid": "CA" + "a" * 32, "From": "not-a-number"},
        {"CallSid": "CA" + "b" * 32, "From": "+12125550123", "SequenceNumber": "x", "SpeechResult": "\x00" * 10},
    ],
)
def test_garbage_is_answered_with_valid_twiml_or_a_4xx_never_a_500(twilio_sim, params):
    for name in ("incoming", "turn", "answered", "fallback"):
        response = twilio_sim.post(name, params, query={"n": "abc"} if name == "turn" else None)
        assert response.status_code < 500
        twiml(response)  # parses as XML
    for name in ("status", "recording", "amd"):
        assert twilio_sim.post(name, params).status_code < 500


def test_get_requests_are_not_webhooks(client, twilio_sim):
    from calls.telephony import webhook_path

    assert client.get(webhook_path(twilio_sim.agent, "incoming")).status_code == 405


@time_machine.travel(MONDAY_10AM, tick=False)
def test_status_events_out_of_order_never_take_a_finished_call_back(twilio_sim):
    twilio_sim.incoming()
    twilio_sim.status("completed", seq=4, duration=30)
    twilio_sim.status("ringing", seq=1)
    twilio_sim.status("in-progress", seq=2)
    call = CallSession.objects.get()
    assert call.status == "completed" and call.status_sequence == 4
    customer = call.customer_profile
    customer.refresh_from_db()
    twilio_sim.status("completed", seq=4)  # a repeated final event counts nothing twice
    customer.refresh_from_db()
    assert customer.total_calls == 1


@time_machine.travel(MONDAY_10AM, tick=False)
def test_silence_is_prompted_and_the_agent_gives_up_politely(twilio_sim):
    twilio_sim.incoming()
    first = twilio_sim.say(None)
    assert "Gather" in verbs(first)
    twilio_sim.say(None)
    third = twilio_sim.say(None)
    assert "Hangup" in verbs(third)


def test_an_untrained_agent_turns_inbound_callers_away_politely(client, agent_a):
    from calls.tests.conftest import TwilioSim

    agent_a.training_level = 5
    agent_a.save()
    response = TwilioSim(client, agent_a).incoming()
    assert "Hangup" in verbs(response)
    assert CallSession.objects.count() == 0


@time_machine.travel(MONDAY_10AM, tick=False)
def test_transfer_dials_the_clients_number(twilio_sim):
    Client.objects.filter(pk=twilio_sim.agent.client_id).update(transfer_phone_number="+12125550188")
    twilio_sim.agent.client.refresh_from_db()
    twilio_sim.incoming()
    response = twilio_sim.say("Can I talk to a real person please?")
    dial = next(twiml(response).iter("Dial"))
    assert "+12125550188" in ET.tostring(dial, encoding="unicode")


def _statements(captured) -> list[str]:
    """What the turn asked of the database, not the transaction framing around it."""
    return [q["sql"] for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT", "ROLLBACK")]


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the webhooks run as in production
@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_greeting_and_an_ordinary_turn_send_a_few_statements_however_long_the_call(twilio_sim):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.tests.factories import CustomerFactory

    CustomerFactory(ai_agent=twilio_sim.agent, phone_number="+12125550123")  # a returning caller
    assert twilio_sim.agent.client.name  # the test signs with the client's token: loaded before measuring
    with CaptureQueriesContext(connection) as captured:
        twilio_sim.incoming()
    greeting = _statements(captured)  # read now: the log is cleared when the next request starts
    for n in range(1, 30, 2):
        twilio_sim.say("What does the system come with?", n=n)
    with CaptureQueriesContext(connection) as captured:
        response = twilio_sim.say("What does the system come with?", n=31)

    assert "Gather" in verbs(response)
    # agent, customer, the day's call counter for the dashboard (one upsert), call, greeting
    assert len(greeting) == 5, [q[:80] for q in greeting]
    turn = _statements(captured)
    assert len(turn) == 4, turn  # agent, call, transcript; both turns in one INSERT (bulk_create's own transaction)
    assert [q.split()[0] for q in turn] == ["SELECT", "SELECT", "SELECT", "INSERT"]


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_plain_gather_turn_sends_at_most_four_statements(twilio_sim, django_assert_max_num_queries):
    """The speed guard of the hottest door (ADR 0006): the agent, the call, its transcript, one insert."""
    twilio_sim.incoming()
    for n in range(1, 20, 2):
        twilio_sim.say("What does the system come with?", n=n)
    assert twilio_sim.agent.client.name  # the test signs with the client's token: loaded before counting
    with django_assert_max_num_queries(4):
        response = twilio_sim.say("What does the system come with?", n=21)
    assert "Gather" in verbs(response)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_first_time_inbound_caller_is_welcomed_not_pitched_the_outbound_script(twilio_sim):
    """They rang us: 'How can I help?', not the cold-call 'do you have a quick minute?'."""
    from agents.services import training_add

    training_add(
        agent=twilio_sim.agent,
        training_type="script",
        training_content="Hi, this is [NAME] from [COMPANY]. We help homeowners cut their power bill with solar. "
        "Do you have a quick minute?",
    )
    text = said(twilio_sim.incoming(from_number="+12125550177"))
    assert "Sarah" in text and "Acme Solar" in text
    assert "How can I help you" in text
    assert "minute" not in text
    assert "cut their power bill" not in text
