"""Customer writes and the list selector."""

from __future__ import annotations

import pytest

from core.errors import Conflict, ValidationFailed
from customers.models import CustomerProfile
from customers.selectors import CustomerFilters, customer_list
from customers.services import customer_create, customer_update
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_create_normalises_the_number_and_takes_the_timezone_it_pins_down(agent_a):
    customer = customer_create(agent=agent_a, phone_number="(415) 555-0123", name="  Ava ", note="Met at the fair")

    assert customer.phone_number == "+14155550123"
    assert customer.name == "Ava"
    assert customer.timezone == "America/Los_Angeles"
    assert [n["text"] for n in customer.conversation_notes] == ["Met at the fair"]


def test_create_refuses_a_second_customer_with_the_same_number_but_not_for_another_agent(agent_a, agent_b):
    customer_create(agent=agent_a, phone_number="+14155550123")
    with pytest.raises(Conflict, match=r"A customer with the number \+14155550123 already exists"):
        customer_create(agent=agent_a, phone_number="415-555-0123")
    customer_create(agent=agent_b, phone_number="+14155550123")  # another tenant's list


def test_create_refuses_a_bad_number_or_timezone_with_a_reason(agent_a):
    with pytest.raises(ValidationFailed, match="not a valid phone number"):
        customer_create(agent=agent_a, phone_number="+1555")
    with pytest.raises(ValidationFailed, match="not a known timezone"):
        customer_create(agent=agent_a, phone_number="+14155550123", timezone="Nowhere/City")


def test_update_writes_only_the_changed_fields(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, name="Ava")
    # A call finishes while the page is open: the counters move in the database.
    CustomerProfile.objects.filter(pk=customer.pk).update(total_calls=3, successful_calls=1)

    customer_update(customer=customer, name="Ava Patel", interest_level="converted", note="Signed")

    customer.refresh_from_db()
    assert (customer.name, customer.interest_level, customer.is_converted) == ("Ava Patel", "converted", True)
    assert (customer.total_calls, customer.successful_calls) == (3, 1)  # not overwritten with stale zeros
    assert [n["text"] for n in customer.conversation_notes] == ["Signed"]


def test_update_refuses_do_not_call_and_a_taken_number(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    other = CustomerFactory(ai_agent=agent_a)
    with pytest.raises(ValidationFailed, match="cannot be changed: is_do_not_call"):
        customer_update(customer=customer, is_do_not_call=True)
    with pytest.raises(Conflict, match="Another customer already has that phone number"):
        customer_update(customer=customer, phone_number=other.phone_number)


def test_the_list_searches_numbers_the_way_people_type_them(agent_a, agent_b):
    ava = CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Ava", email="ava@example.com")
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550102", name="Liam")
    CustomerFactory(ai_agent=agent_b, phone_number="+12125550101", name="Ava (theirs)")

    for term in ("(212) 555-0101", "555.0101", "AVA", "ava@"):
        assert list(customer_list(agent=agent_a, filters=CustomerFilters(search=term))) == [ava]


def test_the_list_filters_and_orders_with_a_total_order(agent_a):
    hot = CustomerFactory(ai_agent=agent_a, interest_level="hot", name="B")
    CustomerFactory(ai_agent=agent_a, interest_level="converted", is_converted=True, name="A")
    dnc = CustomerFactory(ai_agent=agent_a, interest_level="hot", is_do_not_call=True, name="C")

    filters = CustomerFilters(interest_level="hot", converted=False, ordering="name")
    assert list(customer_list(agent=agent_a, filters=filters)) == [hot, dnc]
    assert list(customer_list(agent=agent_a, filters=CustomerFilters(do_not_call=True))) == [dnc]
    # An unknown ordering falls back to the default instead of reaching the database.
    assert customer_list(agent=agent_a, filters=CustomerFilters(ordering="password")).query.order_by == (
        "-created_at",
        "id",
    )
