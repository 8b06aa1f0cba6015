"""Placing due callbacks and follow-ups: claim them, check the rules again at dial time, dial once.

The beat tick (:func:`callbacks_dispatch_due`, every 15 s) claims due callbacks and hands each
claim to ``callback_place_task``: placing waits on Twilio's network, so workers give the
parallelism. Without a queue the tick places each claimed set itself. Both dial through
``calls.outbound.calls_place`` (ADR 0014); the rules guarded here are in docs/rules.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import prefetch_related_objects
from django.utils import timezone

from callbacks.claims import (
    CLAIM_LEASE,
    DEFAULT_BATCH,
    callback_cancel_claimed,
    callback_claim_for_dial,
    callback_release,
    callback_settle_unplaced,
    callback_take_lease,
    callbacks_claim_due,
    callbacks_flag_overdue,
    callbacks_mark_exhausted,
    callbacks_reclaim_expired,
)
from callbacks.models import ScheduledCallback
from calls.day_counts import call_day_counts_sync
from calls.models import CallSession
from calls.outbound import CallPlacementFailed, CallToPlace, PlacementOutcome, call_place, calls_place
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from integrations.twilio import TelephonyError, TelephonyUnavailable

logger = logging.getLogger(__name__)

LIVE_STATUSES = CallSession.LIVE_STATUSES
# A queued session without Twilio's SID this old was left by a worker that died mid-dial.
ORPHAN_AFTER = CLAIM_LEASE
AGENT_UNAVAILABLE_RETRY = timedelta(hours=1)  # paused or untrained: look again in an hour
# The customer is on another call: look again on a later tick (not at once, or the same tick
# would claim the callback again).
ON_A_CALL_RETRY = timedelta(minutes=1)
# A claim this process made with more lease left than this cannot have been taken over.
LEASE_MARGIN = CLAIM_LEASE / 2
NO_TIME_RETRY = timedelta(days=1)  # unknown timezone, no allowed hour in sight, no caller ID
MAX_CLAIMS_PER_TICK = 1000  # bounds one beat tick; the rest waits 15 s for the next one
ORPHAN_NOTE = (
    "The worker stopped after creating this call and before recording Twilio's answer; the call "
    "may have rung. It is not redialled for this attempt, so the customer is never called twice."
)


class Result(StrEnum):
    PLACED = "placed"  # the phone network accepted the call
    WAITING = "waiting"  # a call for this attempt is already live; nothing dialled
    RESCHEDULED = "rescheduled"  # the rules said not now: back to scheduled, attempt not spent
    RETRY_LATER = "retry_later"  # an attempt was spent without a call; scheduled again
    CANCELED = "canceled"  # do-not-call
    MISSED = "missed"  # no attempts left
    SKIPPED = "skipped"  # not ours (any more): someone else holds or settled it


@dataclass(frozen=True)
class Placement:
    callback_id: object
    result: Result
    call_id: object = None
    detail: str = ""

    def as_dict(self) -> dict:
        return {
            "callback_id": str(self.callback_id),
            "result": str(self.result),
            "call_id": str(self.call_id) if self.call_id else None,
            "detail": self.detail,
        }


class PlacementRetry(Exception):
    """Twilio answered "try later" (429/5xx): nothing was dialled and the same claim may retry.

    Carries the claim's current token (``lease``) for the retry; the task retries with backoff.
    """

    def __init__(self, *, callback_id, lease: datetime, cause: TelephonyUnavailable):
        super().__init__(str(cause))
        self.callback_id = callback_id
        self.lease = lease
        self.cause = cause


def _context(callback: ScheduledCallback, note: str = "") -> str:
    """Why the call is placed, for the agent: the callback's reason and the call it was booked on."""
    label = "Follow-up" if callback.kind == ScheduledCallback.Kind.FOLLOWUP else "Scheduled callback"
    reason = callback.reason.strip()
    parts = [reason if reason.lower().startswith(label.lower()) else (f"{label}: {reason}" if reason else label)]
    earlier = callback.source_call if callback.source_call_id else None
    # A follow-up's reason already names the unanswered call it follows.
    if earlier is not None and callback.kind != ScheduledCallback.Kind.FOLLOWUP:
        said = earlier.customer_response.strip()
        outcome = earlier.get_outcome_display().lower() or "no outcome"
        parts.append(
            f"Booked on the call of {earlier.started_at:%b %d} ({outcome})"
            + (f"; the customer said: {said[:300]}" if said else "")
            + "."
        )
    if note.strip():
        parts.append(note.strip())
    sentences = [p if p.endswith((".", "!", "?")) else p + "." for p in parts[:-1]]
    return " ".join([*sentences, parts[-1]])[:2000]


