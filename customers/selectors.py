"""Reads of customers, always through the agent (and so the client) that owns them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.models import AIAgent
from core.errors import CallNotAllowed
from core.lookups import get_scoped
from customers.contactability import check_call_allowed, customer_zone
from customers.models import CustomerProfile, ImportJob

ORDERINGS = {
    "created_at", "-created_at", "name", "-name", "last_contacted_at", "-last_contacted_at",
    "interest_level", "-interest_level", "total_calls", "-total_calls",
}  # fmt: skip

# What a person types when looking for a number: digits with the usual punctuation.
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{3,}$")


@dataclass(frozen=True)
class CustomerFilters:
    interest_level: str | None = None
    converted: bool | None = None
    do_not_call: bool | None = None
    search: str = ""
    ordering: str = "-created_at"


def customer_list(*, agent: AIAgent, filters: CustomerFilters | None = None) -> QuerySet[CustomerProfile]:
    """The agent's customers, filtered; a total order (``id`` last) so pages never overlap.

    A search that looks like a phone number ("(212) 555-0101") is matched on its digits,
    because numbers are stored in E.164 and nobody types them that way.
    """
    filters = filters or CustomerFilters()
    qs = CustomerProfile.objects.filter(ai_agent=agent, is_simulated=False)
    if filters.interest_level:
        qs = qs.filter(interest_level=filters.interest_level)
    if filters.converted is not None:
        qs = qs.filter(is_converted=filters.converted)
    if filters.do_not_call is not None:
        qs = qs.filter(is_do_not_call=filters.do_not_call)
    term = filters.search.strip()
    if term:
        match = Q(name__icontains=term) | Q(phone_number__icontains=term) | Q(email__icontains=term)
        digits = re.sub(r"\D", "", term)
        if _PHONE_LIKE.match(term) and len(digits) >= 3:
            match |= Q(phone_number__contains=digits)
        qs = qs.filter(match)
    ordering = filters.ordering if filters.ordering in ORDERINGS else "-created_at"
    return qs.order_by(ordering, "id")


def customer_get(*, agent: AIAgent, customer_id) -> CustomerProfile:
    """The same NotFound for a missing customer and for another client's."""
    return get_scoped(CustomerProfile.objects.filter(ai_agent=agent), customer_id, message="Customer not found.")


@dataclass(frozen=True)
class Contactability:
    """Whether the customer may be called at ``at``, and if not, why and when next."""

    allowed: bool
    at: datetime
    code: str | None = None
    reason: str | None = None
    next_allowed_at: datetime | None = None
    local_time: datetime | None = None


def customer_contactability(*, agent: AIAgent, customer: CustomerProfile, at: datetime | None = None) -> Contactability:
    """The answer to "may we call them now?" that a person reads on the customer's page.

    It runs the very rules the dialler runs (:func:`check_call_allowed`), so the page never
    promises a call the dialler would refuse. No queries: ``agent.client`` must be loaded.
    """
    at = at or timezone.now()
    zone = customer_zone(customer)
    local_time = at.astimezone(zone) if zone else None
    try:
        check_call_allowed(agent=agent, customer=customer, at=at)
    except CallNotAllowed as refused:
        return Contactability(
            allowed=False,
            at=at,
            code=refused.code,
            reason=refused.message,
            next_allowed_at=refused.next_allowed_at,
            local_time=local_time,
        )
    return Contactability(allowed=True, at=at, next_allowed_at=at, local_time=local_time)


def import_job_get(*, agent: AIAgent, job_id) -> ImportJob:
    """The same NotFound for a missing import job and for another client's."""
    return get_scoped(ImportJob.objects.filter(ai_agent=agent), job_id, message="Import not found.")
