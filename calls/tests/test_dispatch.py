"""The dispatcher, with the clock moved: rules at dial time, leases, never dialling twice, follow-ups."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from callbacks.claims import CLAIM_LEASE, OVERDUE_AFTER, callbacks_claim_due
from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.dispatch import (
    ORPHAN_AFTER,
    PlacementRetry,
    Result,
    callback_place,
    callbacks_dispatch_due,
)
from calls.models import CallSession
from calls.outbound import call_place, reserve_outbound_call
from calls.simulated_phone import SimulatedGateway, SimulatedPhone
from customers.models import CustomerProfile
from customers.services import customer_opt_out
from customers.tests.factories import CustomerFactory
from integrations.twilio import TelephonyError, TelephonyUnavailable

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)


@pytest.fixture
def customer(agent):
    return CustomerFactory(ai_agent=agent, timezone="America/New_York", name="Dana Reyes")


def booked(customer, at, **kwargs) -> ScheduledCallback:
    return CallbackFactory(customer_profile=customer, scheduled_datetime=at, **kwargs)


def dispatch() -> dict:
    """A beat tick that places its claims in this process (the task's body), until none is due."""
    return callbacks_dispatch_due(max_claims=None).as_dict()


def run() -> dict[str, int]:
    return dispatch()["results"]


def fresh(obj):
    obj.refresh_from_db()
    return obj


class WorkerKilled(BaseException):
    """Stands for the worker process dying (not an exception anyone catches)."""


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_due_callback_is_placed_once_as_a_scheduled_call(customer):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1), reason="Customer asked for a callback: pricing")

    assert run() == {"placed": 1}
    assert run() == {}

    call = CallSession.objects.get()
    assert (call.call_type, call.callback_id, call.status) == ("scheduled", callback.pk, "queued")
    assert call.twilio_call_sid.startswith("CA")
    assert call.context == "Scheduled callback: Customer asked for a callback: pricing"
    callback = fresh(callback)
    assert (callback.status, callback.attempts) == ("in_progress", 1)


def test_a_callback_due_at_23_00_customer_local_is_moved_to_08_00_the_next_day(customer):
    eleven_pm = datetime(2025, 6, 3, 23, 0, tzinfo=NY)
    callback = booked(customer, eleven_pm)

    with time_machine.travel(eleven_pm, tick=False):
        assert run() == {"rescheduled": 1}

    callback = fresh(callback)
    assert callback.scheduled_datetime == datetime(2025, 6, 4, 8, 0, tzinfo=NY)
    assert (callback.status, callback.attempts, callback.lease_expires_at) == ("scheduled", 0, None)
    assert "It is 23:00 for the customer" in callback.last_error
    assert not CallSession.objects.exists()

    with time_machine.travel(datetime(2025, 6, 4, 8, 0, tzinfo=NY), tick=False):
        assert run() == {"placed": 1}
    assert fresh(callback).attempts == 1


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_do_not_call_customers_callback_is_cancelled_at_dial_time(customer):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    # Opted out by a path that did not cancel the callback (an import, an edit in the admin).
    CustomerProfile.objects.filter(pk=customer.pk).update(is_do_not_call=True)

    assert run() == {"canceled": 1}

    callback = fresh(callback)
    assert (callback.status, callback.last_error) == ("canceled", "The customer is on the do-not-call list.")
    assert not CallSession.objects.exists()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_past_the_daily_limit_the_callback_waits_for_tomorrow_without_spending_an_attempt(agent, customer):
    agent.client.daily_call_limit = 1
    agent.client.save()
    assert reserve_outbound_call(client=agent.client, at=TUESDAY_2PM - timedelta(hours=1))  # today's one call
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))

    assert run() == {"rescheduled": 1}

    callback = fresh(callback)
    assert callback.scheduled_datetime == datetime(2025, 6, 4, 8, 0, tzinfo=NY)
    assert (callback.status, callback.attempts) == ("scheduled", 0)
    assert "daily limit" in callback.last_error


