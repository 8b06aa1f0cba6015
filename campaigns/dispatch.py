"""Working through a campaign's leads: claim an attempt, place it on the one placement path, settle it.

Rules this module protects:

- One dial per attempt, none lost. A tick claims the best-scored leads that may be called now
  with one conditional UPDATE (``state=pending`` -> ``in_progress``, ``attempts + 1``, a fresh
  ``claim_token``; rows locked with SKIP LOCKED on PostgreSQL), so two dispatchers never claim
  one lead. The placer ties the call to the lead (``current_call``) inside the transaction that
  records the call, before the dial, and only while the claim is its own and the campaign is
  running; otherwise that transaction rolls back and nothing is dialled. A claim whose placer died
  before that point holds no call and goes back to pending with its attempt unspent; one whose
  call was recorded but never got Twilio's SID is closed like an unanswered call (it may have
  rung), never redialled for the same attempt.
- A paused (or cancelled) campaign places nothing: the tie-in locks the campaign's row and
  checks its status, and pausing takes the same lock.
- The calling rules are checked again at dial time by the placement path (do-not-call, the
  customer's hours, the client's limits and pacing, one live call per customer); a refusal
  skips the lead (do-not-call, unknown timezone) or puts it back with its attempt unspent.
- A call's end settles its lead (:func:`campaign_call_ended`, run by ``calls.lifecycle`` in
  the transaction that closes the call): done with the outcome, or retried after the spacing
  when the outcome is one the campaign retries and attempts remain, else skipped (attempts used up).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from calls.dispatch import ORPHAN_AFTER, close_orphan
from calls.models import CallSession
from calls.outbound import CallPlacementFailed, call_place
from calls.pacing import DialRateExceeded, dial_account, dial_slots_free, live_outbound_calls
from campaigns.models import Campaign, CampaignLead
from campaigns.scoring import call_history, lead_score
from campaigns.services import campaign_complete
from core.errors import CallNotAllowed
from integrations.twilio import TelephonyError

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
RULE_RETRY = timedelta(minutes=5)  # refused without a time the rule allows a call again
AGENT_UNAVAILABLE_RETRY = timedelta(hours=1)
ON_A_CALL_RETRY = timedelta(minutes=1)
RATE_RETRY = timedelta(seconds=5)  # the Twilio account had no dial slot soon enough
CLAIMS_PER_TICK = 200
L = CampaignLead.State
SKIP_FOR = {
    "do_not_call": CampaignLead.SkipReason.DO_NOT_CALL,
    "timezone_unknown": CampaignLead.SkipReason.TIMEZONE_UNKNOWN,
    "no_number": CampaignLead.SkipReason.NO_NUMBER,
    "simulated": CampaignLead.SkipReason.NO_NUMBER,
}


class CampaignStopped(Exception):
    """The campaign is not running (paused, cancelled, waiting for approval): nothing is dialled."""


class ClaimLost(Exception):
    """This placer's claim on the lead is gone (recovered, or already tied to a call)."""


# --- the calling window ------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def window_open(campaign: Campaign, zone: ZoneInfo, at: datetime) -> bool:
    """Inside the campaign's days, hours and dates, read in the lead's own zone."""
    local = at.astimezone(zone)
    if local.weekday() not in campaign.days_of_week:
        return False
    if campaign.starts_on and local.date() < campaign.starts_on:
        return False
    if campaign.ends_on and local.date() > campaign.ends_on:
        return False
    return campaign.window_start <= local.time() < campaign.window_end


def open_zones(campaign: Campaign, at: datetime) -> list[str]:
    return [name for name in campaign.lead_zones if (zone := _zone(name)) and window_open(campaign, zone, at)]


