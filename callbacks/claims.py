"""Claiming callbacks for a dial: who may dial which callback, and for how long.

Two workers never take the same callback, and a dead worker's claim is taken over: a claim is
a lease (``in_progress`` until ``lease_expires_at``) whose end doubles as its fencing token
(:func:`lease_until`), so a worker whose claim was taken over, or a task delivered twice, writes
nothing. Attempts: a claim counts one, a reclaim reuses it, a refusal gives it back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from callbacks.models import ScheduledCallback
from core.errors import CallNotAllowed, Conflict

Status = ScheduledCallback.Status

# Longer than placing a call takes (Twilio answers in seconds; its client times out at 10 s),
# short enough that a dead worker's callback is dialled a few minutes late, not an hour.
CLAIM_LEASE = timedelta(minutes=5)
# A scheduled callback this far past its time is flagged for the dashboard.
OVERDUE_AFTER = timedelta(minutes=10)
DEFAULT_BATCH = 50
PRIORITIES = range(1, 6)  # the model's check constraint: 1 (most urgent) .. 5
_RELATED = ("customer_profile", "ai_agent__client")


def lease_until(now: datetime, lease: timedelta = CLAIM_LEASE) -> datetime:
    """A lease end nobody else holds (plus a random number of microseconds): the claim's fencing token.

    Every later write by the dispatcher (take, release, settle, cancel) is an
    ``UPDATE ... WHERE lease_expires_at = <token>``; a stale holder finds zero rows.
    """
    return now + lease + timedelta(microseconds=1 + secrets.randbelow(999_999))


def _due(now: datetime) -> QuerySet[ScheduledCallback]:
    return ScheduledCallback.objects.filter(
        status=Status.SCHEDULED, scheduled_datetime__lte=now, attempts__lt=F("max_attempts")
    )


def due_claim_queryset(*, now: datetime, priority: int) -> QuerySet[ScheduledCallback]:
    """The claim's read for one priority (exposed so the benchmark can EXPLAIN the real query)."""
    return (
        _due(now)
        .filter(priority_level=priority)
        .order_by("scheduled_datetime")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )


def _stamped(ids: Iterable, token: datetime) -> list[ScheduledCallback]:
    return list(
        ScheduledCallback.objects.select_related(*_RELATED)
        .filter(pk__in=list(ids), status=Status.IN_PROGRESS, lease_expires_at=token)
        .order_by("priority_level", "scheduled_datetime")
    )


def callbacks_claim_due(
    *, limit: int = DEFAULT_BATCH, lease: timedelta = CLAIM_LEASE, now: datetime | None = None
) -> list[ScheduledCallback]:
    """Claim up to ``limit`` due callbacks, most urgent first; each returned row is this caller's alone.

    A due callback is scheduled, its time has come and it has attempts left. Claiming it counts
    an attempt and leases it; the returned rows carry their customer, agent and client, and
    their ``lease_expires_at`` is the token the dispatcher passes back (:func:`lease_until`).

    On PostgreSQL the due rows are read ``FOR UPDATE SKIP LOCKED`` (each worker gets rows nobody
    holds, without waiting); on SQLite, which has no row locks, the claiming UPDATE is
    conditional (``status = 'scheduled'``) and a worker keeps only rows stamped with its token.
    Each priority is its own range scan of ``callback_due_idx`` (five at most, each stopping at
    the batch size): PostgreSQL 15 has no b-tree skip scan, so one query over
    ``(priority_level, scheduled_datetime)`` would walk every future priority-1 row first.
    """
    now = now or timezone.now()
    token = lease_until(now, lease)
    with transaction.atomic():
        ids: list = []
        for priority in PRIORITIES:
            if len(ids) >= limit:
                break
            ids += list(due_claim_queryset(now=now, priority=priority)[: limit - len(ids)])
        if not ids:
            return []
        ScheduledCallback.objects.filter(pk__in=ids, status=Status.SCHEDULED, attempts__lt=F("max_attempts")).update(
            status=Status.IN_PROGRESS,
            attempts=F("attempts") + 1,
            lease_expires_at=token,
            is_overdue=False,
            updated_at=now,
        )
    return _stamped(ids, token)