@pytest.mark.parametrize(("status", "level"), [("paused", 85), ("learning", 10)])
@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_paused_or_untrained_agent_is_tried_again_in_an_hour(agent, customer, status, level):
    agent.status, agent.training_level = status, level
    agent.save()
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))

    assert run() == {"rescheduled": 1}

    callback = fresh(callback)
    assert (callback.scheduled_datetime, callback.attempts) == (TUESDAY_2PM + timedelta(hours=1), 0)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_dead_workers_lease_is_reclaimed_and_the_callback_placed_once(customer):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    callbacks_claim_due()  # a worker claims it and dies before dialling

    assert run() == {}  # the lease still holds: nobody else may dial
    with time_machine.travel(TUESDAY_2PM + CLAIM_LEASE + timedelta(seconds=1), tick=False):
        report = dispatch()
        assert (report["reclaimed"], report["results"]) == (1, {"placed": 1})
        assert run() == {}

    assert CallSession.objects.filter(callback=callback).count() == 1
    assert fresh(callback).attempts == 1  # the dead worker's attempt was reused, not counted twice


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_reclaimed_callback_whose_call_was_placed_is_not_dialled_again(agent, customer):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    assert run() == {"placed": 1}  # placed; the worker then dies before anything else happens
    call = CallSession.objects.get()

    later = TUESDAY_2PM + CLAIM_LEASE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        report = dispatch()
    assert (report["reclaimed"], report["results"]) == (1, {"waiting": 1})
    assert CallSession.objects.count() == 1

    with time_machine.travel(later + timedelta(seconds=5), tick=False):
        phone = SimulatedPhone(agent)
        phone.answer(call)
        phone.hang_up(call.twilio_call_sid)
    assert fresh(callback).status == "completed"  # lifecycle settled it when the call ended


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_worker_that_died_mid_dial_leaves_a_record_that_stops_a_second_dial(customer, monkeypatch):
    """Twilio may have rung the customer, but we never learned the SID: do not ring them again now."""
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1), max_attempts=3)

    def dies_after_twilio_accepts(self, request):
        raise WorkerKilled

    monkeypatch.setattr(SimulatedGateway, "place_call", dies_after_twilio_accepts)
    with pytest.raises(WorkerKilled):
        run()
    monkeypatch.undo()
    half_placed = CallSession.objects.get()
    assert (half_placed.status, half_placed.twilio_call_sid) == ("queued", None)

    later = TUESDAY_2PM + max(CLAIM_LEASE, ORPHAN_AFTER) + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert run() == {"retry_later": 1}
    assert CallSession.objects.count() == 1  # not dialled again
    half_placed = fresh(half_placed)
    assert (half_placed.status, half_placed.outcome) == ("failed", "failed")
    callback = fresh(callback)
    assert (callback.status, callback.attempts) == ("scheduled", 1)
    assert callback.scheduled_datetime == later + timedelta(minutes=60)  # the agent's follow-up delay

    with time_machine.travel(callback.scheduled_datetime, tick=False):
        assert run() == {"placed": 1}  # the next attempt, an hour later, is an ordinary one
    assert fresh(callback).attempts == 2


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_task_delivered_twice_places_one_call(customer):
    booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    (claim,) = callbacks_claim_due()

    first = callback_place(callback_id=claim.pk, lease=claim.lease_expires_at)
    second = callback_place(callback_id=claim.pk, lease=claim.lease_expires_at)

    assert (first.result, second.result) == (Result.PLACED, Result.SKIPPED)
    assert CallSession.objects.count() == 1


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_twilio_busy_is_retried_under_the_same_claim_then_spends_the_attempt(customer, monkeypatch):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    (claim,) = callbacks_claim_due()

    def overloaded(self, request):
        raise TelephonyUnavailable("Too many requests", code=20429, status=429)

    monkeypatch.setattr(SimulatedGateway, "place_call", overloaded)
    with pytest.raises(PlacementRetry) as retry:
        callback_place(callback_id=claim.pk, lease=claim.lease_expires_at, final_try=False)
    last = callback_place(callback_id=claim.pk, lease=retry.value.lease, final_try=True)

    assert last.result == Result.RETRY_LATER
    callback = fresh(callback)
    assert (callback.status, callback.attempts) == ("scheduled", 1)
    assert "too many requests" in callback.last_error.lower()
    assert set(CallSession.objects.values_list("status", flat=True)) == {"failed"}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_timeout_without_an_answer_is_not_retried_at_once(customer, monkeypatch):
    """No answer from Twilio may mean it dialled: spend the attempt rather than risk a second call now."""
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))
    (claim,) = callbacks_claim_due()
    monkeypatch.setattr(
        SimulatedGateway, "place_call", lambda self, request: (_ for _ in ()).throw(TelephonyUnavailable("timed out"))
    )

    placement = callback_place(callback_id=claim.pk, lease=claim.lease_expires_at, final_try=False)

    assert placement.result == Result.RETRY_LATER
    assert fresh(callback).scheduled_datetime == TUESDAY_2PM + timedelta(minutes=60)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_refused_number_spends_attempts_until_the_callback_is_missed(customer, monkeypatch):
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1), max_attempts=1)
    monkeypatch.setattr(
        SimulatedGateway,
        "place_call",
        lambda self, request: (_ for _ in ()).throw(TelephonyError("Invalid 'To'", code=21211, status=400)),
    )

    assert run() == {"missed": 1}
    callback = fresh(callback)
    assert (callback.status, callback.attempts) == ("missed", 1)
    assert callback.last_error == "The 'To' number is not a valid phone number."


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_overdue_callbacks_are_flagged_and_spent_ones_marked_missed(agent, customer):
    agent.status = "paused"
    agent.save()
    late = booked(customer, TUESDAY_2PM - OVERDUE_AFTER - timedelta(minutes=1))
    spent = booked(customer, TUESDAY_2PM - timedelta(minutes=1), attempts=3, max_attempts=3)

    report = dispatch()

    assert (report["overdue_flagged"], report["exhausted"]) == (1, 1)
    assert fresh(spent).status == "missed"
    # It was flagged, then claimed and sent back an hour on (the agent is paused): no longer overdue.
    late = fresh(late)
    assert (late.status, late.is_overdue) == ("scheduled", False)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_follow_up_is_placed_as_a_follow_up_call_within_the_agents_limit(agent, customer):
    agent.followup_max_attempts = 1
    agent.save()
    followup = booked(
        customer, TUESDAY_2PM - timedelta(minutes=1), kind="followup", reason="Follow-up: no answer on Jun 03"
    )

    assert run() == {"placed": 1}
    call = CallSession.objects.get()
    assert (call.call_type, call.context) == ("followup", "Follow-up: no answer on Jun 03")

    # Unanswered again: lifecycle puts it back for a second attempt, which the agent's limit forbids.
    SimulatedPhone(agent).hang_up(call.twilio_call_sid, status="no-answer")
    followup = fresh(followup)
    assert followup.status == "scheduled"
    with time_machine.travel(followup.scheduled_datetime, tick=False):
        assert run() == {"missed": 1}
    followup = fresh(followup)
    assert followup.status == "missed" and "follow-up limit of 1" in followup.last_error
    assert CallSession.objects.count() == 1