def lead_wait_reason(campaign: Campaign, lead: CampaignLead, at: datetime) -> str:
    """Why a pending lead is not called right now, in words for the client ("" when it may be)."""
    if lead.state != L.PENDING:
        return ""
    if lead.approval == CampaignLead.Approval.PENDING:
        return "Waiting for an operator's approval."
    zone = _zone(lead.timezone)
    if zone is not None and not window_open(campaign, zone, at):
        local = at.astimezone(zone)
        return f"Outside the campaign's calling window: it is {local:%a %H:%M} for this lead ({zone.key})."
    if lead.next_attempt_at > at:
        return f"Next attempt at {lead.next_attempt_at:%Y-%m-%d %H:%M} UTC."
    return ""


# --- claiming ----------------------------------------------------------------------------------


def campaign_free_slots(campaign: Campaign) -> int:
    """How many more calls this campaign may start now: its own pacing and the client's free lines."""
    agent = campaign.ai_agent
    in_progress = CampaignLead.objects.filter(campaign=campaign, state=L.IN_PROGRESS).count()
    client_free = agent.client.max_concurrent_calls - live_outbound_calls(agents=[agent]).get(agent.pk, 0)
    return max(0, min(campaign.max_concurrent - in_progress, client_free))


def campaign_claim(*, campaign: Campaign, limit: int, now: datetime | None = None) -> list[CampaignLead]:
    """Claim up to ``limit`` attempts: the best-scored pending leads that may be called now."""
    now = now or timezone.now()
    zones = open_zones(campaign, now)
    if limit <= 0 or not zones:
        return []
    ready = CampaignLead.objects.filter(
        campaign=campaign, state=L.PENDING, next_attempt_at__lte=now, timezone__in=zones
    )
    if campaign.approval_mode == Campaign.ApprovalMode.PER_CALL:
        ready = ready.filter(approval=CampaignLead.Approval.APPROVED)
    token = uuid.uuid4()
    with transaction.atomic():
        queue = ready.select_for_update(skip_locked=True).order_by("-score", "id")
        ids = list(queue.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        CampaignLead.objects.filter(pk__in=ids, state=L.PENDING).update(
            state=L.IN_PROGRESS, attempts=F("attempts") + 1, claim_token=token, claimed_until=now + LEASE,
            current_call=None, note="", updated_at=now,
        )  # fmt: skip
    return list(
        CampaignLead.objects.filter(claim_token=token, state=L.IN_PROGRESS).select_related(
            "customer", "campaign__ai_agent__client"
        )
    )


# --- placing one claimed attempt -----------------------------------------------------------------


def _context(campaign: Campaign, attempt: int) -> str:
    goal = campaign.goal.strip()
    text = f"Campaign '{campaign.name}', attempt {attempt}." + (f" Goal: {goal}" if goal else "")
    return text[:2000]


def _bind(call: CallSession, *, lead_id: int, token: uuid.UUID, campaign_id) -> None:
    """Inside the transaction that records the call: tie it to the lead, or raise to dial nothing."""
    campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign_id)
    if campaign.status != Campaign.Status.RUNNING or campaign.waits_for_approval:
        raise CampaignStopped(f"campaign {campaign_id} is {campaign.status}")
    tied = CampaignLead.objects.filter(
        pk=lead_id, claim_token=token, state=L.IN_PROGRESS, current_call__isnull=True
    ).update(current_call=call, last_call_at=call.started_at, updated_at=timezone.now())
    if tied != 1:
        raise ClaimLost(f"lead {lead_id} is no longer claimed by {token}")


def _release(lead: CampaignLead, token, *, at: datetime, note: str, now: datetime) -> bool:
    """Back to pending with the attempt unspent (nothing was dialled for it)."""
    mine = CampaignLead.objects.filter(pk=lead.pk, claim_token=token, state=L.IN_PROGRESS, current_call__isnull=True)
    released = mine.update(
        state=L.PENDING, attempts=F("attempts") - 1, claim_token=None, claimed_until=None,
        next_attempt_at=max(at, now), note=note[:300], updated_at=now,
    )  # fmt: skip
    return bool(released)


