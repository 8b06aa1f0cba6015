"""Placing outbound calls: the rules first, then the phone network.

No call is ever placed to a customer on the do-not-call list, at an indecent hour for them,
outside the agent's working hours, by an agent trained below 20 %, or past the client's
daily limit. A refusal says why and when a call would be allowed.

One live call per customer: a customer who is on a call (or being dialled) is not dialled
again until that call is final. The placement locks the customer's row, looks for a live
call (inbound ones included) and records its session in the same transaction, so racing
placers queue on the lock and the second one sees the first one's call; a partial unique
index (``call_one_live_outbound_per_customer``) backs it in the database. Inbound calls are
never refused by this rule (a customer who calls in is answered even while the dispatcher
is dialling them) and do not take the lock, so an outbound placement racing a call coming
in at that very instant can still ring them once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Client
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, OutboundDayCount
from calls.pacing import dial_slot_take, pacing_admit
from calls.telephony import gateway_for, uses_simulated_phone, webhook_url
from core.errors import CallNotAllowed, ValidationFailed
from customers.contactability import check_call_allowed, customer_zone, next_allowed_time
from customers.models import CustomerProfile
from customers.services import customer_delete, customer_get_or_create
from integrations.twilio import CallRequest, TelephonyError

logger = logging.getLogger(__name__)

OUTBOUND_TYPES = (CallSession.CallType.OUTBOUND, CallSession.CallType.SCHEDULED, CallSession.CallType.FOLLOWUP)
SIMULATED_CALLER_ID = "+15005550006"  # Twilio's magic "valid" test number, for the built-in phone


class CallPlacementFailed(ValidationFailed):
    """The phone network refused the call; carries Twilio's error code."""

    code = "telephony_error"


def _day_start(client: Client, at: datetime) -> datetime:
    local = at.astimezone(ZoneInfo(client.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def reserve_outbound_call(*, client: Client, at: datetime, count: int = 1) -> bool:
    """Take ``count`` of the client's outbound calls for ``at``'s day, all or none; False past the limit.

    One statement: the row for (client, day) is created or incremented only while the calls fit
    under the limit, so two dispatchers racing for the last call cannot both get it.
    """
    if count <= 0 or client.daily_call_limit < count:
        return False
    table = OutboundDayCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client_id, day, placed) VALUES (%s, %s, %s) "  # noqa: S608 - our table name
            f"ON CONFLICT (client_id, day) DO UPDATE SET placed = {table}.placed + %s "
            f"WHERE {table}.placed + %s <= %s RETURNING placed",
            [client.pk, _day_start(client, at).date(), count, count, count, client.daily_call_limit],
        )
        return cursor.fetchone() is not None


def release_outbound_call(*, client: Client, at: datetime) -> None:
    """Give back one of ``at``'s day's calls: the phone network certainly placed no call for it."""
    OutboundDayCount.objects.filter(client=client, day=_day_start(client, at).date(), placed__gt=0).update(
        placed=F("placed") - 1
    )


def reserve_outbound_calls(*, client: Client, at: datetime, count: int) -> int:
    """Take up to ``count`` of the client's outbound calls for ``at``'s day; returns how many were granted.

    All at once in one statement when they fit; otherwise one by one, so exactly the rest of
    the day's limit is granted. Run it inside the transaction that records the calls.
    """
    if reserve_outbound_call(client=client, at=at, count=count):
        return count
    granted = 0
    while granted < count and reserve_outbound_call(client=client, at=at):
        granted += 1
    return granted


