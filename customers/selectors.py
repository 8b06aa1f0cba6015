"""Reads of customers, always through the agent (and so the client) that owns them."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from agents.models import AIAgent
from core.errors import NotFound
from customers.models import CustomerProfile

ORDERINGS = {
    "created_at", "-created_at", "name", "-name", "last_contacted_at", "-last_contacted_at",
    "interest_level", "-interest_level", "total_calls", "-total_calls",
}  # fmt: skip


@dataclass(frozen=True)
class CustomerFilters:
    interest_level: str | None = None
    converted: bool | None = None
    do_not_call: bool | None = None
    search: str = ""
    ordering: str = "-created_at"


def customer_list(*, agent: AIAgent, filters: CustomerFilters | None = None) -> QuerySet[CustomerProfile]:
    filters = filters or CustomerFilters()
    qs = CustomerProfile.objects.filter(ai_agent=agent)
    if filters.interest_level:
        qs = qs.filter(interest_level=filters.interest_level)
    if filters.converted is not None:
        qs = qs.filter(is_converted=filters.converted)
    if filters.do_not_call is not None:
        qs = qs.filter(is_do_not_call=filters.do_not_call)
    if filters.search.strip():
        term = filters.search.strip()
        qs = qs.filter(Q(name__icontains=term) | Q(phone_number__icontains=term) | Q(email__icontains=term))
    ordering = filters.ordering if filters.ordering in ORDERINGS else "-created_at"
    return qs.order_by(ordering, "id")


def customer_get(*, agent: AIAgent, customer_id) -> CustomerProfile:
    """The same NotFound for a missing customer and for another client's."""
    try:
        return CustomerProfile.objects.get(ai_agent=agent, pk=customer_id)
    except (CustomerProfile.DoesNotExist, ValidationError, ValueError, TypeError):
        # A malformed id is "not found" too: callers learn nothing from the difference.
        raise NotFound("Customer not found.") from None


def customer_by_phone(*, agent: AIAgent, phone_number: str) -> CustomerProfile | None:
    return CustomerProfile.objects.filter(ai_agent=agent, phone_number=phone_number).first()
