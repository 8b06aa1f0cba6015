"""Pacing at dial time, for every outbound path (start-call, callbacks, follow-ups, campaigns).

Checked at the moment of dialling, never only when a call was queued:

- per-client concurrency: at most ``Client.max_concurrent_calls`` outbound calls live at once.
  The count is per client, so other clients' load never takes its slots. The client's row is
  locked inside the placement transaction, so racing placers of one client queue on it and
  each sees the sessions the others committed (the same transaction inserts the session);
- per contact: at most ``Client.contact_calls_per_week`` calls to one customer in any 7 days
  (whatever placed them; a session Twilio never took, failed without a SID, does not count),
  checked after the customer's row is locked by the one-live-call rule;
- calls per second per Twilio account (:func:`dial_slot_take`): one row per account holds its
  next free dial slot (a token bucket of one token, refilled at the account's rate); a placer
  takes the slot in its own short transaction right before the dial and sleeps until it comes.
  It is taken outside the placement transaction so that no placement ever holds the shared
  account row while it waits for another client's locks (no deadlock between clients).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from accounts.models import Client, DialPace
from agents.models import AIAgent
from calls.models import CallSession
from calls.telephony import uses_simulated_phone
from core.errors import CallNotAllowed
from customers.models import CustomerProfile
from integrations.twilio import TelephonyUnavailable

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
# A slot frees when a call ends: a placer refused for concurrency looks again this soon.
CONCURRENCY_RETRY = timedelta(seconds=30)
# A placer waits at most this long for its account's next dial slot (well inside the claim
# lease, so a waiting call is never taken for one whose worker died); beyond it, it retries later.
MAX_DIAL_WAIT = timedelta(seconds=10)
PLATFORM_ACCOUNT = "platform"
# Dials are spaced this much wider than the account's rate, so a placer that wakes a little late
# never bunches two dials into one second of the carrier's clock.
SPACING = 1.1
# A dial may start at most this long after its slot (see dial_slot_take), and a placer tries
# this many slots before it gives up for now.
LATE_TOLERANCE = timedelta(milliseconds=30)
LATE_RETRIES = 3
OUTBOUND_TYPES = (CallSession.CallType.OUTBOUND, CallSession.CallType.SCHEDULED, CallSession.CallType.FOLLOWUP)

sleep = time.sleep  # the bench and tests replace it


class DialRateExceeded(TelephonyUnavailable):
    """The Twilio account's calls-per-second limit has no slot soon enough: like Twilio's own 429."""


def live_outbound_calls(*, agents: Sequence[AIAgent]) -> dict:
    """Each agent's outbound calls being dialled or talking, by agent id (absent: none).

    Written to match the one-live-call partial index's condition, so PostgreSQL counts them
    from that small index (live outbound calls of the whole platform) rather than the agents' history.
    """
    rows = (
        CallSession.objects.filter(ai_agent__in=[a.pk for a in agents], status__in=CallSession.LIVE_STATUSES)
        .exclude(call_type=CallSession.CallType.INBOUND)
        .values("ai_agent")
        .annotate(n=Count("pk"))
    )
    return {row["ai_agent"]: row["n"] for row in rows}


def _calls_this_week(customers: Sequence[CustomerProfile], at: datetime) -> dict:
    rows = (
        CallSession.objects.filter(
            customer_profile__in=[c.pk for c in customers],
            started_at__gt=at - WEEK,
            call_type__in=OUTBOUND_TYPES,
            is_simulation=False,
        )
        .exclude(status=CallSession.Status.FAILED, twilio_call_sid__isnull=True)
        .values("customer_profile")
        .annotate(n=Count("pk"), first=Min("started_at"))
    )
    return {row["customer_profile"]: (row["n"], row["first"]) for row in rows}


def _contact_refusal(placed: int, first: datetime | None, limit: int) -> CallNotAllowed:
    return CallNotAllowed(
        f"This customer was called {placed} times in the last 7 days; the limit is {limit}.",
        next_allowed_at=first + WEEK if first else None,
        code="contact_week_limit",
    )


def _concurrency_refusal(limit: int, at: datetime) -> CallNotAllowed:
    return CallNotAllowed(
        f"{limit} calls are live, the most this account takes at once.",
        next_allowed_at=at + CONCURRENCY_RETRY,
        code="concurrency_limit",
    )


def pacing_admit_set(calls: Sequence, waiting: dict, refusals: list, *, at: datetime) -> None:
    """Which calls of a set the clients' pacing admits now (``calls.outbound.calls_check_dialable``).

    Inside the placement transaction, after the customers' rows are locked, before the sessions
    are inserted. ``waiting`` maps each client id to the indexes of its calls still to place; a
    call pacing refuses leaves it and gets its refusal in ``refusals``. Three statements for the
    whole set: the customers' calls this week, the clients' rows locked in id order (placers queue
    per client; rows that refer to a client are not blocked), their live outbound calls counted.
    """
    if not waiting:
        return
    client_ids = sorted(waiting)
    # The customers' rows are locked already, so their week can be read before the clients' rows
    # are: every statement between the clients' lock and the commit keeps other placers waiting.
    recent = _calls_this_week([calls[i].customer for client_id in client_ids for i in waiting[client_id]], at)
    clients = {
        client.pk: client
        for client in Client.objects.select_for_update(no_key=True)
        .filter(pk__in=client_ids)
        .order_by("pk")
        .only("max_concurrent_calls", "contact_calls_per_week")
    }
    agents = {client_id: calls[waiting[client_id][0]].agent for client_id in client_ids}
    live = live_outbound_calls(agents=list(agents.values()))
    for client_id in client_ids:
        client = clients[client_id]
        free = client.max_concurrent_calls - live.get(agents[client_id].pk, 0)
        for i in list(waiting[client_id]):
            placed, first = recent.get(calls[i].customer.pk, (0, None))
            if placed >= client.contact_calls_per_week:
                refusals[i] = _contact_refusal(placed, first, client.contact_calls_per_week)
            elif free <= 0:
                refusals[i] = _concurrency_refusal(client.max_concurrent_calls, at)
            else:
                free -= 1
                continue
            waiting[client_id].remove(i)
        if not waiting[client_id]:
            del waiting[client_id]


def _account(client: Client) -> tuple[str, int] | None:
    """The Twilio account that dials for this client and its dials per second; None: not paced."""
    if uses_simulated_phone(client) and not settings.PACE_SIMULATED_PHONE:
        return None
    if client.has_twilio_subaccount:
        return client.twilio_subaccount_sid, client.dial_rate_per_second
    return PLATFORM_ACCOUNT, settings.TWILIO_CALLS_PER_SECOND


def dial_slots_free(*, client: Client, now: datetime) -> int | None:
    """How many dials the client's Twilio account can start within :data:`MAX_DIAL_WAIT` (None: not paced).

    A read, for a dispatcher deciding how many calls to claim; the slots are taken at dial time.
    """
    account = _account(client)
    if account is None:
        return None
    key, rate = account
    next_slot = DialPace.objects.filter(account=key).values_list("next_slot_at", flat=True).first() or now
    room = (MAX_DIAL_WAIT - max(next_slot - now, timedelta(0))).total_seconds()
    return max(0, int(room * rate / SPACING))


def dial_account(client: Client) -> str | None:
    account = _account(client)
    return account[0] if account else None


def _slot_take(key: str, rate: int) -> datetime:
    now = timezone.now()
    DialPace.objects.get_or_create(account=key, defaults={"next_slot_at": now})
    with transaction.atomic():
        pace = DialPace.objects.select_for_update().get(account=key)
        slot = max(pace.next_slot_at, now)
        if slot - now > MAX_DIAL_WAIT:
            raise DialRateExceeded(
                f"The phone account's limit of {rate} calls per second is reached; trying again shortly.",
                status=429,
            )
        pace.next_slot_at = slot + timedelta(seconds=SPACING / rate)
        pace.save(update_fields=["next_slot_at"])
    return slot


def dial_slot_take(*, client: Client) -> None:
    """Wait for the client's Twilio account's next dial slot; raises DialRateExceeded when it is too far.

    Not inside the placement transaction (see the module docstring). A placer that wakes later
    than :data:`LATE_TOLERANCE` after its slot gives the slot up and takes the next free one:
    dialling late would bunch its dial with the ones booked right behind it. A slot given up,
    or taken by a placer that then dies, is simply unused: the account dials below its rate,
    never above it.
    """
    account = _account(client)
    if account is None:
        return
    key, rate = account
    for _ in range(LATE_RETRIES):
        slot = _slot_take(key, rate)
        wait = (slot - timezone.now()).total_seconds()
        if wait > 0:
            sleep(wait)
        if timezone.now() - slot <= LATE_TOLERANCE:
            return
        logger.info("Dial slot of %s missed by %s; taking the next one", key, timezone.now() - slot)
    raise DialRateExceeded("The phone account's dial slots keep passing before we can dial; trying again.", status=429)