def refuse_for_daily_limit(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> None:
    client = agent.client
    tomorrow = _day_start(client, at) + timedelta(days=1)
    zone = customer_zone(customer) or ZoneInfo(client.timezone)
    raise CallNotAllowed(
        f"The daily limit of {client.daily_call_limit} outbound calls is reached.",
        next_allowed_at=next_allowed_time(agent=agent, zone=zone, at=tomorrow),
        code="daily_limit_reached",
    )


def _customers_on_a_call(customers: Sequence[CustomerProfile]) -> set:
    """Lock the customers' rows (in one order, so placers never deadlock), then return the ids of
    those on a live call. Inside the transaction that records the new sessions."""
    ids = sorted({customer.pk for customer in customers}, key=str)
    list(CustomerProfile.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    return set(
        CallSession.objects.filter(customer_profile_id__in=ids, status__in=CallSession.LIVE_STATUSES).values_list(
            "customer_profile_id", flat=True
        )
    )


def customer_on_a_call() -> CallNotAllowed:
    return CallNotAllowed(
        "The customer is on a call right now (or being dialled). Try again when that call has ended.",
        code="customer_on_call",
    )


def _check_placeable(*, agent: AIAgent, customer: CustomerProfile, call_type: str, at: datetime) -> None:
    """Every rule but the daily limit (that one is counted when the call is recorded)."""
    if call_type not in OUTBOUND_TYPES:
        raise ValidationFailed(f"call_type must be one of {', '.join(OUTBOUND_TYPES)}.")
    if customer.ai_agent_id != agent.pk:
        raise ValidationFailed("The customer belongs to another agent.")
    check_call_allowed(agent=agent, customer=customer, at=at)
    if not agent.phone_number and not uses_simulated_phone(agent.client):
        raise CallNotAllowed("The agent has no phone number to call from. Set one in the agent's settings.")


def _new_session(order: CallOrder, at: datetime) -> CallSession:
    return CallSession(
        ai_agent=order.agent, customer_profile=order.customer, call_type=order.call_type,
        context=order.context[:2000], callback=order.callback, status=CallSession.Status.QUEUED, started_at=at,
    )  # fmt: skip


def _dial(call: CallSession) -> str:
    """Ask the phone network to dial a recorded (committed) session; returns Twilio's call SID.

    A refusal leaves the session failed and raises: TelephonyUnavailable when retrying may help,
    CallPlacementFailed when Twilio refused this call for good. The failed session stays in the
    call log with Twilio's reason; the day's slot is given back unless Twilio may have dialled
    (a request sent and never answered), so a failure the client did not cause costs no call.
    """
    agent, customer = call.ai_agent, call.customer_profile
    request = CallRequest(
        to=customer.phone_number,
        from_=agent.phone_number or SIMULATED_CALLER_ID,
        url=webhook_url(agent, "answered"),
        status_callback=webhook_url(agent, "status"),
        amd_status_callback=webhook_url(agent, "amd"),
        recording_status_callback=webhook_url(agent, "recording"),
        fallback_url=webhook_url(agent, "fallback"),
        record=agent.client.recording_enabled,
    )
    try:
        dial_slot_take(client=agent.client)  # calls per second of the Twilio account (calls.pacing)
        return gateway_for(agent.client).place_call(request).sid
    except TelephonyError as exc:
        # The attempt is kept, complete, as a failed call: the client sees what happened and why.
        CallSession.objects.filter(pk=call.pk).update(
            status=CallSession.Status.FAILED,
            outcome=CallSession.Outcome.FAILED,
            ended_at=timezone.now(),
            conversation_notes=f"Twilio error {exc.code}: {exc.message}",
            updated_at=timezone.now(),
        )
        if not exc.may_have_acted:
            release_outbound_call(client=agent.client, at=call.started_at)
        logger.warning("Twilio did not place call %s (session %s): %r", call.twilio_call_sid or "-", call.pk, exc)
        if exc.retryable:
            raise
        raise CallPlacementFailed(exc.user_message, details={"twilio_code": exc.code}) from exc


@dataclass(frozen=True)
class CallOrder:
    """One call to place with :func:`calls_place_batch`."""

    agent: AIAgent
    customer: CustomerProfile
    call_type: str = CallSession.CallType.OUTBOUND
    context: str = ""
    callback: ScheduledCallback | None = None
    # Called with the new session inside the transaction that records it, before any dial: a
    # caller above ``calls`` (a campaign) ties its own row to the call, or raises to call nothing.
    on_recorded: Callable[[CallSession], None] | None = None


def call_place(
    *,
    agent: AIAgent,
    customer: CustomerProfile,
    call_type: str = CallSession.CallType.OUTBOUND,
    context: str = "",
    callback: ScheduledCallback | None = None,
    at: datetime | None = None,
    on_recorded: Callable[[CallSession], None] | None = None,
) -> CallSession:
    """Check every rule, then ask the phone network to dial; the session is returned queued."""
    at = at or timezone.now()
    _check_placeable(agent=agent, customer=customer, call_type=call_type, at=at)
    order = CallOrder(agent=agent, customer=customer, call_type=call_type, context=context, callback=callback)
    try:
        with transaction.atomic():
            # The day's slot and the session commit together, before the dial (the session is the
            # record that stops a retried placement from dialling twice).
            if _customers_on_a_call([customer]):
                raise customer_on_a_call()
            if refused := pacing_admit(agent=agent, customers=[customer], at=at)[0]:
                raise refused  # concurrency, calls per contact per week (calls.pacing)
            if not reserve_outbound_call(client=agent.client, at=at):
                refuse_for_daily_limit(agent=agent, customer=customer, at=at)
            call = _new_session(order, at)
            call.save(force_insert=True)
            if on_recorded is not None:
                on_recorded(call)
    except IntegrityError:
        # Only the one-live-call index can refuse this insert (a placer that got past the lock, e.g. on SQLite).
        if CallSession.objects.filter(customer_profile=customer, status__in=CallSession.LIVE_STATUSES).exists():
            raise customer_on_a_call() from None
        raise
    call.twilio_call_sid = _dial(call)
    call.save(update_fields=["twilio_call_sid", "updated_at"])
    return call


def call_place_to_number(
    *, agent: AIAgent, phone_number: str, call_type: str = CallSession.CallType.OUTBOUND, context: str = ""
) -> CallSession:
    """Start a call by number: the customer is found or created, and a refused call leaves no
    nameless customer behind (the number was never reached, so there is no one to keep)."""
    customer, created = customer_get_or_create(agent=agent, phone_number=phone_number)
    try:
        return call_place(agent=agent, customer=customer, call_type=call_type, context=context)
    except CallNotAllowed:
        if created:
            customer_delete(customer=customer)
        raise


PlacementOutcome = CallSession | CallNotAllowed | ValidationFailed | TelephonyError


def calls_place_batch(orders: Sequence[CallOrder], *, at: datetime | None = None) -> list[PlacementOutcome]:
    """:func:`call_place` for many calls at once, with the same rules; one outcome per order, in order.

    An outcome is the queued session, or the exception :func:`call_place` would have raised for
    that call (a refusal by the rules, past the daily limit, or by the phone network). Each call
    is checked on its own; the daily limits are reserved per client and all the sessions
    created in one transaction, committed before the first dial (the sessions are the record
    that stops a retried placement from dialling twice); after the dials, the SIDs are written
    with one statement. Must not run inside a transaction.
    """
    at = at or timezone.now()
    outcomes: list[PlacementOutcome | None] = [None] * len(orders)
    by_client: dict = defaultdict(list)
    for i, order in enumerate(orders):
        try:
            _check_placeable(agent=order.agent, customer=order.customer, call_type=order.call_type, at=at)
        except (CallNotAllowed, ValidationFailed) as refused:
            outcomes[i] = refused
            continue
        by_client[order.agent.client_id].append(i)
    if not by_client:
        return outcomes
    calls: list[CallSession] = []
    with transaction.atomic():
        # Customers first, then the day counters: every placer takes its locks in that order.
        busy = _customers_on_a_call([orders[i].customer for waiting in by_client.values() for i in waiting])
        for client_id in sorted(by_client, key=str):  # one order for the row locks: no deadlock between workers
            waiting = []
            for i in by_client[client_id]:
                if orders[i].customer.pk in busy:  # on a call, or ordered twice in this batch
                    outcomes[i] = customer_on_a_call()
                    continue
                busy.add(orders[i].customer.pk)
                waiting.append(i)
            if not waiting:
                continue
            paced = pacing_admit(agent=orders[waiting[0]].agent, customers=[orders[i].customer for i in waiting], at=at)
            for i, refused in zip(list(waiting), paced, strict=True):
                if refused:  # concurrency, calls per contact per week (calls.pacing)
                    outcomes[i] = refused
                    waiting.remove(i)
            if not waiting:
                continue
            first = orders[waiting[0]]
            granted = reserve_outbound_calls(client=first.agent.client, at=at, count=len(waiting))
            for n, i in enumerate(waiting):
                if n < granted:
                    outcomes[i] = _new_session(orders[i], at)
                    calls.append(outcomes[i])
                    continue
                try:
                    refuse_for_daily_limit(agent=orders[i].agent, customer=orders[i].customer, at=at)
                except CallNotAllowed as refused:
                    outcomes[i] = refused
        CallSession.objects.bulk_create(calls)
        for order, outcome in zip(orders, outcomes, strict=True):
            if order.on_recorded is not None and isinstance(outcome, CallSession):
                order.on_recorded(outcome)
    dialled: list[CallSession] = []
    try:
        for i, outcome in enumerate(outcomes):
            if not isinstance(outcome, CallSession):
                continue
            try:
                outcome.twilio_call_sid = _dial(outcome)
            except (TelephonyError, ValidationFailed) as exc:
                outcomes[i] = exc
                continue
            outcome.updated_at = timezone.now()
            dialled.append(outcome)
    finally:
        # Even when a dial blows up unexpectedly, the SIDs of the calls already placed are kept.
        CallSession.objects.bulk_update(dialled, ["twilio_call_sid", "updated_at"])
    return outcomes
