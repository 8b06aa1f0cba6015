"""Calls per agent, client-local day and outcome, kept as counters for the dashboard.

The dashboard reads ``CallDayCount`` rows (a few per day) instead of scanning a month of
calls, so its figures cost the same at a million calls as at ten thousand. Every write that
creates a call or changes a counted column calls one function here once, in its transaction;
who calls which, and how a sync stays exact under concurrent writers: docs/rules.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction
from django.db.models import Case, CharField, Count, F, Q, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, JSONObject, TruncDate

from agents.models import AIAgent
from calls.models import CallDayCount, CallSession

Bucket = tuple[int, str, str]  # (agent id, ISO day, outcome)
COUNTED = ("picked_up", "outbound", "failed", "duration_calls", "duration_seconds")
# Placed by us, so they count against the client's daily call limit.
OUTBOUND_TYPES = (CallSession.CallType.OUTBOUND, CallSession.CallType.SCHEDULED, CallSession.CallType.FOLLOWUP)


def picked_up() -> Q:
    """A person answered: a human outcome, or (while no outcome is known) answered by a non-machine."""
    return Q(outcome__in=CallSession.PICKED_UP_OUTCOMES) | (
        Q(outcome="") & Q(answered_at__isnull=False) & ~Q(answered_by__startswith="machine")
    )


def failed() -> Q:
    return Q(status=CallSession.Status.FAILED) | Q(outcome=CallSession.Outcome.FAILED)


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=models.IntegerField())


def client_zone(agent: AIAgent) -> ZoneInfo:
    return ZoneInfo(agent.client.timezone or "UTC")


def _contribution(zone: ZoneInfo) -> JSONObject:
    """What one call adds to its bucket, computed by the database (the rebuild's form of :func:`_adds`)."""
    return JSONObject(
        day=Cast(TruncDate("started_at", tzinfo=zone), CharField()),
        outcome=F("outcome"),
        picked_up=_flag(picked_up()),
        outbound=_flag(Q(call_type__in=OUTBOUND_TYPES)),
        failed=_flag(failed()),
        duration=Coalesce("duration_seconds", 0),
    )


def _add(deltas: dict[Bucket, dict[str, int]], agent_id: int, counted: dict, sign: int) -> None:
    if not counted:
        return
    delta = deltas[(agent_id, counted["day"], counted["outcome"])]
    duration = int(counted["duration"] or 0)
    for name, value in (
        ("calls", 1),
        ("picked_up", counted["picked_up"]),
        ("outbound", counted["outbound"]),
        ("failed", counted["failed"]),
        ("duration_calls", int(duration > 0)),
        ("duration_seconds", duration),
    ):
        delta[name] = delta.get(name, 0) + sign * int(value)


_COLUMNS = ("calls", *COUNTED)


def _apply(deltas: dict[Bucket, dict[str, int]]) -> None:
    """Add ``deltas`` to their buckets in one statement: a missing bucket is inserted with them.

    The ORM has no increment-on-conflict, and one UPDATE per bucket made a set of calls for many
    agents cost a statement each (the callback dispatcher places sets). Rows go in sorted order,
    so two writers never lock buckets crosswise.
    """
    changed = sorted((bucket, delta) for bucket, delta in deltas.items() if any(delta.values()))
    if not changed:
        return
    table = CallDayCount._meta.db_table
    values = ", ".join(["(%s, %s, %s" + ", %s" * len(_COLUMNS) + ")"] * len(changed))
    params: list = []
    for (agent_id, day, outcome), delta in changed:
        params += [agent_id, day, outcome, *(delta.get(name, 0) for name in _COLUMNS)]
    columns = ", ".join(_COLUMNS)
    increments = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in _COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (ai_agent_id, day, outcome, {columns}) VALUES {values} "  # noqa: S608 - our names
            f"ON CONFLICT (ai_agent_id, day, outcome) DO UPDATE SET {increments}",
            params,
        )


COUNTED_COLUMNS = ("started_at", "call_type", "status", "outcome", "answered_at", "answered_by", "duration_seconds")


