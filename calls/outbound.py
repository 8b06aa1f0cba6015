"""Placing outbound calls: the rules first, then the phone network.

No call is ever placed to a customer on the do-not-call list, at an indecent hour for them,
outside the agent's working hours, by an agent trained below 20 %, or past the client's
daily limit. A refusal says why and when a call would be allowed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Client
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, OutboundDayCount
from calls.telephony import gateway_for, uses_simulated_phone, webhook_url
from core.errors import CallNotAllowed, ValidationFailed
from customers.contactability import check_call_allowed, customer_zone, next_allowed_time
from customers.models import CustomerProfile
from integrations.twilio import CallRequest, TelephonyError

OUTBOUND_TYPES = (CallSession.CallType.OUTBOUND, CallSession.CallType.SCHEDULED, CallSession.CallType.FOLLOWUP)
SIMULATED_CALLER_ID = "+15005550006"  # Twilio's magic "valid" test number, for the built-in phone


class CallPlacementFailed(ValidationFailed):
    """The phone network refused the call; carries Twilio's error code."""

    code = "telephony_error"


def _day_start(client: Client, at: datetime) -> datetime:
    local = at.astimezone(ZoneInfo(client.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def reserve_outbound_call(*, client: Client, at: datetime) -> bool:
    """Take one of the client's outbound calls for ``at``'s day; False when the limit is reached.

    One statement: the row for (client, day) is created or incremented only while under the
    limit, so two dispatchers racing for the last call cannot both get it.
    """
    if client.daily_call_limit <= 0:
        return False
    table = OutboundDayCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client_id, day, placed) VALUES (%s, %s, 1) "  # noqa: S608 - our table name
            f"ON CONFLICT (client_id, day) DO UPDATE SET placed = {table}.placed + 1 "
            f"WHERE {table}.placed < %s RETURNING placed",
            [client.pk, _day_start(client, at).date(), client.daily_call_limit],
        )
        return cursor.fetchone() is not None


def refuse_for_daily_limit(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> None:
    client = agent.client
    tomorrow = _day_start(client, at) + timedelta(days=1)
    zone = customer_zone(customer) or ZoneInfo(client.timezone)
    raise CallNotAllowed(
        f"The daily limit of {client.daily_call_limit} outbound calls is reached.",
        next_allowed_at=next_allowed_time(agent=agent, zone=zone, at=tomorrow),
        code="daily_limit_reached",
    )


def call_place(
    *,
    agent: AIAgent,
    customer: CustomerProfile,
    call_type: str = CallSession.CallType.OUTBOUND,
    context: str = "",
    callback: ScheduledCallback | None = None,
    at: datetime | None = None,
) -> CallSession:
    """Check every rule, then ask the phone network to dial; the session is returned queued."""
    at = at or timezone.now()
    if call_type not in OUTBOUND_TYPES:
        raise ValidationFailed(f"call_type must be one of {', '.join(OUTBOUND_TYPES)}.")
    if customer.ai_agent_id != agent.pk:
        raise ValidationFailed("The customer belongs to another agent.")
    check_call_allowed(agent=agent, customer=customer, at=at)
    simulated = uses_simulated_phone(agent.client)
    if not agent.phone_number and not simulated:
        raise CallNotAllowed("The agent has no phone number to call from. Set one in the agent's settings.")
    with transaction.atomic():
        # The day's slot and the session commit together, before the dial (the session is the
        # record that stops a retried placement from dialling twice).
        if not reserve_outbound_call(client=agent.client, at=at):
            refuse_for_daily_limit(agent=agent, customer=customer, at=at)
        call = CallSession.objects.create(
            ai_agent=agent, customer_profile=customer, call_type=call_type, context=context[:2000],
            callback=callback, status=CallSession.Status.QUEUED, started_at=at,
        )  # fmt: skip
    request = CallRequest(
        to=customer.phone_number,
        from_=agent.phone_number or SIMULATED_CALLER_ID,
        url=webhook_url(agent, "answered"),
        status_callback=webhook_url(agent, "status"),
        amd_status_callback=webhook_url(agent, "amd"),
        recording_status_callback=webhook_url(agent, "recording"),
        fallback_url=webhook_url(agent, "fallback"),
    )
    try:
        placed = gateway_for(agent.client).place_call(request)
    except TelephonyError as exc:
        # The attempt is kept, complete, as a failed call: the client sees what happened and why.
        CallSession.objects.filter(pk=call.pk).update(
            status=CallSession.Status.FAILED,
            outcome=CallSession.Outcome.FAILED,
            ended_at=timezone.now(),
            conversation_notes=f"Twilio error {exc.code}: {exc.message}",
            updated_at=timezone.now(),
        )
        if exc.retryable:
            raise
        raise CallPlacementFailed(exc.user_message, details={"twilio_code": exc.code}) from exc
    call.twilio_call_sid = placed.sid
    call.save(update_fields=["twilio_call_sid", "updated_at"])
    return call
