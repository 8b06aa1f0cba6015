"""Concurrent writers lose no dashboard count (PostgreSQL: real concurrent connections).

Racing threads create customers and move calls into a bucket that does not exist yet, so
they race on the bucket's insert and on its increment at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from calls.day_counts import call_day_counts_sync
from calls.models import CallDayCount, CallSession
from calls.tests.factories import CallFactory
from customers.services import customer_create
from customers.tests.factories import CustomerFactory
from dashboard.selectors import customer_stats

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WRITERS = 10


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the race needs real concurrent connections")


def _race(write) -> None:
    """``write(n)`` in WRITERS threads released together; a thread's exception fails the test."""
    start = threading.Barrier(WRITERS)

    def run(n: int) -> None:
        try:
            start.wait()
            write(n)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for done in [pool.submit(run, n) for n in range(WRITERS)]:
            done.result()


def test_racing_customer_creates_are_all_counted(agent_a):
    _race(lambda n: customer_create(agent=agent_a, phone_number=f"+1212555{n:04d}", interest_level="hot"))

    stats = customer_stats(agent=agent_a)
    assert (stats.total, stats.hot) == (WRITERS, WRITERS)


def test_racing_outcome_changes_move_every_call_once(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    calls = [CallFactory(customer_profile=customer, outcome="") for _ in range(WRITERS)]

    def convert(n: int) -> None:
        with transaction.atomic():
            CallSession.objects.filter(pk=calls[n].pk).update(outcome="converted")
            call_day_counts_sync(agent=agent_a, call_ids=[calls[n].pk])
            call_day_counts_sync(agent=agent_a, call_ids=[calls[n].pk])  # a repeat moves nothing

    _race(convert)

    per_outcome = dict(CallDayCount.objects.filter(ai_agent=agent_a).values_list("outcome", "calls"))
    assert per_outcome == {"": 0, "converted": WRITERS}
