"""Reads of calls and their transcripts, always through the agent (and so the client) that owns them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from core.errors import NotFound
from core.lookups import get_scoped
from customers.models import CustomerProfile

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


def call_by_sid(*, agent: AIAgent, call_sid: str) -> CallSession:
    """Another client's call is "not found", exactly like a missing one."""
    call = (
        CallSession.objects.select_related("customer_profile").filter(ai_agent=agent, twilio_call_sid=call_sid).first()
    )
    if call is None:
        raise NotFound(CALL_NOT_FOUND)
    return call


def call_id_by_sid(*, agent: AIAgent, call_sid: str) -> UUID | None:
    """The id of the agent's call ``call_sid``, None when it has none (the simulator's screen)."""
    return CallSession.objects.filter(ai_agent=agent, twilio_call_sid=call_sid).values_list("pk", flat=True).first()


@dataclass(frozen=True)
class LiveCall:
    """What a conversation turn works on, fetched up front: the call (with ``call.ai_agent``
    and ``call.customer_profile`` loaded) and every stored turn in sequence order."""

    call: CallSession
    turns: list[CallTurn]

    @property
    def next_sequence(self) -> int:
        return self.turns[-1].sequence + 1 if self.turns else 0


def live_call(*, agent: AIAgent, call_sid: str) -> LiveCall | None:
    """The agent's call ``call_sid`` with its customer and transcript: two statements, whatever its length.

    Read after the webhook's signature was checked with the agent's client token (ADR 0001),
    so the agent (and its client) are the ones already in hand, never read again. None for a
    call the agent does not have (another client's looks the same).
    """
    call = (
        CallSession.objects.select_related("customer_profile").filter(ai_agent=agent, twilio_call_sid=call_sid).first()
    )
    if call is None:
        return None
    call.ai_agent = agent
    return LiveCall(call=call, turns=list(CallTurn.objects.filter(call=call).order_by("sequence")))


def agent_turn_at(*, call: CallSession, sequence: int) -> CallTurn | None:
    """The agent's turn stored at ``sequence`` of the call, if it is stored yet."""
    return CallTurn.objects.filter(call=call, sequence=sequence, speaker=CallTurn.Speaker.AGENT).first()


@dataclass(frozen=True)
class EarlierConversation:
    """The customer's last conversation before this call, for the agent's memory across calls."""

    call: CallSession
    turns: list[CallTurn]
    callback: ScheduledCallback | None  # the callback this call keeps, when it keeps one


def earlier_conversation(*, agent: AIAgent, call: CallSession, customer: CustomerProfile) -> EarlierConversation | None:
    """The call this one follows on from: the call a callback was booked on, else the last answered one.

    Read once, when the call begins (its greeting), never on an ordinary turn: at most three
    small statements, and none for a customer the agent has never spoken to.
    """
    callback = None
    earlier = None
    if call.callback_id:
        callback = (
            ScheduledCallback.objects.select_related("source_call").filter(pk=call.callback_id, ai_agent=agent).first()
        )
        source = callback.source_call if callback and callback.source_call_id else None
        if source is not None and source.answered_at is not None and source.customer_profile_id == customer.pk:
            earlier = source
    elif not customer.total_calls:
        return None
    if earlier is None:
        earlier = (
            CallSession.objects.filter(ai_agent=agent, customer_profile=customer, answered_at__isnull=False)
            .exclude(pk=call.pk)
            .order_by("-started_at")
            .first()
        )
    if earlier is None:
        return None
    turns = list(CallTurn.objects.filter(call=earlier).order_by("sequence"))
    return EarlierConversation(earlier, turns, callback)