def _unanswered_outbound_call(agent, customer) -> CallSession:
    call = call_place(agent=agent, customer=customer, call_type="outbound", context="First pitch")
    SimulatedPhone(agent).hang_up(call.twilio_call_sid, status="no-answer")
    return fresh(call)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_customer_who_did_not_answer_gets_a_follow_up_call_by_the_agents_rules(agent, customer):
    first = _unanswered_outbound_call(agent, customer)

    followup = ScheduledCallback.objects.get(kind="followup")
    assert first.followup_scheduled
    assert followup.scheduled_datetime == TUESDAY_2PM + timedelta(minutes=60)
    assert run() == {}  # not before the agent's delay
    with time_machine.travel(followup.scheduled_datetime, tick=False):
        assert run() == {"placed": 1}
        second = CallSession.objects.get(callback=followup)
        phone = SimulatedPhone(agent)
        screen = phone.answer(second)
        assert "following up" in " ".join(screen.said).lower()
        phone.hang_up(second.twilio_call_sid)
    assert (second.call_type, fresh(followup).status) == ("followup", "completed")


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_late_follow_up_is_moved_into_the_customers_hours(agent, customer):
    agent.followup_delay_minutes = 8 * 60  # 14:00 + 8 h = 22:00, past 21:00 for the customer
    agent.save()

    _unanswered_outbound_call(agent, customer)

    followup = ScheduledCallback.objects.get(kind="followup")
    assert followup.scheduled_datetime == datetime(2025, 6, 4, 8, 0, tzinfo=NY)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_customer_who_asked_not_to_be_called_never_gets_a_follow_up(agent, customer):
    _unanswered_outbound_call(agent, customer)
    followup = ScheduledCallback.objects.get(kind="followup")

    # The customer calls in meanwhile and asks not to be called again.
    phone = SimulatedPhone(agent)
    screen = phone.dial_in(from_number=customer.phone_number)
    phone.say(screen.call_sid, "Please stop calling me and take me off your list")
    phone.hang_up(screen.call_sid)

    assert fresh(followup).status == "canceled"
    with time_machine.travel(TUESDAY_2PM + timedelta(days=1), tick=False):
        assert run() == {}
        # Even a follow-up that slipped past the opt-out (booked by hand, say) is cancelled, not dialled.
        sneaked = booked(fresh(customer), timezone.now() - timedelta(minutes=1), kind="followup")
        assert run() == {"canceled": 1}
    assert fresh(sneaked).status == "canceled"
    assert not CallSession.objects.filter(customer_profile=customer, call_type="followup").exists()


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_an_unanswered_call_from_a_do_not_call_customer_books_no_follow_up(agent, customer):
    call = call_place(agent=agent, customer=customer, call_type="outbound")
    customer_opt_out(customer=customer)

    SimulatedPhone(agent).hang_up(call.twilio_call_sid, status="busy")

    assert not ScheduledCallback.objects.exists()
    assert run() == {}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_customer_on_a_call_is_not_dialled_again_and_the_callback_waits_unspent(agent, customer):
    first = call_place(agent=agent, customer=customer, context="First pitch")
    callback = booked(customer, TUESDAY_2PM - timedelta(minutes=1))

    assert run() == {"rescheduled": 1}
    callback = fresh(callback)
    assert (callback.status, callback.attempts) == ("scheduled", 0)
    assert "on a call" in callback.last_error
    assert CallSession.objects.count() == 1

    SimulatedPhone(agent).hang_up(first.twilio_call_sid)  # the first call ends
    with time_machine.travel(TUESDAY_2PM + timedelta(minutes=2), tick=False):
        assert run() == {"placed": 1}
    assert CallSession.objects.filter(callback=callback).count() == 1


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_one_batch_never_dials_one_customer_twice(agent, customer):
    booked(customer, TUESDAY_2PM - timedelta(minutes=2))
    booked(customer, TUESDAY_2PM - timedelta(minutes=1))

    assert run() == {"placed": 1, "rescheduled": 1}
    assert CallSession.objects.filter(customer_profile=customer).count() == 1