def _call_type(callback: ScheduledCallback) -> str:
    if callback.kind == ScheduledCallback.Kind.FOLLOWUP:
        return CallSession.CallType.FOLLOWUP
    return CallSession.CallType.SCHEDULED


def _retry_at(callback: ScheduledCallback, now: datetime) -> datetime:
    """When a spent attempt is tried again: the agent's follow-up delay, as after an unanswered call."""
    return now + timedelta(minutes=callback.ai_agent.followup_delay_minutes)


def _settled(callback: ScheduledCallback, *, now: datetime, reason: str, give_up: bool = False) -> Placement:
    status = callback_settle_unplaced(
        callback=callback, retry_at=_retry_at(callback, now), reason=reason, give_up=give_up, now=now
    )
    if not status:
        return Placement(callback.pk, Result.SKIPPED, detail="the claim was taken over")
    result = Result.MISSED if status == ScheduledCallback.Status.MISSED else Result.RETRY_LATER
    return Placement(callback.pk, result, detail=reason)


def _released(callback: ScheduledCallback, *, at: datetime, reason: str, now: datetime) -> Placement:
    if not callback_release(callback=callback, at=at, reason=reason, now=now):
        return Placement(callback.pk, Result.SKIPPED, detail="the claim was taken over")
    return Placement(callback.pk, Result.RESCHEDULED, detail=f"{reason} Moved to {at.isoformat()}.")


def _refused(callback: ScheduledCallback, refused: CallNotAllowed, now: datetime) -> Placement:
    """The calling rules said no at dial time: cancel, or move to when they will say yes.

    They may have changed since the booking. Do-not-call cancels; a paused or untrained agent is
    looked at again in an hour, a customer on another call a minute later; the attempt is unspent.
    """
    if refused.code == "do_not_call":
        if not callback_cancel_claimed(callback=callback, reason=refused.message, now=now):
            return Placement(callback.pk, Result.SKIPPED, detail="the claim was taken over")
        return Placement(callback.pk, Result.CANCELED, detail=refused.message)
    if refused.code in ("agent_paused", "agent_not_trained"):
        return _released(callback, at=now + AGENT_UNAVAILABLE_RETRY, reason=refused.message, now=now)
    if refused.code == "customer_on_call":
        return _released(callback, at=now + ON_A_CALL_RETRY, reason=refused.message, now=now)
    # Outside the calling hours or past the daily limit: the rule says when it allows a call.
    at = refused.next_allowed_at
    if at is None or at <= now:
        at = now + NO_TIME_RETRY  # unknown timezone, no allowed hour within 9 days, no caller ID
    return _released(callback, at=at, reason=refused.message, now=now)


def _live_session(callback: ScheduledCallback) -> CallSession | None:
    return CallSession.objects.filter(callback=callback, status__in=LIVE_STATUSES).order_by("-created_at").first()


def close_orphan(call: CallSession, now: datetime) -> None:
    CallSession.objects.filter(pk=call.pk, status=CallSession.Status.QUEUED, twilio_call_sid__isnull=True).update(
        status=CallSession.Status.FAILED,
        outcome=CallSession.Outcome.FAILED,
        ended_at=max(now, call.started_at),
        conversation_notes=ORPHAN_NOTE,
        updated_at=now,
    )
    call_day_counts_sync(agent=call.ai_agent, call_ids=[call.pk])


def callback_place(*, callback_id, lease: datetime, final_try: bool = True) -> Placement:
    """Dial one claimed callback, at most once per attempt (docs/rules.md, "Placing a call").

    ``lease`` is the claim's token (its ``lease_expires_at`` when it was claimed). The token is
    swapped for a fresh lease first, so a second delivery of the same task does nothing. Raises
    :class:`PlacementRetry` when Twilio asks to try again later and ``final_try`` is false;
    on the final try that attempt is spent instead (tried again after the follow-up delay).
    Must not run inside a transaction: the call session has to be committed before the dial.
    """
    callback = callback_take_lease(callback_id=callback_id, lease=lease)
    if callback is None:
        return Placement(callback_id, Result.SKIPPED, detail="not claimed by this token")
    return _place_held([callback], _live_sessions([callback]), final_try=final_try)[0]


def _live_sessions(callbacks: list[ScheduledCallback]) -> dict:
    live: dict = {}
    for call in CallSession.objects.filter(callback__in=callbacks, status__in=LIVE_STATUSES).order_by("created_at"):
        live[call.callback_id] = call  # the newest wins
    return live


