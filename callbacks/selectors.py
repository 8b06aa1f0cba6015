"""Reads of scheduled callbacks, always through the owning agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from core.errors import NotFound


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
    """Callbacks in the order they will be placed: priority 1 first, then earliest."""
    filters = filters or CallbackFilters()
    qs = ScheduledCallback.objects.filter(ai_agent=agent).select_related("customer_profile")
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
    try:
        return ScheduledCallback.objects.select_related("customer_profile").get(ai_agent=agent, pk=callback_id)
    except (ScheduledCallback.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Callback not found.") from None