def _skip(lead: CampaignLead, token, *, reason: str, note: str, now: datetime) -> bool:
    skipped = CampaignLead.objects.filter(pk=lead.pk, claim_token=token, state=L.IN_PROGRESS).update(
        state=L.SKIPPED, skip_reason=reason, attempts=F("attempts") - 1, claim_token=None, claimed_until=None,
        note=note[:300], updated_at=now,
    )  # fmt: skip
    return bool(skipped)


def _refused(lead: CampaignLead, token, refused: CallNotAllowed, now: datetime) -> str:
    if refused.code in SKIP_FOR:
        _skip(lead, token, reason=SKIP_FOR[refused.code], note=refused.message, now=now)
        return "skipped"
    if refused.code in ("agent_paused", "agent_not_trained"):
        at = now + AGENT_UNAVAILABLE_RETRY
    elif refused.code == "customer_on_call":
        at = now + ON_A_CALL_RETRY
    elif refused.code == "concurrency_limit":
        at = now  # claimed past the free lines (racing ticks): the next tick takes only what is free
    else:  # hours, daily limit, concurrency, calls per contact per week: the rule says when
        at = refused.next_allowed_at if refused.next_allowed_at and refused.next_allowed_at > now else now + RULE_RETRY
    _release(lead, token, at=at, note=refused.message, now=now)
    return "held"


def lead_place(*, lead_id: int, token) -> str:
    """Place one claimed attempt (at most one dial; module docstring). Must not run inside a transaction.

    Returns what became of it: placed, held (refused for now, attempt unspent), skipped, stopped
    (campaign not running), failed (the phone network refused), or stale (not this claim any more).
    """
    now = timezone.now()
    lead = (
        CampaignLead.objects.select_related("customer", "campaign__ai_agent__client")
        .filter(pk=lead_id, claim_token=token, state=L.IN_PROGRESS, current_call__isnull=True)
        .first()
    )
    if lead is None:
        return "stale"
    campaign, customer = lead.campaign, lead.customer
    if customer.is_converted:
        _skip(lead, token, reason=CampaignLead.SkipReason.CONVERTED, note="The customer has converted.", now=now)
        return "skipped"
    try:
        call = call_place(
            agent=campaign.ai_agent, customer=customer, call_type=CallSession.CallType.OUTBOUND,
            context=_context(campaign, lead.attempts), at=now,
            on_recorded=partial(_bind, lead_id=lead.pk, token=token, campaign_id=campaign.pk),
        )  # fmt: skip
    except CampaignStopped:
        _release(lead, token, at=now, note="The campaign is not running.", now=now)
        return "stopped"
    except ClaimLost:
        return "stale"
    except CallNotAllowed as refused:
        return _refused(lead, token, refused, now)
    except (TelephonyError, CallPlacementFailed) as failed:
        # The session is closed as failed by the placement; settle the lead by that call.
        logger.warning("Campaign %s lead %s: the dial failed: %r", campaign.pk, lead.pk, failed)
        cause = failed if isinstance(failed, TelephonyError) else failed.__cause__
        with transaction.atomic():
            locked = CampaignLead.objects.select_for_update().filter(pk=lead.pk, claim_token=token).first()
            if locked is not None and locked.current_call_id:
                call = CallSession.objects.get(pk=locked.current_call_id)
                if isinstance(failed, CallPlacementFailed):
                    # Twilio refused this number for good: no point in retrying it.
                    CampaignLead.objects.filter(pk=lead.pk).update(
                        state=L.DONE, outcome=CallSession.Outcome.FAILED, claim_token=None, claimed_until=None,
                        note=failed.message[:300], updated_at=now,
                    )  # fmt: skip
                elif isinstance(cause, TelephonyError) and not cause.may_have_acted and cause.retryable:
                    retry = RATE_RETRY if isinstance(cause, DialRateExceeded) else ON_A_CALL_RETRY
                    # Nothing rang (Twilio's or our own "too many calls per second"): attempt unspent.
                    CampaignLead.objects.filter(pk=lead.pk).update(
                        state=L.PENDING, attempts=F("attempts") - 1, claim_token=None, claimed_until=None,
                        current_call=None, next_attempt_at=now + retry, note=str(cause)[:300], updated_at=now,
                    )  # fmt: skip
                else:
                    _settle(locked, call, now)
        return "failed"
    logger.info("Campaign %s lead %s: attempt %s placed as call %s", campaign.pk, lead.pk, lead.attempts, call.pk)
    return "placed"


