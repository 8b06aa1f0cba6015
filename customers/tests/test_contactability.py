"""When a customer may be called: their local hours, the agent's hours, do-not-call, training."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.errors import CallNotAllowed
from customers.contactability import check_call_allowed, next_allowed_time
from customers.selectors import customer_contactability
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def _at(zone: ZoneInfo, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.fixture
def round_the_clock_agent(agent_a):
    """Working hours that never bind, so only the customer's 08:00-21:00 window decides."""
    agent_a.working_hours_start, agent_a.working_hours_end = time(0, 0), time(23, 59)
    agent_a.save()
    return agent_a


def test_23_00_customer_time_moves_to_08_00_the_next_day(round_the_clock_agent):
    customer = CustomerFactory(ai_agent=round_the_clock_agent, timezone="America/Chicago")
    chicago = ZoneInfo("America/Chicago")
    late = _at(chicago, 2025, 6, 3, 23, 0)

    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=round_the_clock_agent, customer=customer, at=late)

    assert refused.value.code == "outside_calling_hours"
    assert "It is 23:00 for the customer (America/Chicago)" in refused.value.message
    assert refused.value.next_allowed_at == _at(chicago, 2025, 6, 4, 8, 0)
    assert next_allowed_time(agent=round_the_clock_agent, zone=chicago, at=late) == _at(chicago, 2025, 6, 4, 8, 0)


def test_agent_hours_in_the_clients_zone_are_intersected_with_the_customers_window(agent_a):
    # Agent: 09:00-18:00 New York (the client's zone). Customer: 08:00-21:00 London.
    # London is 5 h ahead, so both hold from 14:00 to 21:00 London time.
    assert agent_a.client.timezone == "America/New_York"
    customer = CustomerFactory(ai_agent=agent_a, timezone="Europe/London")

    morning_in_london = _at(LONDON, 2025, 6, 3, 10, 0)  # 05:00 in New York: the agent is off
    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=agent_a, customer=customer, at=morning_in_london)
    assert refused.value.next_allowed_at == _at(LONDON, 2025, 6, 3, 14, 0)
    assert refused.value.next_allowed_at == _at(NEW_YORK, 2025, 6, 3, 9, 0)

    check_call_allowed(agent=agent_a, customer=customer, at=_at(LONDON, 2025, 6, 3, 15, 0))  # no error

    night_in_london = _at(LONDON, 2025, 6, 3, 21, 30)  # 16:30 New York: the customer is off
    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=agent_a, customer=customer, at=night_in_london)
    assert refused.value.next_allowed_at == _at(LONDON, 2025, 6, 4, 14, 0)


def test_a_customer_west_of_the_business_waits_for_their_own_morning(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, timezone="America/Los_Angeles")
    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=agent_a, customer=customer, at=_at(NEW_YORK, 2025, 6, 3, 9, 30))  # 06:30 LA
    assert refused.value.next_allowed_at == _at(NEW_YORK, 2025, 6, 3, 11, 0)  # 08:00 LA


@pytest.mark.parametrize("stored", ["", "Mars/Olympus"])
def test_an_unknown_timezone_is_refused_with_the_reason_not_guessed(agent_a, stored):
    customer = CustomerFactory(ai_agent=agent_a, timezone=stored)

    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=agent_a, customer=customer, at=_at(NEW_YORK, 2025, 6, 3, 12, 0))

    assert refused.value.code == "timezone_unknown"
    assert "timezone is unknown" in refused.value.message
    assert refused.value.next_allowed_at is None


def test_a_do_not_call_customer_is_refused_at_any_hour(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, is_do_not_call=True)

    with pytest.raises(CallNotAllowed) as refused:
        check_call_allowed(agent=agent_a, customer=customer, at=_at(NEW_YORK, 2025, 6, 3, 12, 0))

    assert refused.value.code == "do_not_call"
    assert refused.value.message == "The customer is on the do-not-call list."
    assert refused.value.next_allowed_at is None


def test_an_untrained_or_paused_agent_does_not_call(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    noon = _at(NEW_YORK, 2025, 6, 3, 12, 0)
    agent_a.training_level = 10
    with pytest.raises(CallNotAllowed, match="trained to 10%; it needs at least 20%"):
        check_call_allowed(agent=agent_a, customer=customer, at=noon)
    agent_a.training_level, agent_a.status = 90, "paused"
    with pytest.raises(CallNotAllowed, match="paused"):
        check_call_allowed(agent=agent_a, customer=customer, at=noon)


def test_the_customer_page_summary_uses_the_same_rules(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, timezone="Europe/London")

    with time_machine.travel(_at(LONDON, 2025, 6, 3, 15, 0), tick=False):
        now = customer_contactability(agent=agent_a, customer=customer)
    assert now.allowed and now.code is None
    assert now.local_time.isoformat() == "2025-06-03T15:00:00+01:00"

    with time_machine.travel(_at(LONDON, 2025, 6, 3, 22, 0), tick=False):
        later = customer_contactability(agent=agent_a, customer=customer)
    assert not later.allowed and later.code == "outside_calling_hours"
    assert later.next_allowed_at == _at(LONDON, 2025, 6, 4, 14, 0)
