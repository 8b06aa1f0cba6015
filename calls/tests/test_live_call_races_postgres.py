"""One live call per customer holds under concurrency: racing placers never dial one customer twice (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections

from calls.models import CallSession
from calls.outbound import CallToPlace, call_place, calls_place
from core.errors import CallNotAllowed
from customers.tests.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
AT = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))
PLACERS = 12


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the race needs real concurrent connections")


def _race(place) -> list:
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(PLACERS)

    def run(n: int) -> None:
        try:
            start.wait()
            try:
                outcome = place(n)
            except CallNotAllowed as refused:
                outcome = refused
            with lock:
                results.append(outcome)
        finally:
            connections.close_all()

    with time_machine.travel(AT, tick=True):
        threads = [threading.Thread(target=run, args=(n,)) for n in range(PLACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results


def test_racing_placers_place_one_live_call_to_one_customer(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, phone_number="+12125550123", timezone="America/New_York")

    results = _race(lambda n: call_place(agent=agent_a, customer=customer, context=f"placer {n}"))

    placed = [r for r in results if isinstance(r, CallSession)]
    refused = [r for r in results if isinstance(r, CallNotAllowed)]
    assert len(placed) == 1 and len(refused) == PLACERS - 1
    assert {r.code for r in refused} == {"customer_on_call"}
    assert CallSession.objects.filter(customer_profile=customer).count() == 1


def test_racing_batches_place_one_live_call_per_customer(agent_a):
    customers = [
        CustomerFactory(ai_agent=agent_a, phone_number=f"+1212555{n:04d}", timezone="America/New_York")
        for n in range(5)
    ]

    def batch(n: int) -> list:
        # Each placer orders the customers differently: the locks must still be taken in one order.
        rotated = customers[n % 5 :] + customers[: n % 5]
        return calls_place([CallToPlace(agent=agent_a, customer=c) for c in rotated])

    results = _race(batch)

    placed = [o for outcomes in results for o in outcomes if isinstance(o, CallSession)]
    assert len(placed) == 5
    for customer in customers:
        assert CallSession.objects.filter(customer_profile=customer).count() == 1
