"""The daily limit holds under concurrency: racing placers never exceed it (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from calls.models import OutboundDayCount
from calls.outbound import reserve_outbound_call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
AT = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the race needs real concurrent connections")


def test_twenty_racing_placers_get_exactly_the_limit(client_a):
    client_a.daily_call_limit = 7
    client_a.save()
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def place() -> None:
        try:
            start.wait()
            won = reserve_outbound_call(client=client_a, at=AT)
            with lock:
                results.append(won)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 7
    assert OutboundDayCount.objects.get(client=client_a).placed == 7