def _adds(call: CallSession | dict, zone: ZoneInfo) -> dict:
    """What one call adds to its bucket: :func:`_contribution`, for a call in hand (the tests hold the two together)."""
    value = call.get if isinstance(call, dict) else lambda name: getattr(call, name)
    if value("is_simulation"):
        return {}
    outcome = value("outcome")
    answered = value("answered_at") is not None and not value("answered_by").startswith("machine")
    return {
        "day": value("started_at").astimezone(zone).date().isoformat(),
        "outcome": outcome,
        "picked_up": int(outcome in CallSession.PICKED_UP_OUTCOMES or (outcome == "" and answered)),
        "outbound": int(value("call_type") in OUTBOUND_TYPES),
        "failed": int(value("status") == CallSession.Status.FAILED or outcome == CallSession.Outcome.FAILED),
        "duration": value("duration_seconds") or 0,
    }


def call_day_counts_add(*, calls: Sequence[CallSession]) -> None:
    """Count calls about to be inserted; call it just before the insert, in its transaction.

    Each call is stamped with what it adds, so the insert writes the stamp and nothing needs
    reading back: two statements on the path that answers a ringing phone.
    """
    deltas: dict[Bucket, dict[str, int]] = defaultdict(dict)
    for call in calls:
        call.dashboard_counted = _adds(call, client_zone(call.ai_agent))
        _add(deltas, call.ai_agent_id, call.dashboard_counted, +1)
    _apply(deltas)


def call_day_counts_sync(*, agent: AIAgent, call_ids: Iterable) -> None:
    """Count ``agent``'s calls where they belong now, after a write that may have changed a counted column."""
    ids = list(call_ids)
    if not ids:
        return
    zone = client_zone(agent)
    with transaction.atomic(savepoint=False):
        rows = (
            CallSession.objects.select_for_update()
            .filter(ai_agent=agent, pk__in=ids)
            .order_by("pk")
            .values("pk", "is_simulation", "dashboard_counted", *COUNTED_COLUMNS)
        )
        deltas: dict[Bucket, dict[str, int]] = defaultdict(dict)
        for row in rows:
            now = _adds(row, zone)
            if now == row["dashboard_counted"]:
                continue
            _add(deltas, agent.pk, row["dashboard_counted"], -1)
            _add(deltas, agent.pk, now, +1)
            CallSession.objects.filter(pk=row["pk"]).update(dashboard_counted=now)
        _apply(deltas)


def call_day_counts_forget(*, calls: Iterable[CallSession]) -> None:
    """Take calls about to be deleted out of the counts (their rows still hold what they added)."""
    deltas: dict[Bucket, dict[str, int]] = defaultdict(dict)
    for call in calls:
        _add(deltas, call.ai_agent_id, call.dashboard_counted, -1)
    _apply(deltas)


def call_day_counts_rebuild(*, agent: AIAgent) -> int:
    """Recount ``agent``'s calls from their rows (the backfill; run it while the agent is quiet).

    Two set-based statements, however many calls: one stamps every call with what it adds,
    one groups the calls into their buckets. Returns the number of buckets.
    """
    zone = client_zone(agent)
    calls = CallSession.objects.filter(ai_agent=agent).order_by()
    real = calls.filter(is_simulation=False)
    with transaction.atomic():
        CallDayCount.objects.filter(ai_agent=agent).delete()
        real.update(dashboard_counted=_contribution(zone))
        calls.filter(is_simulation=True).exclude(dashboard_counted={}).update(dashboard_counted={})
        groups = (
            real.annotate(day=TruncDate("started_at", tzinfo=zone))
            .values("day", "outcome")
            .annotate(
                calls=Count("pk"),
                picked_up=Count("pk", filter=picked_up()),
                outbound=Count("pk", filter=Q(call_type__in=OUTBOUND_TYPES)),
                failed=Count("pk", filter=failed()),
                duration_calls=Count("pk", filter=Q(duration_seconds__gt=0)),
                duration_seconds=Coalesce(Sum("duration_seconds"), 0),
            )
        )
        rows = [
            CallDayCount(ai_agent=agent, **{name: g[name] for name in ("day", "outcome", "calls", *COUNTED)})
            for g in groups
        ]
        CallDayCount.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