def callbacks_place_claimed(claimed: list[ScheduledCallback], *, fresh: bool = False) -> list[Placement]:
    """Dial callbacks this process has just claimed (the command's and the tests' form of the task).

    The same placement as the task's, for the whole claimed set at once (a few statements for
    the set, not per call). The claim was made moments ago by this very process, so there is no
    second delivery to fence off: while a claim has more than :data:`LEASE_MARGIN` left, nobody
    else can take it (a takeover needs the lease to have run out) and the token is used as it
    is, saving the swap. Past that margin (a very slow set) each callback is taken as a task
    would take it. ``fresh``: claimed from ``scheduled`` (not taken over), so no call of their
    own can be live (a placed callback stays in progress until its call ends) and that read is
    saved; the one-live-call rule would refuse such a call anyway.
    """
    now = timezone.now()
    held = [callback for callback in claimed if now < callback.lease_expires_at - LEASE_MARGIN]
    live = {} if fresh or not held else _live_sessions(held)
    placements = {p.callback_id: p for p in _place_held(held, live)} if held else {}
    out = []
    for callback in claimed:
        if callback.pk not in placements:  # near the end of its lease: taken as a task takes it
            placements[callback.pk] = callback_place(callback_id=callback.pk, lease=callback.lease_expires_at)
        out.append(placements[callback.pk])
    return out


def _before_dial(callback: ScheduledCallback, *, live: CallSession | None, now: datetime) -> Placement | None:
    """What becomes of a held callback without dialling (a live call, the follow-up limit), or None: dial it.

    The session committed before the dial is the attempt's idempotency record: a taken-over
    claim whose session is live is not dialled again. One that never got Twilio's SID may have
    rung the customer, so it is closed as failed and the attempt spent, rather than risk a
    second call now.
    """
    if live is not None:
        if live.twilio_call_sid or now - live.created_at < ORPHAN_AFTER:
            # Dialled (or being dialled) already: lifecycle settles the callback when the call ends.
            return Placement(callback.pk, Result.WAITING, call_id=live.pk, detail="a call for this attempt is live")
        close_orphan(live, now)
        logger.warning("Callback %s: call %s was left half-placed; not redialled", callback.pk, live.pk)
        return _settled(callback, now=now, reason="The last dial was interrupted; it will be tried again later.")
    agent = callback.ai_agent
    if callback.kind == ScheduledCallback.Kind.FOLLOWUP and callback.attempts > agent.followup_max_attempts:
        return _settled(
            callback, now=now, give_up=True,
            reason=f"The agent's follow-up limit of {agent.followup_max_attempts} attempts is reached.",
        )  # fmt: skip
    return None


def callback_call(callback: ScheduledCallback, *, note: str = "") -> CallToPlace:
    """The call a callback places, the same whether the dispatcher or a person dials it.

    ``note``: what the person who pressed "call" added, after the callback's own reason.
    """
    return CallToPlace(
        agent=callback.ai_agent, customer=callback.customer_profile, call_type=_call_type(callback),
        context=_context(callback, note), callback=callback,
    )  # fmt: skip


def callback_place_now(*, callback: ScheduledCallback, note: str = "") -> CallSession:
    """Dial a scheduled callback by hand: claimed like the dispatcher does, given back if refused.

    Raises Conflict when a call for it is already live, and the placement's refusals
    (CallNotAllowed, with the callback cancelled for do-not-call and otherwise left booked
    with its attempt unspent).
    """
    if _live_session(callback) is not None:
        raise Conflict("A call for this callback is already in progress.")
    callback = callback_claim_for_dial(callback=callback)
    try:
        call = callback_call(callback, note=note)
        return call_place(
            agent=call.agent, customer=call.customer, call_type=call.call_type, context=call.context, callback=callback
        )
    except CallNotAllowed as refused:
        if refused.code == "do_not_call":
            callback_cancel_claimed(callback=callback, reason=refused.message)
        else:
            # Refused for now (hours, daily limit, on another call): it stays booked, the attempt unspent.
            callback_release(callback=callback, at=callback.scheduled_datetime, reason=refused.message)
        raise
    except (TelephonyError, CallPlacementFailed) as failed:
        cause = failed if isinstance(failed, TelephonyError) else failed.__cause__
        reason = cause.user_message if isinstance(cause, TelephonyError) else failed.message
        if isinstance(cause, TelephonyError) and cause.may_have_acted:
            # Twilio may have rung the customer: the attempt is spent and the callback waits,
            # as after an unanswered call, rather than risk a second ring now.
            retry_at = timezone.now() + timedelta(minutes=callback.ai_agent.followup_delay_minutes)
            callback_settle_unplaced(callback=callback, retry_at=retry_at, reason=reason)
        else:
            # Twilio placed nothing: the callback stays booked as it was, its attempt unspent.
            callback_release(callback=callback, at=callback.scheduled_datetime, reason=reason)
        raise


