"""The turn's fetch (``calls.selectors.live_call``): its call, customer and transcript; nothing of another client's."""

from __future__ import annotations

import pytest

from calls.models import CallSession, CallTurn
from calls.selectors import live_call
from calls.tests.factories import CallFactory, CallTurnFactory
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, name="Ana Díaz", objections=[{"key": "price_too_high"}])
    call = CallFactory(customer_profile=customer, status=CallSession.Status.IN_PROGRESS, context="Renewal")
    for sequence, speaker, actions in [(2, "agent", [{"type": "end_call", "outcome": "interested"}]),
                                       (0, "agent", []), (1, "caller", [])]:  # fmt: skip
        CallTurnFactory(call=call, sequence=sequence, speaker=speaker, text=f"line {sequence}", actions=actions)
    return call


def test_it_brings_the_call_with_its_customer_and_the_agent_in_hand(call, agent_a):
    live = live_call(agent=agent_a, call_sid=call.twilio_call_sid)

    assert live.call.pk == call.pk and live.call.context == "Renewal"
    assert live.call.ai_agent is agent_a  # the webhook's agent (and client): never read again
    assert live.call.customer_profile == CustomerProfile.objects.get(pk=call.customer_profile_id)
    assert live.call.customer_profile.objections == [{"key": "price_too_high"}]


def test_the_transcript_comes_in_order_with_its_actions(call, agent_a):
    live = live_call(agent=agent_a, call_sid=call.twilio_call_sid)

    assert [(t.sequence, t.speaker, t.text, t.actions) for t in live.turns] == [
        (0, "agent", "line 0", []),
        (1, "caller", "line 1", []),
        (2, "agent", "line 2", [{"type": "end_call", "outcome": "interested"}]),
    ]
    assert live.next_sequence == 3


def test_a_call_without_turns_has_an_empty_transcript(agent_a):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    live = live_call(agent=agent_a, call_sid=call.twilio_call_sid)
    assert live.turns == [] and live.next_sequence == 0


def test_another_clients_agent_or_an_unknown_call_finds_nothing(call, agent_b):
    assert live_call(agent=agent_b, call_sid=call.twilio_call_sid) is None
    assert live_call(agent=call.ai_agent, call_sid="CA" + "f" * 32) is None
    assert live_call(agent=call.ai_agent, call_sid="") is None


def test_it_is_two_statements_however_long_the_call(call, agent_a, django_assert_num_queries):
    CallTurn.objects.bulk_create(CallTurn(call=call, sequence=n, speaker="caller", text="more") for n in range(3, 200))
    with django_assert_num_queries(2):
        live = live_call(agent=agent_a, call_sid=call.twilio_call_sid)
        assert live.call.ai_agent.client.name and live.call.customer_profile.name
    assert len(live.turns) == 200
