"""Each page costs the same number of queries with 1 row as with 200.

A page whose query count grows with the data (an N+1) is fast in a demo and falls over for the
client with a hundred thousand customers, so every page is counted twice: with one row of
everything it lists, and with two hundred.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.models import AIAgentTraining
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from customers.models import CustomerProfile

SMALL, LARGE = 1, 200


def add_rows(agent, n: int, *, offset: int) -> dict:
    """``n`` more of everything a page can list, all hanging off one customer and one call."""
    now = timezone.now()
    customers = CustomerProfile.objects.bulk_create(
        CustomerProfile(
            ai_agent=agent,
            phone_number=f"+1212555{offset + i:04d}",
            name=f"Lead {offset + i}",
            timezone="America/New_York",
            interest_level=["cold", "warm", "hot"][i % 3],
            objections=[{"key": "price_too_high", "text": "too much", "at": now.isoformat()}] * 3,
            conversation_notes=[{"at": now.isoformat(), "text": "note", "source": "api"}] * 3,
        )
        for i in range(n)
    )
    main = CustomerProfile.objects.filter(ai_agent=agent).order_by("created_at", "id").first()
    calls = CallSession.objects.bulk_create(
        CallSession(
            ai_agent=agent,
            customer_profile=customers[i] if i % 2 else main,  # one live call per customer
            call_type="outbound",
            status=["completed", "queued"][i % 2],
            outcome=["interested", ""][i % 2],
            twilio_call_sid=f"CA{offset + i:032d}",
            started_at=now - timedelta(hours=i),
            answered_at=None if i % 2 else now - timedelta(hours=i),
            recording_url="https://rec.example/r.mp3",
        )
        for i in range(n)
    )
    first_call = CallSession.objects.filter(ai_agent=agent).order_by("created_at", "id").first()
    CallTurn.objects.bulk_create(
        CallTurn(
            call=first_call,
            sequence=offset + i,
            speaker="agent" if i % 2 == 0 else "caller",
            text="Hello",
            latency_ms=100 + i if i % 2 == 0 else None,
            actions=[
                {"type": "schedule_callback", "booked": now.isoformat()},
                {"type": "record_objection", "key": "x"},
            ],
        )
        for i in range(n)
    )
    CallTurn.objects.bulk_create(
        CallTurn(call=call, sequence=1000 + offset, speaker="agent", text="Hi", latency_ms=200) for call in calls
    )
    ScheduledCallback.objects.bulk_create(
        ScheduledCallback(
            ai_agent=agent,
            customer_profile=customers[i] if i % 2 else main,  # one live call per customer
            reason="Call back",
            scheduled_datetime=now + timedelta(hours=(i + 1) * sign),
            priority_level=1 + i % 5,
            status=status,
            source_call=first_call,
        )
        for i in range(n)
        # one overdue, one upcoming and one done per row, so every list on the page has rows
        for sign, status in ((-1, "scheduled"), (1, "scheduled"), (1, "completed"))
    )
    AIAgentTraining.objects.bulk_create(
        AIAgentTraining(ai_agent=agent, training_type="script", training_data={"script": f"Hello {i}"})
        for i in range(n)
    )
    return {"customer": main, "call": first_call}


PAGES = {
    "overview": lambda rows: reverse("dashboard:overview"),
    "training": lambda rows: reverse("dashboard:training"),
    "simulator": lambda rows: reverse("dashboard:simulator"),
    "simulator-with-call": lambda rows: reverse("dashboard:simulator") + f"?call={rows['call'].twilio_call_sid}",
    "calls": lambda rows: reverse("dashboard:calls"),
    "calls-filtered": lambda rows: reverse("dashboard:calls") + "?outcome=interested&search=Lead&date_from=2020-01-01",
    "call-detail": lambda rows: reverse("dashboard:call-detail", args=[rows["call"].pk]),
    "customers": lambda rows: reverse("dashboard:customers"),
    "customers-filtered": lambda rows: reverse("dashboard:customers") + "?interest_level=cold&search=Lead&dnc=no",
    "customer-detail": lambda rows: reverse("dashboard:customer-detail", args=[rows["customer"].pk]),
    "callbacks": lambda rows: reverse("dashboard:callbacks"),
    "callbacks-done": lambda rows: reverse("dashboard:callbacks") + "?show=done",
    "customer-import": lambda rows: reverse("dashboard:customer-import"),
}


def count_queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGES))
def test_page_queries_do_not_grow_with_rows(page_a, agent_a, name):
    rows = add_rows(agent_a, SMALL, offset=0)
    url = PAGES[name](rows)
    page_a.get(url)  # warm up anything cached per process (content types, templates)
    small, _ = count_queries(page_a, url)
    add_rows(agent_a, LARGE - SMALL, offset=SMALL)
    large, queries = count_queries(page_a, url)
    assert large == small, f"{name}: {small} queries with {SMALL} row, {large} with {LARGE}:\n" + "\n".join(queries)


@pytest.mark.django_db
def test_export_is_one_query_whatever_the_size(page_a, agent_a):
    add_rows(agent_a, LARGE, offset=0)
    with CaptureQueriesContext(connection) as captured:
        response = page_a.get(reverse("dashboard:customer-export"))
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == LARGE + 1
    customer_queries = [q for q in captured.captured_queries if "customers_customerprofile" in q["sql"]]
    assert len(customer_queries) == 1
