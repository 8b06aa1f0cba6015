"""Writes to scheduled callbacks: booking into an allowed time, rescheduling, cancelling.

Opting out is the customer's rule (``customers.services.customer_opt_out``); it reaches the
cancelling here through the canceller this app connects at start-up (``callbacks.apps``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from customers.contactability import booking_zone, next_allowed_time
from customers.models import CustomerProfile

OPEN = (ScheduledCallback.Status.SCHEDULED,)
# Far enough for "call me after the holidays"; a bound keeps date arithmetic away from year 9999.
MAX_BOOKING_AHEAD = timedelta(days=366)
# How long a claim holds: longer than a call takes to be placed, short enough that a dead
# worker's callback is retried the same hour.


def _allowed_slot(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> datetime:
    """The first moment at or after ``at`` (and not in the past) the customer may be called.

    Read in the customer's zone, else the business's (what a caller said is read in theirs).
    """
    if customer.is_do_not_call:
        raise CallNotAllowed("The customer is on the do-not-call list.", code="do_not_call")
    if timezone.is_naive(at):
        raise ValidationFailed("The callback time needs a timezone (e.g. 2025-10-02T14:00:00Z).")
    now = timezone.now()
    if at > now + MAX_BOOKING_AHEAD:
        raise ValidationFailed("A callback can be booked at most a year ahead.")
    slot = next_allowed_time(agent=agent, zone=booking_zone(customer, agent), at=max(at, now))
    if slot is None:
        raise CallNotAllowed("No allowed calling time in the next week: check the agent's working hours.")
    return slot


def callback_schedule(
    *,
    agent: AIAgent,
    customer: CustomerProfile,
    at: datetime,
    reason: str = "",
    priority: int = 3,
    kind: str = ScheduledCallback.Kind.CALLBACK,
    source_call=None,
    expected_outcome: str = "",
    max_attempts: int = 3,
) -> ScheduledCallback:
    """Book a callback at ``at``, moved forward to the first time the customer may be called.

    The customer's local time decides (08:00-21:00) together with the agent's working hours;
    the booked time is returned on the row so callers can tell the customer what was booked.
    """
    if customer.ai_agent_id != agent.pk:
        raise ValidationFailed("The customer belongs to another agent.")
    if not 1 <= priority <= 5:
        raise ValidationFailed("priority must be between 1 (most urgent) and 5.")
    with transaction.atomic():
        # Read the opt-out under the customer's row lock: an opt-out committing right now
        # (which holds the same lock) is either seen here or cancels this row after us.
        customer.is_do_not_call = (
            CustomerProfile.objects.select_for_update().values_list("is_do_not_call", flat=True).get(pk=customer.pk)
        )
        return ScheduledCallback.objects.create(
            ai_agent=agent,
            customer_profile=customer,
            scheduled_datetime=_allowed_slot(agent=agent, customer=customer, at=at),
            reason=reason[:500],
            priority_level=priority,
            kind=kind,
            source_call=source_call,
            expected_outcome=expected_outcome[:200],
            max_attempts=max_attempts,
        )


def callback_reschedule(*, callback: ScheduledCallback, at: datetime, priority: int | None = None) -> ScheduledCallback:
    """Move an open callback to ``at`` (moved forward into an allowed time, like a booking).

    The callback and its customer are locked together, so a reschedule cannot race the
    dispatcher claiming it or an opt-out cancelling it.
    """
    if priority is not None and not 1 <= priority <= 5:
        raise ValidationFailed("priority must be between 1 (most urgent) and 5.")
    with transaction.atomic():
        callback = (
            ScheduledCallback.objects.select_for_update(of=("self", "customer_profile"))
            .select_related("customer_profile", "ai_agent__client")
            .get(pk=callback.pk)
        )
        if callback.status not in OPEN:
            raise Conflict(
                f"The callback is {callback.get_status_display().lower()}; only a scheduled one can be moved."
            )
        callback.scheduled_datetime = _allowed_slot(agent=callback.ai_agent, customer=callback.customer_profile, at=at)
        if priority is not None:
            callback.priority_level = priority
        callback.is_overdue = False
        callback.save(update_fields=["scheduled_datetime", "priority_level", "is_overdue", "updated_at"])
    return callback


def callback_cancel(*, callback: ScheduledCallback, reason: str = "") -> ScheduledCallback:
    """Cancel an open callback; one already placed, done or cancelled is a Conflict, not a no-op."""
    with transaction.atomic():
        callback = (
            ScheduledCallback.objects.select_for_update(of=("self",))
            .select_related("customer_profile")
            .get(pk=callback.pk)
        )
        if callback.status not in OPEN:
            raise Conflict(
                f"The callback is {callback.get_status_display().lower()}; only a scheduled one can be cancelled."
            )
        callback.status = ScheduledCallback.Status.CANCELED
        callback.lease_expires_at = None
        if reason:
            callback.last_error = reason[:300]
        callback.save(update_fields=["status", "lease_expires_at", "last_error", "updated_at"])
    return callback


def callbacks_cancel_for_customer(*, customer: CustomerProfile, reason: str) -> int:
    """Cancel every open callback of the customer; how many.

    Only ``customers.services.customer_opt_out`` calls it (connected in ``callbacks.apps``),
    under the customer's row lock, so a customer who opts out gets no more calls.
    """
    return ScheduledCallback.objects.filter(customer_profile=customer, status__in=OPEN).update(
        status=ScheduledCallback.Status.CANCELED, last_error=reason[:300], updated_at=timezone.now()
    )
