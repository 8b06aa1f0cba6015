"""Customers per interest level, kept as counters so the dashboard never counts the customer list.

Every write that creates a customer, changes their level or do-not-call flag, or deletes
them calls one function here in its transaction. Each customer row remembers the bucket it
is counted in (``dashboard_counted``); syncing locks the row, reads what it is now and moves
it between buckets with ``F()`` increments, so concurrent writers never lose a count and
syncing twice changes nothing. Simulated customers are never counted.
``manage.py dashboard_counts_rebuild`` recomputes everything from the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, F

from agents.models import AIAgent
from customers.models import CustomerLevelCount, CustomerProfile

Bucket = tuple[int, str, bool]  # (agent id, interest level, do-not-call)


def _marker(level: str, do_not_call: bool) -> str:
    return f"{level}:{int(do_not_call)}"


def _bucket(agent_id: int, marker: str) -> Bucket:
    level, do_not_call = marker.split(":")
    return agent_id, level, do_not_call == "1"


def _apply(deltas: Counter[Bucket]) -> None:
    """Add ``deltas`` to their buckets: one insert of the missing ones, then an increment per bucket.

    ``ignore_conflicts`` waits for a concurrent writer's insert of the same bucket instead of
    failing, and the increments run in sorted order so two writers never lock rows crosswise.
    """
    changed = {bucket: delta for bucket, delta in deltas.items() if delta}
    if not changed:
        return
    CustomerLevelCount.objects.bulk_create(
        [CustomerLevelCount(ai_agent_id=a, interest_level=level, is_do_not_call=dnc) for a, level, dnc in changed],
        ignore_conflicts=True,
    )
    for (agent_id, level, do_not_call), delta in sorted(changed.items()):
        CustomerLevelCount.objects.filter(
            ai_agent_id=agent_id, interest_level=level, is_do_not_call=do_not_call
        ).update(customers=F("customers") + delta)


def customer_level_counts_sync(*, customer_ids: Iterable) -> None:
    """Count these customers where they belong now (after a create or a level/do-not-call change)."""
    ids = list(customer_ids)
    if not ids:
        return
    with transaction.atomic(savepoint=False):
        rows = (
            CustomerProfile.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values("pk", "ai_agent_id", "interest_level", "is_do_not_call", "is_simulated", "dashboard_counted")
        )
        deltas: Counter[Bucket] = Counter()
        moved: dict[str, list] = {}
        for row in rows:
            now = "" if row["is_simulated"] else _marker(row["interest_level"], row["is_do_not_call"])
            if now == row["dashboard_counted"]:
                continue
            if row["dashboard_counted"]:
                deltas[_bucket(row["ai_agent_id"], row["dashboard_counted"])] -= 1
            if now:
                deltas[_bucket(row["ai_agent_id"], now)] += 1
            moved.setdefault(now, []).append(row["pk"])
        _apply(deltas)
        for marker, pks in moved.items():
            CustomerProfile.objects.filter(pk__in=pks).update(dashboard_counted=marker)


def customer_level_counts_forget(*, customer: CustomerProfile) -> None:
    """Take a customer about to be deleted out of the counts (call it in the delete's transaction)."""
    marker = (
        CustomerProfile.objects.select_for_update()
        .filter(pk=customer.pk)
        .values_list("dashboard_counted", flat=True)
        .first()
    )
    if marker:
        _apply(Counter({_bucket(customer.ai_agent_id, marker): -1}))
        CustomerProfile.objects.filter(pk=customer.pk).update(dashboard_counted="")


def customer_level_counts_rebuild(*, agent: AIAgent) -> None:
    """Recount ``agent``'s customers from their rows (the backfill; run it while the agent is quiet)."""
    real = CustomerProfile.objects.filter(ai_agent=agent, is_simulated=False).order_by()
    with transaction.atomic():
        CustomerLevelCount.objects.filter(ai_agent=agent).delete()
        groups = list(real.values("interest_level", "is_do_not_call").annotate(n=Count("pk")))
        CustomerLevelCount.objects.bulk_create(
            CustomerLevelCount(
                ai_agent=agent, interest_level=g["interest_level"], is_do_not_call=g["is_do_not_call"], customers=g["n"]
            )
            for g in groups
        )
        for g in groups:
            real.filter(interest_level=g["interest_level"], is_do_not_call=g["is_do_not_call"]).exclude(
                dashboard_counted=_marker(g["interest_level"], g["is_do_not_call"])
            ).update(dashboard_counted=_marker(g["interest_level"], g["is_do_not_call"]))
        CustomerProfile.objects.filter(ai_agent=agent, is_simulated=True).exclude(dashboard_counted="").update(
            dashboard_counted=""
        )