def callbacks_reclaim_expired(
    *, limit: int = DEFAULT_BATCH, lease: timedelta = CLAIM_LEASE, now: datetime | None = None
) -> list[ScheduledCallback]:
    """Take over callbacks whose claim ran out (their worker died or lost its message).

    The attempt is not counted again. Whether the dead worker got as far as dialling is not
    known here (``calls`` owns the call rows): the dispatcher decides, from the call session
    created before every dial, whether to dial or to wait.
    """
    now = now or timezone.now()
    token = lease_until(now, lease)
    with transaction.atomic():
        ids = list(
            ScheduledCallback.objects.filter(status=Status.IN_PROGRESS, lease_expires_at__lte=now)
            .order_by("lease_expires_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        ScheduledCallback.objects.filter(pk__in=ids, status=Status.IN_PROGRESS, lease_expires_at__lte=now).update(
            lease_expires_at=token, updated_at=now
        )
    return _stamped(ids, token)


def _held(callback_id, token: datetime) -> QuerySet[ScheduledCallback]:
    return ScheduledCallback.objects.filter(pk=callback_id, status=Status.IN_PROGRESS, lease_expires_at=token)


def callback_take_lease(
    *, callback_id, lease: datetime, extend: timedelta = CLAIM_LEASE, now: datetime | None = None
) -> ScheduledCallback | None:
    """Start work on a claimed callback: swap its token for a fresh lease, or None if it is not ours.

    Swapping the token makes a second delivery of the same task (same token) find nothing, and
    gives the worker a full lease from now. The row is read back after the swap, so the
    dispatcher sees the customer's do-not-call flag as it is now, not as it was at the claim.
    """
    now = now or timezone.now()
    token = lease_until(now, extend)
    if not _held(callback_id, lease).update(lease_expires_at=token, updated_at=now):
        return None
    return ScheduledCallback.objects.select_related(*_RELATED).filter(pk=callback_id, lease_expires_at=token).first()


def callback_release(*, callback: ScheduledCallback, at: datetime, reason: str, now: datetime | None = None) -> bool:
    """Give a claimed callback back, to be dialled at ``at``; the attempt is not spent.

    For refusals that say nothing about the customer: outside the calling hours, the daily
    limit, the agent paused. Returns False when the claim was not ours any more.
    """
    now = now or timezone.now()
    return bool(
        _held(callback.pk, callback.lease_expires_at).update(
            status=Status.SCHEDULED,
            attempts=Greatest(F("attempts") - 1, 0),
            lease_expires_at=None,
            scheduled_datetime=at,
            is_overdue=False,
            last_error=reason[:300],
            updated_at=now,
        )
    )


def callback_settle_unplaced(
    *, callback: ScheduledCallback, retry_at: datetime, reason: str, give_up: bool = False, now: datetime | None = None
) -> str:
    """An attempt was spent without a conversation: try again at ``retry_at``, or mark it missed.

    Missed when the callback has used all its attempts (or ``give_up``), as when a dialled
    call goes unanswered (``calls.lifecycle``). Returns the new status, "" if the claim was lost.
    """
    now = now or timezone.now()
    missed = give_up or callback.attempts >= callback.max_attempts
    changes = {"lease_expires_at": None, "last_error": reason[:300], "updated_at": now}
    if missed:
        changes["status"] = Status.MISSED
    else:
        changes |= {"status": Status.SCHEDULED, "scheduled_datetime": retry_at, "is_overdue": False}
    if not _held(callback.pk, callback.lease_expires_at).update(**changes):
        return ""
    return changes["status"]


def callback_cancel_claimed(*, callback: ScheduledCallback, reason: str, now: datetime | None = None) -> bool:
    """Cancel a claimed callback (the customer may not be called any more, e.g. opted out)."""
    now = now or timezone.now()
    return bool(
        _held(callback.pk, callback.lease_expires_at).update(
            status=Status.CANCELED, lease_expires_at=None, last_error=reason[:300], updated_at=now
        )
    )


def callbacks_flag_overdue(*, now: datetime | None = None, after: timedelta = OVERDUE_AFTER) -> int:
    """Flag scheduled callbacks more than ``after`` past their time (for the dashboard's alerts)."""
    now = now or timezone.now()
    return ScheduledCallback.objects.filter(
        status=Status.SCHEDULED, scheduled_datetime__lte=now - after, is_overdue=False
    ).update(is_overdue=True, updated_at=now)


def callbacks_mark_exhausted(*, now: datetime | None = None) -> int:
    """Due callbacks that have used all their attempts are missed: no one will dial them again."""
    now = now or timezone.now()
    return ScheduledCallback.objects.filter(
        status=Status.SCHEDULED, scheduled_datetime__lte=now, attempts__gte=F("max_attempts")
    ).update(status=Status.MISSED, lease_expires_at=None, last_error="All attempts were used.", updated_at=now)


def callback_claim_for_dial(*, callback: ScheduledCallback, lease: timedelta = CLAIM_LEASE) -> ScheduledCallback:
    """Take one scheduled callback for a dial now (a person pressed "call"), so no one else dials it.

    Under the row lock: only a scheduled callback (or one whose lease ran out, its worker having
    died) may be claimed, the attempt is counted, and the claim is a lease with its own token,
    so the dispatcher cannot take it meanwhile. If the dial is then refused, the lease runs out
    and the dispatcher picks the callback up again and re-checks the rules. Settling it after
    the call (completed, missed, or scheduled again) is ``calls.lifecycle``'s job.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = ScheduledCallback.objects.select_for_update(of=("self",)).select_related(*_RELATED).get(pk=callback.pk)
        lease_ran_out = (
            locked.status == Status.IN_PROGRESS
            and locked.lease_expires_at is not None
            and locked.lease_expires_at <= now
        )
        if locked.status != Status.SCHEDULED and not lease_ran_out:
            raise Conflict(
                f"The callback is {locked.get_status_display().lower()}; only a scheduled one can be dialled."
            )
        if locked.customer_profile.is_do_not_call:
            raise CallNotAllowed("The customer is on the do-not-call list.", code="do_not_call")
        if locked.attempts >= locked.max_attempts:
            raise Conflict(f"The callback has used all {locked.max_attempts} attempts.")
        locked.status = Status.IN_PROGRESS
        locked.lease_expires_at = lease_until(now, lease)
        locked.attempts += 1
        locked.is_overdue = False
        locked.save(update_fields=["status", "lease_expires_at", "attempts", "is_overdue", "updated_at"])
    return locked
