"""Placing outbound calls: the one path every placement takes (ADR 0014).

Start-call places one call with :func:`call_place`, which is :func:`calls_place` of one; the
dispatcher places due callbacks and follow-ups (and next, campaign attempts) a claimed set at a
time. Every rule a dial must pass is checked once, at dial time, in :func:`calls_check_dialable`
(docs/rules.md, "Placing a call"), pacing included (``calls.pacing``); a refusal says why and
when a call would be allowed.
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
from calls.day_counts import call_day_counts_add, call_day_counts_sync
from calls.models import CallSession, OutboundDayCount
from calls.pacing import dial_slot_take, pacing_admit_set
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


def reserve_outbound_call(*, client: Client, at: datetime) -> bool:
    """Take one of the client's outbound calls for ``at``'s day; False past the limit.

    One statement: the row for (client, day) is created or incremented only while the call fits
    under the limit, so two dispatchers racing for the last call cannot both get it.
    """
    return client.pk in _reserve_days({client: 1}, at)


def _reserve_days(wanted: dict[Client, int], at: datetime) -> set:
    """Take ``wanted[client]`` of each client's calls for ``at``'s day, all or none per client, in one
    statement; returns the ids of the clients that got theirs. The counter rows are taken in
    client order, so racing placers never deadlock."""
    wanted = {client: n for client, n in wanted.items() if 0 < n <= client.daily_call_limit}
    if not wanted:
        return set()
    table, clients = OutboundDayCount._meta.db_table, Client._meta.db_table
    rows = sorted((client.pk, _day_start(client, at).date(), n) for client, n in wanted.items())
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            # VALUES columns are column1..3 on both PostgreSQL and SQLite; the WHERE also settles
            # SQLite's INSERT ... SELECT ... ON CONFLICT parsing ambiguity.
            f"INSERT INTO {table} (client_id, day, placed) "  # noqa: S608 - our table names
            f"SELECT v.column1, v.column2, v.column3 FROM (VALUES {values}) AS v "
            f"JOIN {clients} c ON c.id = v.column1 WHERE v.column3 <= c.daily_call_limit ORDER BY v.column1 "
            f"ON CONFLICT (client_id, day) DO UPDATE SET placed = {table}.placed + excluded.placed "
            f"WHERE {table}.placed + excluded.placed <= "
            f"(SELECT c2.daily_call_limit FROM {clients} c2 WHERE c2.id = {table}.client_id) RETURNING client_id",
            [x for row in rows for x in row],
        )
        return {row[0] for row in cursor.fetchall()}


def release_outbound_call(*, client: Client, at: datetime) -> None:
    """Give back one of ``at``'s day's calls: the phone network certainly placed no call for it."""
    OutboundDayCount.objects.filter(client=client, day=_day_start(client, at).date(), placed__gt=0).update(
        placed=F("placed") - 1
    )


def daily_limit_refusal(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> CallNotAllowed:
    client = agent.client
    tomorrow = _day_start(client, at) + timedelta(days=1)
    zone = customer_zone(customer) or ZoneInfo(client.timezone)
    return CallNotAllowed(
        f"The daily limit of {client.daily_call_limit} outbound calls is reached.",
        next_allowed_at=next_allowed_time(agent=agent, zone=zone, at=tomorrow),
        code="daily_limit_reached",
    )


def customer_on_a_call() -> CallNotAllowed:
    return CallNotAllowed(
        "The customer is on a call right now (or being dialled). Try again when that call has ended.",
        code="customer_on_call",
    )


@dataclass(frozen=True)
class CallToPlace:
    """One call for :func:`calls_place`: who calls whom, as what, and why."""

    agent: AIAgent
    customer: CustomerProfile
    call_type: str = CallSession.CallType.OUTBOUND
    context: str = ""
    callback: ScheduledCallback | None = None
    # Called with the new session inside the transaction that records it, before any dial: a
    # caller above ``calls`` (a campaign) ties its own row to the call, or raises to dial nothing
    # (which rolls back the whole set).
    on_recorded: Callable[[CallSession], None] | None = None


Refusal = CallNotAllowed | ValidationFailed
PlacementOutcome = CallSession | CallNotAllowed | ValidationFailed | TelephonyError


def _check_rules(call: CallToPlace, at: datetime) -> None:
    if call.call_type not in OUTBOUND_TYPES:
        raise ValidationFailed(f"call_type must be one of {', '.join(OUTBOUND_TYPES)}.")
    if call.customer.ai_agent_id != call.agent.pk:
        raise ValidationFailed("The customer belongs to another agent.")
    check_call_allowed(agent=call.agent, customer=call.customer, at=at)
    if not call.agent.phone_number and not uses_simulated_phone(call.agent.client):
        raise CallNotAllowed("The agent has no phone number to call from. Set one in the agent's settings.")


def calls_check_dialable(calls: Sequence[CallToPlace], *, at: datetime) -> list[Refusal | None]:
    """Every rule a dial must pass, at dial time: for each call None (dial it) or why not.

    The rules that read only the rows in hand come first (``customers.contactability``:
    do-not-call, the agent's training and status, the calling hours in the customer's zone and
    the agent's working hours), then the two that ask the database, for the whole set at once:
    one live call per customer (the customers' rows locked, then their live calls read), and
    the daily limit, which takes the day's slots. Run it inside the transaction that records
    the sessions, so the locks hold until they are committed and unused slots are never taken.
    """
    refusals: list[Refusal | None] = [None] * len(calls)
    for i, call in enumerate(calls):
        try:
            _check_rules(call, at)
        except (CallNotAllowed, ValidationFailed) as refused:
            refusals[i] = refused
    ids = sorted({calls[i].customer.pk for i, r in enumerate(refusals) if r is None}, key=str)
    if not ids:
        return refusals
    # Lock first, read after: a statement that starts after the lock sees the call its holder recorded.
    list(CustomerProfile.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    busy = set(
        CallSession.objects.filter(customer_profile_id__in=ids, status__in=CallSession.LIVE_STATUSES).values_list(
            "customer_profile_id", flat=True
        )
    )
    by_client: dict = defaultdict(list)
    for i, call in enumerate(calls):
        if refusals[i] is not None:
            continue
        if call.customer.pk in busy:  # on a call, or twice in this set
            refusals[i] = customer_on_a_call()
            continue
        busy.add(call.customer.pk)
        by_client[call.agent.client_id].append(i)
    pacing_admit_set(calls, by_client, refusals, at=at)  # concurrency, calls per contact per week (calls.pacing)
    clients = {calls[waiting[0]].agent.client_id: calls[waiting[0]].agent.client for waiting in by_client.values()}
    granted = _reserve_days({clients[cid]: len(waiting) for cid, waiting in by_client.items()}, at)
    for client_id, waiting in by_client.items():
        allowed = len(waiting)
        if client_id not in granted:  # near the limit: take what is left, one at a time
            allowed = 0
            while allowed < len(waiting) and reserve_outbound_call(client=clients[client_id], at=at):
                allowed += 1
        for i in waiting[allowed:]:
            refusals[i] = daily_limit_refusal(agent=calls[i].agent, customer=calls[i].customer, at=at)
    return refusals


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
        call_day_counts_sync(agent=agent, call_ids=[call.pk])
        if not exc.may_have_acted:
            release_outbound_call(client=agent.client, at=call.started_at)
        logger.warning("Twilio did not place call %s (session %s): %r", call.twilio_call_sid or "-", call.pk, exc)
        if exc.retryable:
            raise
        raise CallPlacementFailed(exc.user_message, details={"twilio_code": exc.code}) from exc


def _new_session(call: CallToPlace, at: datetime) -> CallSession:
    return CallSession(
        ai_agent=call.agent, customer_profile=call.customer, call_type=call.call_type, context=call.context[:2000],
        callback=call.callback, status=CallSession.Status.QUEUED, started_at=at,
    )  # fmt: skip


def calls_place(calls: Sequence[CallToPlace], *, at: datetime | None = None) -> list[PlacementOutcome]:
    """Place calls, each checked by every rule (:func:`calls_check_dialable`), each dialled once.

    One outcome per call, in order: the queued session with Twilio's SID, or why it was not
    placed (a refusal by the rules or by the phone network). The sessions are committed, with
    the day's slots, before the first dial: a session is the record that stops a retried or
    taken-over placement from dialling twice. Each SID is written within
    :data:`SID_WRITE_WITHIN` of its dial. Must not run inside a transaction.
    """
    at = at or timezone.now()
    # Built before the transaction: once the clients' rows are locked, other placers wait on every step.
    built = [_new_session(call, at) for call in calls]
    with transaction.atomic():
        refusals = calls_check_dialable(calls, at=at)
        outcomes: list[PlacementOutcome] = [
            refused or session for refused, session in zip(refusals, built, strict=True)
        ]
        sessions = [o for o in outcomes if isinstance(o, CallSession)]
        call_day_counts_add(calls=sessions)
        CallSession.objects.bulk_create(sessions)
        for call, outcome in zip(calls, outcomes, strict=True):
            if call.on_recorded is not None and isinstance(outcome, CallSession):
                call.on_recorded(outcome)
    sids = _SidWriter()
    try:
        for i, outcome in enumerate(outcomes):
            if not isinstance(outcome, CallSession):
                continue
            try:
                outcome.twilio_call_sid = _dial(outcome)
            except (TelephonyError, ValidationFailed) as exc:
                outcomes[i] = exc
                continue
            sids.add(outcome)
    finally:
        # Even when a dial blows up unexpectedly, the SIDs of the calls already placed are kept.
        sids.flush()
    return outcomes


# How long a dialled call may wait for its SID to be written. Twilio's answered and status
# webhooks find the call by its SID; none can come this soon after the dial returned (the callee
# has not even heard it ring), so a fast set (the simulated phone) writes its SIDs in one
# statement while real dials, hundreds of milliseconds each, write theirs one by one.
SID_WRITE_WITHIN = timedelta(milliseconds=250)


class _SidWriter:
    def __init__(self) -> None:
        self.pending: list[CallSession] = []

    def add(self, call: CallSession) -> None:
        call.updated_at = timezone.now()
        self.pending.append(call)
        if call.updated_at - self.pending[0].updated_at >= SID_WRITE_WITHIN:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        # One UPDATE ... FROM (VALUES ...): the ORM's bulk_update builds a CASE per row, which
        # measured 44 % of a dispatcher set's placement (bench/callback_dispatch.py).
        now = timezone.now()
        pk = CallSession._meta.pk
        params: list = [now]
        for call in self.pending:
            call.updated_at = now
            params += [pk.get_db_prep_value(call.pk, connection), call.twilio_call_sid]
        table, values = CallSession._meta.db_table, ", ".join(["(%s, %s)"] * len(self.pending))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET twilio_call_sid = v.column2, updated_at = %s "  # noqa: S608 - our table name
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                params,
            )
        self.pending = []


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
    """Place one call: :func:`calls_place` of one; raises its refusal. Returns the session, queued."""
    call = CallToPlace(
        agent=agent, customer=customer, call_type=call_type, context=context, callback=callback,
        on_recorded=on_recorded,
    )  # fmt: skip
    try:
        (outcome,) = calls_place([call], at=at)
    except IntegrityError:
        # Only the one-live-call index can refuse the insert: a placer that got past the lock (SQLite).
        if CallSession.objects.filter(customer_profile=customer, status__in=CallSession.LIVE_STATUSES).exists():
            raise customer_on_a_call() from None
        raise
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


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