def _after_dial(
    callback: ScheduledCallback, outcome: PlacementOutcome, *, now: datetime, final_try: bool = True
) -> Placement:
    """Settle a held callback by what placing its call gave: the session, or the refusal."""
    if isinstance(outcome, CallSession):
        return Placement(callback.pk, Result.PLACED, call_id=outcome.pk)
    if isinstance(outcome, CallNotAllowed):
        return _refused(callback, outcome, now)
    if isinstance(outcome, TelephonyUnavailable):
        if outcome.status and not final_try:
            # Twilio answered (429/5xx), so it created no call: the same claim may try again.
            raise PlacementRetry(callback_id=callback.pk, lease=callback.lease_expires_at, cause=outcome) from outcome
        # No answer at all (a timeout may have dialled), or out of retries: spend the attempt.
        return _settled(callback, now=now, reason=outcome.user_message)
    if isinstance(outcome, ValidationFailed):  # CallPlacementFailed: Twilio refused this call for good
        return _settled(callback, now=now, reason=outcome.message)
    raise outcome


def _place_held(held: list[ScheduledCallback], live: dict, *, final_try: bool = True) -> list[Placement]:
    """Dial callbacks whose leases this caller holds (each ``lease_expires_at`` is its token), one
    placement for the set (``calls.outbound.calls_place``), and settle each by its outcome."""
    now = timezone.now()
    placements: dict = {}
    to_dial: list[ScheduledCallback] = []
    for callback in held:
        skipped = _before_dial(callback, live=live.get(callback.pk), now=now)
        if skipped is None:
            to_dial.append(callback)
        else:
            placements[callback.pk] = skipped
    prefetch_related_objects([c for c in to_dial if c.source_call_id], "source_call")  # for their context
    outcomes = calls_place([callback_call(callback) for callback in to_dial]) if to_dial else []
    for callback, outcome in zip(to_dial, outcomes, strict=True):
        placements[callback.pk] = _after_dial(callback, outcome, now=now, final_try=final_try)
    return [placements[callback.pk] for callback in held]


@dataclass
class TickReport:
    """What one dispatcher tick did, for the task's result and the logs."""

    overdue_flagged: int = 0
    exhausted: int = 0
    reclaimed: int = 0
    claimed: int = 0
    placements: list[Placement] = field(default_factory=list)

    def as_dict(self) -> dict:
        counts: dict[str, int] = {}
        for placement in self.placements:
            counts[str(placement.result)] = counts.get(str(placement.result), 0) + 1
        return {
            "overdue_flagged": self.overdue_flagged,
            "exhausted": self.exhausted,
            "reclaimed": self.reclaimed,
            "claimed": self.claimed,
            "results": counts,
        }


def _housekeeping(report: TickReport, now: datetime) -> None:
    report.overdue_flagged = callbacks_flag_overdue(now=now)
    report.exhausted = callbacks_mark_exhausted(now=now)


def callbacks_dispatch_due(
    *,
    enqueue: Callable[[ScheduledCallback], None] | None = None,
    batch: int = DEFAULT_BATCH,
    max_claims: int | None = MAX_CLAIMS_PER_TICK,
    now: datetime | None = None,
) -> TickReport:
    """One beat tick: housekeeping, then claim and hand every claim to ``enqueue``.

    ``enqueue(callback)`` must arrange ``callback_place(callback_id=callback.pk,
    lease=callback.lease_expires_at)`` (the task does it after commit); a claim whose message is
    lost is not lost: its lease runs out and a later tick takes it over. Without ``enqueue``,
    each claimed set is placed here at once (:func:`callbacks_place_claimed`) and the placements
    go into the report. ``max_claims=None``: until no due callback is left (as of ``now``, so a
    callback moved to later is not claimed again).
    """
    now = now or timezone.now()
    report = TickReport()
    _housekeeping(report, now)
    for claim in (callbacks_reclaim_expired, callbacks_claim_due):
        while max_claims is None or report.reclaimed + report.claimed < max_claims:
            limit = batch if max_claims is None else min(batch, max_claims - report.reclaimed - report.claimed)
            taken = claim(limit=limit, now=now)
            if claim is callbacks_reclaim_expired:
                report.reclaimed += len(taken)
            else:
                report.claimed += len(taken)
            if enqueue is None:
                report.placements += callbacks_place_claimed(taken, fresh=claim is callbacks_claim_due)
            else:
                for callback in taken:
                    enqueue(callback)
            if len(taken) < limit:
                break
    return report
