"""Concurrent claimers on PostgreSQL: every due callback is placed exactly once.

Threads, each with its own database connection, race through the real dispatch path
(``SELECT ... FOR UPDATE SKIP LOCKED`` claims, lease tokens, ``call_place`` with the simulated
gateway). Skipped on SQLite, which has no row locks to race on.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections, transaction

from agents.tests.factories import AIAgentFactory
from callbacks.claims import CLAIM_LEASE, callbacks_claim_due, due_claim_queryset
from callbacks.models import ScheduledCallback
from calls.dispatch import Result, callback_place, callbacks_dispatch_due
from calls.models import CallSession
from customers.models import CustomerProfile

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)
CLIENTS, PER_CLIENT = 4, 60


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): SQLite has no SELECT ... FOR UPDATE SKIP LOCKED")


@pytest.fixture
def clock():
    with time_machine.travel(TUESDAY_2PM, tick=True):
        yield


def _book(*, due: int, future: int = 0, status: str = "scheduled", lease_expired: bool = False) -> list:
    """``due`` due callbacks (and ``future`` later ones) spread over several clients, in bulk."""
    rows = []
    for n in range(CLIENTS):
        agent = AIAgentFactory(
            training_level=90, status="active", working_hours_start=time(7), working_hours_end=time(22),
            client__daily_call_limit=10_000, client__timezone="America/New_York",
        )  # fmt: skip
        customers = CustomerProfile.objects.bulk_create(
            CustomerProfile(ai_agent=agent, phone_number=f"+1212{n:02d}{i:05d}", timezone="America/New_York")
            for i in range(due // CLIENTS + future // CLIENTS)
        )
        for i, customer in enumerate(customers):
            is_due = i < due // CLIENTS
            rows.append(
                ScheduledCallback(
                    ai_agent=agent, customer_profile=customer, priority_level=1 + i % 5,
                    scheduled_datetime=TUESDAY_2PM - timedelta(minutes=i % 30) if is_due
                    else TUESDAY_2PM + timedelta(hours=1),
                    status=status if is_due else "scheduled", attempts=1 if status == "in_progress" else 0,
                    lease_expires_at=TUESDAY_2PM - timedelta(seconds=1) if lease_expired and is_due else None,
                )
            )  # fmt: skip
    return ScheduledCallback.objects.bulk_create(rows)


def _race(worker, n: int) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(index: int):
        try:
            barrier.wait()
            worker(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _placed_once(callbacks) -> None:
    due_ids = {cb.pk for cb in callbacks if cb.scheduled_datetime <= TUESDAY_2PM}
    per_callback = Counter(CallSession.objects.values_list("callback_id", flat=True))
    assert set(per_callback) == due_ids, "every due callback placed, nothing else"
    assert max(per_callback.values()) == 1, "no callback placed twice"
    assert not ScheduledCallback.objects.filter(status="scheduled", scheduled_datetime__lte=TUESDAY_2PM).exists()


def _dispatch(batch: int) -> None:
    """A tick that places its claims in this process, as the task would, until none is due."""
    callbacks_dispatch_due(batch=batch, max_claims=None)


@pytest.mark.parametrize("dispatchers", [6, 9])
def test_concurrent_dispatchers_place_every_due_callback_exactly_once(clock, dispatchers):
    callbacks = _book(due=CLIENTS * PER_CLIENT, future=CLIENTS * 10)

    errors = _race(lambda i: _dispatch(batch=7), dispatchers)

    assert errors == []
    _placed_once(callbacks)
    assert ScheduledCallback.objects.filter(status="scheduled").count() == CLIENTS * 10  # the future ones
    assert set(ScheduledCallback.objects.filter(attempts=1).values_list("status", flat=True)) == {"in_progress"}


def test_concurrent_beat_ticks_claim_disjoint_sets_and_duplicate_deliveries_dial_once(clock):
    callbacks = _book(due=CLIENTS * PER_CLIENT)
    claims: list[tuple] = []
    lock = threading.Lock()

    def tick(i):
        def enqueue(callback):
            with lock:
                claims.append((callback.pk, callback.lease_expires_at))

        callbacks_dispatch_due(enqueue=enqueue, batch=5)

    assert _race(tick, 4) == []
    assert len(claims) == len({pk for pk, _ in claims}) == CLIENTS * PER_CLIENT

    # Every placement message is delivered twice, to two workers at once.
    results: list[Result] = []

    def place(i):
        for pk, token in claims[i // 2 :: 3]:
            placement = callback_place(callback_id=pk, lease=token)
            with lock:
                results.append(placement.result)

    assert _race(place, 6) == []
    assert Counter(results) == {Result.PLACED: CLIENTS * PER_CLIENT, Result.SKIPPED: CLIENTS * PER_CLIENT}
    _placed_once(callbacks)


def test_concurrent_reclaimers_place_each_dead_workers_callback_once(clock):
    callbacks = _book(due=CLIENTS * PER_CLIENT, status="in_progress", lease_expired=True)

    assert _race(lambda i: _dispatch(batch=5), 5) == []

    _placed_once(callbacks)
    assert set(ScheduledCallback.objects.values_list("attempts", flat=True)) == {1}  # reused, not counted again


def test_the_claim_reads_the_due_index(clock):
    _book(due=200, future=2000)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_scheduledcallback")
        plan = due_claim_queryset(now=TUESDAY_2PM + CLAIM_LEASE, priority=1)[:50].explain()

    # A range of one of the dispatcher's partial indexes (status = 'scheduled'): by (priority,
    # time), or by time with the priority filtered, whichever the planner finds cheaper for the
    # data at hand; never the whole table. The rows are locked as they are read (LockRows).
    assert re.search(r"(Index Scan using|Bitmap Index Scan on) callback_due(_time)?_idx", plan), plan
    assert "scheduled_datetime <=" in plan and "Seq Scan" not in plan
    assert "LockRows" in plan
    assert callbacks_claim_due(limit=1)