# --- settling by the call's end ------------------------------------------------------------------


def _unanswered_kind(call: CallSession) -> str | None:
    if call.outcome == CallSession.Outcome.VOICEMAIL:
        return "voicemail"
    if call.status == CallSession.Status.BUSY:
        return "busy"
    if call.status in (CallSession.Status.NO_ANSWER, CallSession.Status.FAILED, CallSession.Status.CANCELED):
        return "no_answer"
    if call.outcome in (CallSession.Outcome.NO_ANSWER, CallSession.Outcome.FAILED):
        return "no_answer"
    return None


def _settle(lead: CampaignLead, call: CallSession, now: datetime) -> None:
    """The lead's attempt ended with ``call`` (its row locked by the caller): done, retried or skipped."""
    campaign = lead.campaign
    kind = _unanswered_kind(call)
    lead.claim_token = None
    lead.claimed_until = None
    lead.outcome = kind or call.outcome or CallSession.Outcome.ANSWERED
    if kind is None:
        lead.state, lead.note = L.DONE, ""
    elif kind not in campaign.retry_on:
        lead.state, lead.note = L.DONE, f"{kind.replace('_', ' ')}: not retried by this campaign"
    elif lead.attempts >= campaign.max_attempts:
        lead.state, lead.skip_reason = L.SKIPPED, CampaignLead.SkipReason.ATTEMPTS_USED_UP
        lead.note = f"{lead.attempts} attempts used; the last was {kind.replace('_', ' ')}."
    else:
        lead.state = L.PENDING
        lead.next_attempt_at = now + timedelta(minutes=campaign.retry_spacing_minutes)
        lead.note = f"{kind.replace('_', ' ')}; tried again after {campaign.retry_spacing_minutes} minutes."
        lead.score, lead.score_parts = lead_score(
            agent=campaign.ai_agent, customer=lead.customer,
            outcomes=call_history([lead.customer]).get(lead.customer_id, []), attempts=lead.attempts, now=now,
        )  # fmt: skip
    lead.save()


def campaign_call_ended(call: CallSession) -> bool:
    """``calls.lifecycle`` listener: settle the lead whose attempt this call was; True when there is one.

    Inside the transaction that closes the call, so the lead and the call never disagree.
    """
    lead = (
        CampaignLead.objects.select_for_update(of=("self",))
        .select_related("campaign__ai_agent", "customer")
        .filter(current_call_id=call.pk, state=L.IN_PROGRESS)
        .first()
    )
    if lead is None:
        return False
    _settle(lead, call, timezone.now())
    return True


# --- recovery and the tick ---------------------------------------------------------------------


def campaign_recover(*, campaign: Campaign, now: datetime) -> int:
    """Attempts left behind by a placer that died, or whose call closed without the listener; how many."""
    fixed = 0
    stuck = (
        CampaignLead.objects.filter(campaign=campaign, state=L.IN_PROGRESS)
        .select_related("current_call", "customer", "campaign__ai_agent")
        .filter(claimed_until__lt=now)
    )
    for lead in stuck:
        call = lead.current_call
        if call is None:
            fixed += _release(lead, lead.claim_token, at=now, note="The placer stopped before dialling.", now=now)
            continue
        orphan = call.status in CallSession.LIVE_STATUSES and not call.twilio_call_sid
        if orphan and now - call.created_at > ORPHAN_AFTER:
            close_orphan(call, now)  # may have rung: the attempt is spent, never redialled now
            call.refresh_from_db()
        if call.is_final:
            with transaction.atomic():
                locked = (
                    CampaignLead.objects.select_for_update(of=("self",))
                    .select_related("campaign__ai_agent", "customer")
                    .filter(pk=lead.pk, state=L.IN_PROGRESS, current_call=call)
                    .first()
                )
                if locked is not None:
                    _settle(locked, call, now)
                    fixed += 1
    return fixed


