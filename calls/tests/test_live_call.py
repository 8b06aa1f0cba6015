"""The turn's one hand-written read gives exactly what the ORM would, and nothing of another client's."""

from __future__ import annotations

import pytest

from accounts.models import Client
from agents.models import AIAgent
from calls.models import CallSession, CallTurn
from calls.selectors_voice import TranscriptLine, live_call
from calls.tests.factories import CallFactory, CallTurnFactory
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.fixture
def call(agent_a):
    client = agent_a.client
    client.twilio_subaccount_sid = "AC" + "1" * 32
    client.twilio_auth_token = "subaccount-secret-token"  # stored encrypted
    client.save()
    agent_a.knowledge = {"script": "Hi, this is [NAME].", "faq": {"Warranty?": "25 years."}}
    agent_a.conversation_memory = {"objections": {"price_too_high": 3}}
    agent_a.save()
    customer = CustomerFactory(ai_agent=agent_a, name="Ana Díaz", objections=[{"key": "price_too_high"}])
    call = CallFactory(customer_profile=customer, status=CallSession.Status.IN_PROGRESS, context="Renewal")
    for sequence, speaker, actions in [(2, "agent", [{"type": "end_call", "outcome": "interested"}]),
                                       (0, "agent", []), (1, "caller", [])]:  # fmt: skip
        CallTurnFactory(call=call, sequence=sequence, speaker=speaker, text=f"line {sequence}", actions=actions)
    return call


def test_it_loads_the_call_agent_client_and_customer_as_the_orm_does(call, agent_a):
    live = live_call(agent_public_id=agent_a.public_id, call_sid=call.twilio_call_sid)

    assert _fields(live.call) == _fields(CallSession.objects.get(pk=call.pk))
    assert _fields(live.call.ai_agent) == _fields(AIAgent.objects.get(pk=agent_a.pk))
    assert _fields(live.call.ai_agent.client) == _fields(Client.objects.get(pk=agent_a.client_id))
    assert _fields(live.call.customer_profile) == _fields(CustomerProfile.objects.get(pk=call.customer_profile_id))
    assert live.call.ai_agent.client.twilio_auth_token == "subaccount-secret-token"
    assert live.call.ai_agent.knowledge["faq"] == {"Warranty?": "25 years."}


def test_the_transcript_comes_in_order_with_its_actions(call, agent_a):
    live = live_call(agent_public_id=agent_a.public_id, call_sid=call.twilio_call_sid)

    assert live.transcript == [
        TranscriptLine(0, "agent", "line 0", []),
        TranscriptLine(1, "caller", "line 1", []),
        TranscriptLine(2, "agent", "line 2", [{"type": "end_call", "outcome": "interested"}]),
    ]


def test_a_call_without_turns_has_an_empty_transcript(agent_a):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    assert live_call(agent_public_id=agent_a.public_id, call_sid=call.twilio_call_sid).transcript == []


def test_the_loaded_objects_save_like_orm_ones(call, agent_a):
    live = live_call(agent_public_id=agent_a.public_id, call_sid=call.twilio_call_sid)
    customer = live.call.customer_profile
    customer.interest_level = "hot"
    customer.save(update_fields=["interest_level", "updated_at"])

    assert CustomerProfile.objects.get(pk=customer.pk).interest_level == "hot"
    assert CustomerProfile.objects.count() == 1


def test_another_clients_agent_or_an_unknown_call_finds_nothing(call, agent_b):
    assert live_call(agent_public_id=agent_b.public_id, call_sid=call.twilio_call_sid) is None
    assert live_call(agent_public_id=call.ai_agent.public_id, call_sid="CA" + "f" * 32) is None
    assert live_call(agent_public_id=call.ai_agent.public_id, call_sid="") is None
    assert live_call(agent_public_id=call.ai_agent.public_id, call_sid="CA" + "1" * 200) is None


def test_it_is_one_statement_however_long_the_call(call, agent_a, django_assert_num_queries):
    CallTurn.objects.bulk_create(CallTurn(call=call, sequence=n, speaker="caller", text="more") for n in range(3, 200))
    with django_assert_num_queries(1):
        live = live_call(agent_public_id=agent_a.public_id, call_sid=call.twilio_call_sid)
        assert live.call.ai_agent.client.name and live.call.customer_profile.name
    assert len(live.transcript) == 200
