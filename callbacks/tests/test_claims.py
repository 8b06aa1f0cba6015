"""Claiming due callbacks: order, leases, fencing tokens, overdue flags, exhausted attempts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from callbacks.claims import (
    CLAIM_LEASE,
    OVERDUE_AFTER,
    callback_cancel_claimed,
    callback_claim_for_dial,
    callback_release,
    callback_settle_unplaced,
    callback_take_lease,
    callbacks_claim_due,
    callbacks_flag_overdue,
    callbacks_mark_exhausted,
    callbacks_reclaim_expired,
)
from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from core.errors import CallNotAllowed, Conflict
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def customer(agent_a):
    return CustomerFactory(ai_agent=agent_a)


def due(customer, minutes_ago=5, **kwargs):
    return CallbackFactory(customer_profile=customer, scheduled_datetime=NOW - timedelta(minutes=minutes_ago), **kwargs)


def test_due_callbacks_are_claimed_most_urgent_first_then_oldest(customer):
    late_low = due(customer, minutes_ago=60, priority_level=5)
    recent_urgent = due(customer, minutes_ago=1, priority_level=1)
    older_urgent = due(customer, minutes_ago=30, priority_level=1)
    mid = due(customer, minutes_ago=10, priority_level=3)
    future = CallbackFactory(customer_profile=customer, scheduled_datetime=NOW + timedelta(minutes=1), priority_level=1)

    claimed = callbacks_claim_due(limit=3)

    assert [c.pk for c in claimed] == [older_urgent.pk, recent_urgent.pk, mid.pk]
    rest = callbacks_claim_due(limit=10)
    assert [c.pk for c in rest] == [late_low.pk]
    future.refresh_from_db()
    assert (future.status, future.attempts) == ("scheduled", 0)


def test_a_claim_counts_an_attempt_and_leases_the_callback_to_this_caller(customer):
    callback = due(customer, is_overdue=True)

    (claimed,) = callbacks_claim_due()

    assert (claimed.status, claimed.attempts, claimed.is_overdue) == ("in_progress", 1, False)
    assert NOW + CLAIM_LEASE < claimed.lease_expires_at <= NOW + CLAIM_LEASE + timedelta(seconds=1)
    # The related rows come with it: the dispatcher needs no query for them.
    assert claimed.customer_profile.pk == customer.pk and claimed.ai_agent.client.pk
    assert callbacks_claim_due() == []  # nobody else gets it
    callback.refresh_from_db()
    assert callback.lease_expires_at == claimed.lease_expires_at


def test_every_claim_gets_its_own_token(customer):
    for _ in range(20):
        due(customer)

    claimed = callbacks_claim_due(limit=10) + callbacks_claim_due(limit=10)

    assert len({c.lease_expires_at for c in claimed[:10]}) == 1  # one claim, one token
    assert claimed[0].lease_expires_at != claimed[10].lease_expires_at


def test_callbacks_without_attempts_left_are_not_claimed_but_marked_missed(customer):
    spent = due(customer, attempts=3, max_attempts=3)

    assert callbacks_claim_due() == []
    assert callbacks_mark_exhausted() == 1

    spent.refresh_from_db()
    assert (spent.status, spent.last_error) == ("missed", "All attempts were used.")


def test_an_expired_lease_is_taken_over_without_counting_another_attempt(customer):
    due(customer)
    (first,) = callbacks_claim_due()

    assert callbacks_reclaim_expired() == []  # the lease is still good
    with time_machine.travel(NOW + CLAIM_LEASE + timedelta(seconds=2), tick=False):
        (again,) = callbacks_reclaim_expired()
        assert callbacks_reclaim_expired() == []

    assert again.pk == first.pk
    assert (again.status, again.attempts) == ("in_progress", 1)
    assert again.lease_expires_at > first.lease_expires_at


def test_taking_the_lease_swaps_the_token_so_a_second_delivery_does_nothing(customer):
    due(customer)
    (claimed,) = callbacks_claim_due()
    token = claimed.lease_expires_at

    taken = callback_take_lease(callback_id=claimed.pk, lease=token)
    again = callback_take_lease(callback_id=claimed.pk, lease=token)

    assert taken is not None and taken.lease_expires_at != token
    assert again is None


def test_a_stale_token_can_neither_release_nor_settle_nor_cancel(customer):
    due(customer)
    (claimed,) = callbacks_claim_due()
    stale = ScheduledCallback.objects.get(pk=claimed.pk)
    callback_take_lease(callback_id=claimed.pk, lease=claimed.lease_expires_at)  # someone else took over

    assert not callback_release(callback=stale, at=NOW + timedelta(hours=1), reason="x")
    assert callback_settle_unplaced(callback=stale, retry_at=NOW, reason="x") == ""
    assert not callback_cancel_claimed(callback=stale, reason="x")
    stale.refresh_from_db()
    assert stale.status == "in_progress"


def test_release_gives_the_attempt_back(customer):
    due(customer)
    (claimed,) = callbacks_claim_due()
    later = NOW + timedelta(hours=20)

    assert callback_release(callback=claimed, at=later, reason="Outside the calling hours.")

    claimed.refresh_from_db()
    assert (claimed.status, claimed.attempts, claimed.scheduled_datetime) == ("scheduled", 0, later)
    assert (claimed.lease_expires_at, claimed.last_error) == (None, "Outside the calling hours.")


def test_settling_an_unplaced_attempt_retries_until_the_last_one_then_misses(customer):
    due(customer, max_attempts=2)
    (claimed,) = callbacks_claim_due()
    retry = NOW + timedelta(hours=4)

    assert callback_settle_unplaced(callback=claimed, retry_at=retry, reason="Twilio refused") == "scheduled"
    claimed.refresh_from_db()
    assert (claimed.attempts, claimed.scheduled_datetime) == (1, retry)

    with time_machine.travel(retry, tick=False):
        (second,) = callbacks_claim_due()
        assert callback_settle_unplaced(callback=second, retry_at=retry, reason="Twilio refused") == "missed"
    second.refresh_from_db()
    assert (second.status, second.attempts, second.lease_expires_at) == ("missed", 2, None)


def test_callbacks_long_past_due_are_flagged_overdue_once(customer):
    late = due(customer, minutes_ago=int(OVERDUE_AFTER.total_seconds() // 60) + 1)
    recent = due(customer, minutes_ago=1)

    assert callbacks_flag_overdue() == 1
    assert callbacks_flag_overdue() == 0
    late.refresh_from_db()
    recent.refresh_from_db()
    assert (late.is_overdue, recent.is_overdue) == (True, False)


def test_claim_for_dial_holds_a_callback_the_dispatcher_then_leaves_alone(customer):
    callback = due(customer)

    claimed = callback_claim_for_dial(callback=callback)

    assert (claimed.status, claimed.attempts) == ("in_progress", 1)
    assert callbacks_claim_due() == []
    with pytest.raises(Conflict, match="only a scheduled one can be dialled"):
        callback_claim_for_dial(callback=callback)
    with time_machine.travel(NOW + CLAIM_LEASE + timedelta(seconds=2), tick=False):
        assert callback_claim_for_dial(callback=callback).attempts == 2


def test_claim_for_dial_refuses_a_do_not_call_customer_and_a_spent_callback(agent_a):
    opted_out = due(CustomerFactory(ai_agent=agent_a, is_do_not_call=True))
    spent = due(CustomerFactory(ai_agent=agent_a), attempts=1, max_attempts=1)

    with pytest.raises(CallNotAllowed):
        callback_claim_for_dial(callback=opted_out)
    with pytest.raises(Conflict, match="used all 1 attempts"):
        callback_claim_for_dial(callback=spent)
    opted_out.refresh_from_db()
    assert (opted_out.status, opted_out.attempts) == ("scheduled", 0)


def test_nothing_due_claims_nothing_and_writes_nothing(customer):
    CallbackFactory(customer_profile=customer, scheduled_datetime=timezone.now() + timedelta(hours=1))

    assert callbacks_claim_due() == []
    assert callbacks_reclaim_expired() == []
    assert ScheduledCallback.objects.filter(status="scheduled").count() == 1