def _finished(campaign: Campaign, now: datetime) -> bool:
    """Nothing pending or in progress, read in one statement (one snapshot: a lead moving between
    the two states while it runs is seen in one of them). Each probe reads an index, however long
    the list: an unordered "any pending lead?" is planned as a scan of the table, the queue's
    order is its index."""
    table = CampaignLead._meta.db_table
    key = Campaign._meta.pk.get_db_prep_value(campaign.pk, connection)  # a UUID is text on SQLite
    in_progress = f"SELECT 1 FROM {table} WHERE campaign_id = %s AND state = 'in_progress'"  # noqa: S608
    pending = (
        f"SELECT 1 FROM (SELECT id FROM {table} WHERE campaign_id = %s AND state = 'pending' "  # noqa: S608
        "ORDER BY score DESC, id LIMIT 1) AS queue"
    )
    if campaign.ends_on and now.astimezone(ZoneInfo(campaign.ai_agent.client.timezone)).date() > campaign.ends_on:
        sql, params = f"SELECT EXISTS ({in_progress})", [key]
    else:
        sql, params = f"SELECT EXISTS ({in_progress}) OR EXISTS ({pending})", [key, key]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (still_open,) = cursor.fetchone()
    return not still_open


@dataclass
class TickReport:
    recovered: int = 0
    claimed: int = 0
    completed: int = 0
    results: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"recovered": self.recovered, "claimed": self.claimed, "completed": self.completed, **self.results}


def running_campaigns():
    return Campaign.objects.filter(status=Campaign.Status.RUNNING).select_related("ai_agent__client")


def campaigns_dispatch(
    *, enqueue: Callable[[CampaignLead], None], now: datetime | None = None, per_campaign: int = CLAIMS_PER_TICK
) -> TickReport:
    """One beat tick: recover, complete the finished, claim what may be called now, hand each claim to ``enqueue``."""
    now = now or timezone.now()
    report = TickReport()
    claimed_per_account: Counter = Counter()  # campaigns of clients sharing a Twilio account share its rate
    for campaign in running_campaigns():
        report.recovered += campaign_recover(campaign=campaign, now=now)
        if _finished(campaign, now):
            report.completed += campaign_complete(campaign=campaign, now=now)
            continue
        if campaign.waits_for_approval:
            continue
        limit = min(per_campaign, campaign_free_slots(campaign))
        client = campaign.ai_agent.client
        dials = dial_slots_free(client=client, now=now)
        if dials is not None:
            limit = min(limit, dials - claimed_per_account[dial_account(client)])
        claimed = campaign_claim(campaign=campaign, limit=limit, now=now)
        if dials is not None:
            claimed_per_account[dial_account(client)] += len(claimed)
        report.claimed += len(claimed)
        for lead in claimed:
            enqueue(lead)
    return report


def campaigns_dispatch_inline(*, now: datetime | None = None, per_campaign: int = CLAIMS_PER_TICK) -> TickReport:
    """The tick in one process: each claim placed at once (the ``dispatch_campaigns`` path of tests and the bench)."""
    report_holder: list[CampaignLead] = []
    report = campaigns_dispatch(enqueue=report_holder.append, now=now, per_campaign=per_campaign)
    for lead in report_holder:
        result = lead_place(lead_id=lead.pk, token=lead.claim_token)
        report.results[result] = report.results.get(result, 0) + 1
    return report
