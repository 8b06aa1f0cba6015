"""Reads of calls and their transcripts, always through the agent (and so the client) that owns them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from core.lookups import get_scoped

CALL_NOT_FOUND = "Call not found."


@dataclass(frozen=True)
class CallFilters:
    call_type: str | None = None
    status: str | None = None
    outcome: str | None = None
    customer_id: str | None = None
    date_from: datetime | None = None  # started at or after
    date_to: datetime | None = None  # started before
    search: str = ""  # customer name or phone number
    simulations: bool = False  # the persona test calls instead of the real ones


def turn_count_subquery() -> Coalesce:
    """The number of turns of the outer call, as one correlated subquery.

    A subquery rather than ``Count("turns")`` so the list query needs no GROUP BY over the
    call and customer columns, and the paginator's COUNT(*) can drop it entirely.
    """
    counted = CallTurn.objects.filter(call=OuterRef("pk")).order_by().values("call").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def call_list(*, agent: AIAgent, filters: CallFilters | None = None) -> QuerySet[CallSession]:
    """The agent's calls, newest first, each with its customer and turn count (one query per page).

    Ordered by ``-started_at`` so the (ai_agent, -started_at) index serves both the filter
    and the order; the transcript text is deferred because a list never shows it.
    """
    filters = filters or CallFilters()
    qs = (
        CallSession.objects.filter(ai_agent=agent, is_simulation=filters.simulations)
        .select_related("customer_profile")
        .defer("conversation_transcript", "customer_profile__conversation_notes", "customer_profile__objections")
        .annotate(turn_count=turn_count_subquery())
    )
    if filters.call_type:
        qs = qs.filter(call_type=filters.call_type)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    if filters.customer_id:
        qs = qs.filter(customer_profile_id=filters.customer_id)
    if filters.date_from:
        qs = qs.filter(started_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(started_at__lt=filters.date_to)
    term = filters.search.strip()
    if term:
        # A number is stored as E.164 digits; "(312) 555-0188" should still find it.
        digits = re.sub(r"\D", "", term)
        match = Q(customer_profile__name__icontains=term) | Q(customer_profile__phone_number__icontains=term)
        if len(digits) >= 3:
            match |= Q(customer_profile__phone_number__contains=digits)
        qs = qs.filter(match)
    return qs.order_by("-started_at", "-id")


def call_get(*, agent: AIAgent, call_id) -> CallSession:
    """One of the agent's calls; the same NotFound for a missing call and for another client's."""
    queryset = CallSession.objects.select_related("customer_profile").filter(ai_agent=agent)
    return get_scoped(queryset, call_id, message=CALL_NOT_FOUND, code="call_not_found")


def call_detail(*, agent: AIAgent, call_id) -> CallSession:
    """A call with everything its detail page shows, in three queries whatever its length.

    The turns come in ``sequence`` order (``.turns.all()``), the callbacks it booked
    soonest first (``.callbacks_booked.all()``), and ``.callback`` is the one that caused it.
    """
    turns = CallTurn.objects.order_by("sequence")
    booked = ScheduledCallback.objects.order_by("scheduled_datetime", "id")
    queryset = (
        CallSession.objects.select_related("customer_profile", "callback")
        .prefetch_related(Prefetch("turns", queryset=turns), Prefetch("callbacks_booked", queryset=booked))
        .filter(ai_agent=agent)
    )
    return get_scoped(queryset, call_id, message=CALL_NOT_FOUND, code="call_not_found")
