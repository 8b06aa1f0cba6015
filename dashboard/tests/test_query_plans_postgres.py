"""The dashboard's counts read indexes, not rows, so a busy agent's dashboard grows slowly (PostgreSQL).

bench/dashboard_scale.py times the pages at 10,000 and 1,000,000 calls; this keeps what made
them grow slowly. Every count the dashboard API and the overview make over calls and customers
is planned as an index-only scan (the rows themselves are never read), and the callback counts
never read the customers table at all but the few simulated customers (their ids, from an
index too). The planner is told to avoid every plan that reads rows, so the small test data
shows whether an index can answer each count, as it must for a tenant of a million calls.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callbacks.models import ScheduledCallback
from calls.models import CallSession
from customers.models import CustomerProfile

# VACUUM (which sets the visibility map that index-only scans rely on, as autovacuum does in
# production) cannot run inside the test's transaction.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BIG_TABLES = ("calls_callsession", "customers_customerprofile")
PLANS_THAT_READ_ROWS = ("enable_seqscan", "enable_bitmapscan")  # index scans must stay on for index-only ones


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the plans are PostgreSQL's")


@pytest.fixture
def busy_agent(agent_a):
    now = timezone.now()
    customers = CustomerProfile.objects.bulk_create(
        CustomerProfile(ai_agent=agent_a, phone_number=f"+1212555{i:04d}", interest_level=("cold", "warm")[i % 2])
        for i in range(30)
    )
    CallSession.objects.bulk_create(
        CallSession(
            ai_agent=agent_a,
            customer_profile=customers[i],
            call_type="outbound",
            status="completed",
            outcome="interested",
            twilio_call_sid=f"CA{i:032d}",
            started_at=now - timedelta(hours=5 * i),
            answered_at=now - timedelta(hours=5 * i),
            duration_seconds=60,
        )
        for i in range(30)
    )
    ScheduledCallback.objects.bulk_create(
        ScheduledCallback(ai_agent=agent_a, customer_profile=customers[i], scheduled_datetime=now + timedelta(hours=i))
        for i in range(30)
    )
    with connection.cursor() as cursor:
        for table in (*BIG_TABLES, "callbacks_scheduledcallback"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relallvisible < relpages", [list(BIG_TABLES)]
        )
        if not_visible := [row[0] for row in cursor.fetchall()]:
            # An older snapshot still open on the server keeps VACUUM from marking the pages
            # all-visible; without that an index-only plan is no cheaper and the question is moot.
            pytest.skip(f"VACUUM could not mark {not_visible} all-visible (an older snapshot is open)")
    return agent_a


def count_plans(http, url: str) -> list[tuple[str, str]]:
    """(sql, plan) of every count ``GET url`` makes (an aggregate; the sliced lists are not counts)."""
    with CaptureQueriesContext(connection) as captured:
        assert http.get(url).status_code == 200
    plans = []
    with connection.cursor() as cursor:
        # A few dozen rows fit in a page or two, where any plan is as good as another. With every
        # plan that reads rows turned off, the planner still falls back to one (with a penalty)
        # when no index holds what a count needs: whether one does is the question.
        for plan in PLANS_THAT_READ_ROWS:
            cursor.execute(f"SET {plan} = off")
        cursor.execute("SET random_page_cost = 1000")  # a row read costs what it does on a big table
        try:
            for query in captured.captured_queries:
                sql = query["sql"]
                if "COUNT(" not in sql or " LIMIT " in sql:
                    continue
                cursor.execute("EXPLAIN " + sql)
                plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        finally:
            for plan in (*PLANS_THAT_READ_ROWS, "random_page_cost"):
                cursor.execute(f"RESET {plan}")
    return plans


def scans_of(plan: str, table: str) -> list[str]:
    return [line.strip() for line in plan.splitlines() if re.search(rf"\bScan\b.* on {table}\b", line)]


@pytest.mark.parametrize("url", ["/api/dashboard/ai-agent/", "/"], ids=["api", "overview-charts-not-cached"])
def test_dashboard_counts_read_indexes_only(client, user_a, busy_agent, url):
    client.force_login(user_a)
    plans = count_plans(client, url)
    counted = {table for sql, _ in plans for table in (*BIG_TABLES, "callbacks_scheduledcallback") if table in sql}
    assert counted == {*BIG_TABLES, "callbacks_scheduledcallback"}, "the page counts calls, customers and callbacks"
    for sql, plan in plans:
        for table in BIG_TABLES:
            for scan in scans_of(plan, table):
                assert "Index Only Scan" in scan, f"{table} is read row by row:\n{plan}\n\n{sql}"
