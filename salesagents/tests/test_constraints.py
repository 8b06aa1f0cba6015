"""Invariants are enforced by the database itself, not only by forms and serializers."""

from datetime import time

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from agents.models import AIAgent
from agents.tests.factories import AIAgentFactory
from callbacks.tests.factories import CallbackFactory
from calls.models import CallTurn
from calls.tests.factories import CallFactory
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_a_client_has_one_agent(agent_a, client_a):
    refused(lambda: AIAgent.objects.create(client=client_a, name="Second"))


def test_agent_phone_numbers_are_unique(agent_a, client_b):
    refused(lambda: AIAgent.objects.create(client=client_b, name="Copy", phone_number=agent_a.phone_number))


def test_training_level_is_at_most_100(agent_a):
    agent_a.training_level = 101
    refused(agent_a.save)


def test_working_hours_must_be_ordered(client_a):
    refused(lambda: AIAgentFactory(client=client_a, working_hours_start=time(18), working_hours_end=time(9)))


def test_duplicate_phone_per_agent_is_refused(agent_a):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550123")
    refused(lambda: CustomerFactory(ai_agent=agent_a, phone_number="+12125550123"))


def test_same_phone_under_two_agents_is_fine(agent_a, agent_b):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550123")
    CustomerFactory(ai_agent=agent_b, phone_number="+12125550123")


def test_successful_calls_cannot_exceed_total(agent_a):
    refused(lambda: CustomerFactory(ai_agent=agent_a, total_calls=1, successful_calls=2))


def test_converted_flag_must_match_interest_level(agent_a):
    refused(lambda: CustomerFactory(ai_agent=agent_a, interest_level="hot", is_converted=True))
    refused(lambda: CustomerFactory(ai_agent=agent_a, interest_level="converted", is_converted=False))


@pytest.mark.parametrize("priority", [0, 6])
def test_callback_priority_is_1_to_5(agent_a, priority):
    customer = CustomerFactory(ai_agent=agent_a)
    refused(lambda: CallbackFactory(customer_profile=customer, priority_level=priority))


def test_callback_attempts_cannot_pass_max(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    refused(lambda: CallbackFactory(customer_profile=customer, attempts=4, max_attempts=3))


def test_in_progress_callback_needs_a_lease(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    refused(lambda: CallbackFactory(customer_profile=customer, status="in_progress", lease_expires_at=None))


def test_call_sid_is_unique_but_may_be_empty(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CallFactory(customer_profile=customer, twilio_call_sid="CA123")
    refused(lambda: CallFactory(customer_profile=customer, twilio_call_sid="CA123"))
    CallFactory(customer_profile=customer, twilio_call_sid=None)
    CallFactory(customer_profile=customer, twilio_call_sid=None)


@pytest.mark.parametrize("score", [0, 6])
def test_customer_satisfaction_is_1_to_5(agent_a, score):
    customer = CustomerFactory(ai_agent=agent_a)
    refused(lambda: CallFactory(customer_profile=customer, customer_satisfaction=score))


def test_turn_sequence_is_unique_per_call(agent_a):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    CallTurn.objects.create(call=call, sequence=0, speaker="agent", text="Hi")
    refused(lambda: CallTurn.objects.create(call=call, sequence=0, speaker="caller", text="Hello"))


def test_staff_belong_to_no_client_and_client_users_to_one(client_a):
    refused(lambda: User.objects.create(email="x@x.test", is_staff=True, client=client_a))
    refused(lambda: User.objects.create(email="y@x.test", is_staff=False, client=None))
