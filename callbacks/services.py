"""Writes to scheduled callbacks: booking into an allowed time, rescheduling, cancelling."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from customers.contactability import booking_zone, next_allowed_time
from customers.models import CustomerProfile

OPEN = (ScheduledCallback.Status.SCHEDULED,)


def _allowed_slot(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> datetime:
    if customer.is_do_not_call:
        raise CallNotAllowed("The customer is on the do-not-call list.", code="do_not_call")
    if timezone.is_naive(at):
        raise ValidationFailed("The callback time needs a timezone (e.g. 2025-10-02T14:00:00Z).")
    slot = next_allowed_time(agent=agent, zone=booking_zone(customer, agent), at=max(at, timezone.now()))
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
    with transaction.atomic():
        callback = ScheduledCallback.objects.select_for_update().select_related("customer_profile").get(pk=callback.pk)
        if callback.status not in OPEN:
            raise Conflict(f"A {callback.get_status_display().lower()} callback cannot be rescheduled.")
        callback.scheduled_datetime = _allowed_slot(agent=callback.ai_agent, customer=callback.customer_profile, at=at)
        if priority is not None:
            if not 1 <= priority <= 5:
                raise ValidationFailed("priority must be between 1 (most urgent) and 5.")
            callback.priority_level = priority
        callback.is_overdue = False
        callback.save(update_fields=["scheduled_datetime", "priority_level", "is_overdue", "updated_at"])
    return callback


def callback_cancel(*, callback: ScheduledCallback, reason: str = "") -> ScheduledCallback:
    with transaction.atomic():
        callback = ScheduledCallback.objects.select_for_update().get(pk=callback.pk)
        if callback.status not in OPEN:
            raise Conflict(f"A {callback.get_status_display().lower()} callback cannot be cancelled.")
        callback.status = ScheduledCallback.Status.CANCELED
        callback.lease_expires_at = None
        if reason:
            callback.last_error = reason[:300]
        callback.save(update_fields=["status", "lease_expires_at", "last_error", "updated_at"])
    return callback


def callbacks_cancel_for_customer(*, customer: CustomerProfile, reason: str) -> int:
    """A customer who opts out gets no more calls: every open callback is cancelled."""
    return ScheduledCallback.objects.filter(customer_profile=customer, status__in=OPEN).update(
        status=ScheduledCallback.Status.CANCELED, last_error=reason[:300], updated_at=timezone.now()
    )
