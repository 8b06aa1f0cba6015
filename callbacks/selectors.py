"""Reads of scheduled callbacks, always through the owning agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import dateformat, timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from core.lookups import get_scoped
from customers.contactability import CALL_WINDOW_END, CALL_WINDOW_START, booking_zone, customer_zone
from customers.models import CustomerProfile


@dataclass(frozen=True)
class CallbackFilters:
    status: str | None = None
    overdue: bool | None = None
    priority: int | None = None
    kind: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    customer_id: str | None = None


def callback_list(*, agent: AIAgent, filters: CallbackFilters | None = None) -> QuerySet[ScheduledCallback]:
    """The agent's callbacks, earliest first (priority breaks ties), with their customers in the same query.

    ``overdue`` means still scheduled with its time passed, judged against now, not
    against the stored flag the dispatcher sets, so the list is right between its runs.
    """
    filters = filters or CallbackFilters()
    # A persona test's callbacks (cancelled as soon as it ends) are not the client's callbacks.
    # Left out by the few simulated customers' ids (customer_simulated_idx), not by joining every
    # customer to read its flag: the agent's counts then read callbacks only.
    simulated = CustomerProfile.objects.filter(ai_agent=agent, is_simulated=True).values("pk")
    qs = (
        ScheduledCallback.objects.filter(ai_agent=agent)
        .exclude(customer_profile__in=simulated)
        .select_related("customer_profile")
    )
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.overdue is not None:
        overdue = {"status": ScheduledCallback.Status.SCHEDULED, "scheduled_datetime__lt": timezone.now()}
        qs = qs.filter(**overdue) if filters.overdue else qs.exclude(**overdue)
    if filters.priority:
        qs = qs.filter(priority_level=filters.priority)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.date_from:
        qs = qs.filter(scheduled_datetime__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(scheduled_datetime__lt=filters.date_to)
    if filters.customer_id:
        qs = qs.filter(customer_profile_id=filters.customer_id)
    return qs.order_by("scheduled_datetime", "priority_level", "id")


def callback_get(*, agent: AIAgent, callback_id) -> ScheduledCallback:
    queryset = ScheduledCallback.objects.select_related("customer_profile").filter(ai_agent=agent)
    return get_scoped(queryset, callback_id, message="Callback not found.")


def callback_is_overdue(callback: ScheduledCallback, *, now: datetime) -> bool:
    """Still waiting to be placed although its time has passed (the same rule as the filter)."""
    return callback.status == ScheduledCallback.Status.SCHEDULED and callback.scheduled_datetime < now


@dataclass(frozen=True)
class Booking:
    """A booked (or rescheduled) callback, with what was asked for and why it was moved."""

    callback: ScheduledCallback
    requested_at: datetime
    moved_reason: str | None

    @property
    def moved(self) -> bool:
        return self.moved_reason is not None


def callback_booking(*, agent: AIAgent, callback: ScheduledCallback, requested_at: datetime) -> Booking:
    """Explain a booking: a person who asked for 23:00 must be told why it is 08:00 tomorrow."""
    booked = callback.scheduled_datetime
    if booked == requested_at:
        return Booking(callback=callback, requested_at=requested_at, moved_reason=None)
    if requested_at <= timezone.now():
        reason = "The requested time has passed, so the callback is booked at the first allowed time from now."
    else:
        customer = callback.customer_profile
        zone = booking_zone(customer, agent)
        local = requested_at.astimezone(zone)
        whose = "the customer's time" if customer_zone(customer) else "the business's time (the customer's is unknown)"
        reason = (
            f"{local:%H:%M} on {dateformat.format(local, 'D j M')} ({zone.key}) is outside the calling hours: "
            f"{CALL_WINDOW_START:%H:%M}-{CALL_WINDOW_END:%H:%M} in {whose} and the agent's working hours "
            f"{agent.working_hours_start:%H:%M}-{agent.working_hours_end:%H:%M} ({agent.client.timezone}). "
            "It is booked at the first allowed time after that."
        )
    return Booking(callback=callback, requested_at=requested_at, moved_reason=reason)
