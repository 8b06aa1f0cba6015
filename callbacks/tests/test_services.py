"""Booking callbacks into allowed times, moving and cancelling them, opting out, claiming."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from callbacks.selectors import callback_booking
from callbacks.services import callback_cancel, callback_reschedule, callback_schedule
from callbacks.tests.factories import CallbackFactory
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from customers.models import CustomerProfile
from customers.services import customer_opt_in, customer_opt_out
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
TUESDAY_NOON = datetime(2025, 6, 3, 12, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _tuesday_noon():
    with time_machine.travel(TUESDAY_NOON, tick=False):
        yield


def test_a_time_inside_the_hours_is_booked_as_asked(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    asked = datetime(2025, 6, 4, 14, 0, tzinfo=NEW_YORK)

    callback = callback_schedule(agent=agent_a, customer=customer, at=asked, reason="Pricing", priority=2)
    booking = callback_booking(agent=agent_a, callback=callback, requested_at=asked)

    assert callback.scheduled_datetime == asked
    assert not booking.moved and booking.moved_reason is None


def test_23_00_is_booked_at_the_next_allowed_morning_and_says_why(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    asked = datetime(2025, 6, 4, 23, 0, tzinfo=NEW_YORK)

    callback = callback_schedule(agent=agent_a, customer=customer, at=asked)
    booking = callback_booking(agent=agent_a, callback=callback, requested_at=asked)

    # 08:00 is the customer's earliest, but the agent starts at 09:00 New York time.
    assert callback.scheduled_datetime == datetime(2025, 6, 5, 9, 0, tzinfo=NEW_YORK)
    assert booking.moved
    assert booking.moved_reason.startswith("23:00 on Wed 4 Jun (America/New_York) is outside the calling hours")


def test_a_time_in_the_past_is_booked_from_now(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    asked = TUESDAY_NOON - timedelta(days=1)

    callback = callback_schedule(agent=agent_a, customer=customer, at=asked)

    assert callback.scheduled_datetime == TUESDAY_NOON
    assert "has passed" in callback_booking(agent=agent_a, callback=callback, requested_at=asked).moved_reason


def test_booking_refuses_do_not_call_even_when_the_instance_in_hand_is_stale(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CustomerProfile.objects.filter(pk=customer.pk).update(is_do_not_call=True)  # opted out a moment ago
    assert customer.is_do_not_call is False

    with pytest.raises(CallNotAllowed, match="do-not-call") as refused:
        callback_schedule(agent=agent_a, customer=customer, at=TUESDAY_NOON + timedelta(hours=2))

    assert refused.value.code == "do_not_call"
    assert not ScheduledCallback.objects.exists()


def test_booking_refuses_naive_times_far_futures_and_other_agents_customers(agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a)
    with pytest.raises(ValidationFailed, match="needs a timezone"):
        callback_schedule(agent=agent_a, customer=customer, at=datetime(2025, 6, 4, 14, 0))
    with pytest.raises(ValidationFailed, match="at most a year ahead"):
        callback_schedule(agent=agent_a, customer=customer, at=datetime(9999, 1, 1, tzinfo=NEW_YORK))
    with pytest.raises(ValidationFailed, match="another agent"):
        callback_schedule(agent=agent_b, customer=customer, at=TUESDAY_NOON + timedelta(hours=2))
    assert not ScheduledCallback.objects.exists()


def test_reschedule_moves_into_allowed_hours_and_refuses_a_closed_callback(agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a), priority_level=3)

    moved = callback_reschedule(callback=callback, at=datetime(2025, 6, 4, 6, 0, tzinfo=NEW_YORK), priority=1)

    assert moved.scheduled_datetime == datetime(2025, 6, 4, 9, 0, tzinfo=NEW_YORK)
    assert moved.priority_level == 1
    callback_cancel(callback=moved)
    with pytest.raises(Conflict, match="The callback is canceled; only a scheduled one can be moved"):
        callback_reschedule(callback=moved, at=TUESDAY_NOON + timedelta(hours=2))


def test_cancel_keeps_the_reason_and_refuses_twice(agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))

    cancelled = callback_cancel(callback=callback, reason="Bought elsewhere")

    assert (cancelled.status, cancelled.last_error) == ("canceled", "Bought elsewhere")
    with pytest.raises(Conflict, match="The callback is canceled; only a scheduled one can be cancelled"):
        callback_cancel(callback=callback)


def test_opting_out_cancels_open_callbacks_only_and_opting_in_revives_none(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    open_ones = CallbackFactory.create_batch(2, customer_profile=customer)
    done = CallbackFactory(customer_profile=customer, status="completed")
    someone_else = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))

    change = customer_opt_out(customer=customer)

    assert change.callbacks_cancelled == 2
    assert change.customer.is_do_not_call
    assert {c.status for c in ScheduledCallback.objects.filter(pk__in=[c.pk for c in open_ones])} == {"canceled"}
    done.refresh_from_db()
    someone_else.refresh_from_db()
    assert (done.status, someone_else.status) == ("completed", "scheduled")

    back = customer_opt_in(customer=customer)
    assert (back.customer.is_do_not_call, back.callbacks_cancelled) == (False, 0)
    assert ScheduledCallback.objects.filter(customer_profile=customer, status="scheduled").count() == 0


def test_a_csv_import_that_opts_a_customer_out_cancels_their_open_callbacks(agent_a):
    """The import is a door to the same opt-out: a "yes" in do_not_call cancels what was booked."""
    import io

    from customers.csv_import import customers_import_csv

    leaving = CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Ava")
    staying = CustomerFactory(ai_agent=agent_a, phone_number="+12125550102", name="Ben")
    pending = CallbackFactory(customer_profile=leaving)
    kept = CallbackFactory(customer_profile=staying)
    csv = b"phone_number,name,do_not_call\n+12125550101,Ava,yes\n+12125550102,Ben B,no\n+12125550103,Cy,yes\n"

    report = customers_import_csv(agent=agent_a, stream=io.BytesIO(csv))

    assert (report.created, report.updated, report.unchanged) == (1, 2, 0)
    pending.refresh_from_db()
    kept.refresh_from_db()
    assert (pending.status, pending.last_error) == ("canceled", "Opted out in an imported file.")
    assert kept.status == "scheduled"
    assert dict(CustomerProfile.objects.filter(ai_agent=agent_a).values_list("phone_number", "is_do_not_call")) == {
        "+12125550101": True,
        "+12125550102": False,
        "+12125550103": True,
    }
