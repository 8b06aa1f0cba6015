"""Customer writes and the list selector."""

from __future__ import annotations

import pytest

from core.errors import Conflict, ValidationFailed
from customers.models import CustomerProfile
from customers.selectors import CustomerFilters, customer_list
from customers.services import (
    MAX_NOTES,
    MAX_OBJECTIONS,
    customer_add_note,
    customer_create,
    customer_opt_out,
    customer_raise_interest,
    customer_record_objection,
    customer_update,
    interest_after_call,
)
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


# --- the customer rules every door shares (docs/rules.md) ------------------------------------


@pytest.mark.parametrize(
    ("current", "level", "at_least", "expected"),
    [
        ("cold", "hot", False, "hot"),
        ("hot", "warm", False, "warm"),  # a call may cool a customer...
        ("hot", "warm", True, "hot"),  # ...unless it only says "at least warm"
        ("warm", "hot", True, "hot"),
        ("converted", "cold", False, "converted"),  # converted stays converted
        ("converted", "warm", True, "converted"),
    ],
)
def test_interest_ladder(current, level, at_least, expected):
    assert interest_after_call(current, level, at_least=at_least) == expected


def test_raising_interest_reads_the_committed_level_not_a_stale_copy(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, interest_level="warm")
    # Another door converts the customer while this copy is in hand.
    CustomerProfile.objects.filter(pk=customer.pk).update(interest_level="converted", is_converted=True)

    assert customer_raise_interest(customer=customer, level="cold") is False

    customer.refresh_from_db()
    assert (customer.interest_level, customer.is_converted) == ("converted", True)
    with pytest.raises(ValidationFailed, match="'lukewarm' is not an interest level"):
        customer_raise_interest(customer=customer, level="lukewarm")


def test_an_objection_is_kept_once_per_call_and_the_list_is_capped(agent_a):
    old = [{"key": f"old_{n}", "text": "", "at": None, "call": None} for n in range(MAX_OBJECTIONS)]
    customer = CustomerFactory(ai_agent=agent_a, objections=old)

    assert customer_record_objection(customer=customer, key="price_too_high", text="pricey", call_id="c1")
    assert not customer_record_objection(customer=customer, key="price_too_high", text="again", call_id="c1")
    assert not customer_record_objection(customer=customer, key="  ", text="no key", call_id="c1")
    assert customer_record_objection(customer=customer, key="k" * 500, text="x" * 9000)

    customer.refresh_from_db()
    assert len(customer.objections) == MAX_OBJECTIONS
    assert [o["key"] for o in customer.objections[-2:]] == ["price_too_high", "k" * 64]
    assert len(customer.objections[-1]["text"]) == 500


def test_notes_are_appended_in_one_shape_once_per_call_and_capped(agent_a):
    old = [{"at": "2025-01-01T00:00:00+00:00", "text": f"note {n}", "source": "api"} for n in range(MAX_NOTES)]
    customer = CustomerFactory(ai_agent=agent_a, conversation_notes=old)

    assert customer_add_note(customer=customer, text="  Wants a quote ", source="outcome", call_id="c1")
    assert not customer_add_note(customer=customer, text="Wants a quote", source="outcome", call_id="c1")
    assert not customer_add_note(customer=customer, text="   ", source="api")

    customer.refresh_from_db()
    assert len(customer.conversation_notes) == MAX_NOTES
    assert customer.conversation_notes[0]["text"] == "note 1"
    last = customer.conversation_notes[-1]
    assert (set(last), last["text"], last["source"], last["call"]) == (
        {"at", "text", "source", "call"},
        "Wants a quote",
        "outcome",
        "c1",
    )


def test_opting_out_without_the_callbacks_canceller_fails_loudly_and_writes_nothing(agent_a, monkeypatch, caplog):
    import customers.services

    customer = CustomerFactory(ai_agent=agent_a)
    monkeypatch.setattr(customers.services, "_callback_canceller", None)

    with pytest.raises(RuntimeError, match="needs the callbacks app's canceller"):
        customer_opt_out(customer=customer)

    assert "customer_opt_out" in caplog.text
    customer.refresh_from_db()
    assert not customer.is_do_not_call
