"""The dashboard's counters (calls per day, customers per level) agree with the rows they count.

Each step goes through the doors a client's data really takes (webhooks on the simulated
phone, the services, the CSV import, deletion), then the figures the dashboard shows are
compared with the same figures computed here from the raw rows, for both tenants; at the
end the counters equal a rebuild from the rows.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from calls.day_counts import OUTBOUND_TYPES, call_day_counts_rebuild
from calls.models import CallDayCount, CallSession
from calls.outbound import call_place
from calls.outcomes import PICKED_UP_OUTCOMES, call_record_outcome
from calls.simulated_phone import SimulatedPhone
from calls.tests.factories import CallFactory
from customers.csv_import import customers_import_csv
from customers.level_counts import customer_level_counts_rebuild
from customers.models import CustomerLevelCount, CustomerProfile
from customers.services import customer_create, customer_delete, customer_opt_out, customer_update
from customers.tests.factories import CustomerFactory
from dashboard.selectors import FUNNEL, agent_performance, calls_per_day_by_outcome, customer_stats

NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


@pytest.fixture
def agent(agent_a):
    agent_a.working_hours_start, agent_a.working_hours_end = time(7, 0), time(22, 0)
    agent_a.save()
    return agent_a


# --- the figures, computed from the raw rows --------------------------------------------------------


def raw_per_day(agent) -> list[dict]:
    zone = ZoneInfo(agent.client.timezone)
    today = timezone.now().astimezone(zone).date()
    per_day: dict = defaultdict(Counter)
    for call in CallSession.objects.filter(ai_agent=agent, is_simulation=False):
        per_day[call.started_at.astimezone(zone).date()][call.outcome] += 1
    days = [today - timedelta(days=n) for n in range(13, -1, -1)]
    return [{"date": d.isoformat(), "total": sum(per_day[d].values()), "outcomes": dict(+per_day[d])} for d in days]


def raw_performance(agent) -> dict:
    zone = ZoneInfo(agent.client.timezone)
    today = timezone.now().astimezone(zone).date()
    window = [
        c
        for c in CallSession.objects.filter(ai_agent=agent, is_simulation=False)
        if c.started_at.astimezone(zone).date() > today - timedelta(days=7)
    ]
    on_today = [c for c in window if c.started_at.astimezone(zone).date() == today]
    durations = [c.duration_seconds for c in window if c.duration_seconds]

    def picked(c) -> bool:
        machine = c.answered_by.startswith("machine")
        return c.outcome in PICKED_UP_OUTCOMES or (c.outcome == "" and c.answered_at is not None and not machine)

    return {
        "calls_in_window": len(window),
        "answered_in_window": sum(map(picked, window)),
        "conversions_in_window": sum(c.outcome == "converted" for c in window),
        "avg_duration_seconds": round(sum(durations) / len(durations), 1) if durations else None,
        "today_calls": len(on_today),
        "today_outbound_calls": sum(c.call_type in OUTBOUND_TYPES for c in on_today),
        "failed_calls_today": sum(c.status == "failed" or c.outcome == "failed" for c in on_today),
    }


def raw_customers(agent) -> dict:
    real = list(CustomerProfile.objects.filter(ai_agent=agent, is_simulated=False))
    levels = Counter(c.interest_level for c in real)
    return {
        "total": len(real),
        **{level: levels[level] for level in FUNNEL},
        "do_not_call": sum(c.is_do_not_call for c in real),
    }


def shown(agent) -> tuple:
    performance = agent_performance(agent=agent)
    return (
        calls_per_day_by_outcome(agent=agent),
        {name: getattr(performance, name) for name in raw_performance(agent)},
        vars(customer_stats(agent=agent)),
    )


def assert_dashboard_matches_the_rows(*agents) -> None:
    for agent in agents:
        assert shown(agent) == (raw_per_day(agent), raw_performance(agent), raw_customers(agent)), agent


def counters(agent) -> tuple[set, set]:
    days = {
        tuple(row)
        for row in CallDayCount.objects.filter(ai_agent=agent)
        .exclude(calls=0)
        .values_list("day", "outcome", "calls", "picked_up", "outbound", "failed", "duration_calls", "duration_seconds")
    }
    levels = set(
        CustomerLevelCount.objects.filter(ai_agent=agent)
        .exclude(customers=0)
        .values_list("interest_level", "is_do_not_call", "customers")
    )
    return days, levels


# --- the tests ---------------------------------------------------------------------------------------


def test_the_charts_show_what_the_rows_say_through_creates_status_changes_and_deletes(agent, agent_b):
    phone = SimulatedPhone(agent)
    dana = customer_create(agent=agent, phone_number="+12125550101", name="Dana", timezone="America/New_York")
    lee = customer_create(agent=agent, phone_number="+12125550102", interest_level="warm")
    CustomerFactory(ai_agent=agent_b, interest_level="hot")  # the other tenant's rows never show here
    CallFactory(customer_profile__ai_agent=agent_b, outcome="converted", duration_seconds=90)
    assert_dashboard_matches_the_rows(agent, agent_b)

    # Outbound: placed (queued), answered, talked, hung up (completed, with an outcome and a duration).
    placed = call_place(agent=agent, customer=dana)
    assert_dashboard_matches_the_rows(agent, agent_b)
    phone.answer(placed)
    assert_dashboard_matches_the_rows(agent, agent_b)
    phone.say(placed.twilio_call_sid, "Sounds interesting, tell me more")
    with time_machine.travel(MONDAY_10AM + timedelta(minutes=3), tick=False):
        phone.hang_up(placed.twilio_call_sid)
    assert_dashboard_matches_the_rows(agent, agent_b)

    # Unanswered, and answered by a machine (voicemail through the AMD callback).
    unanswered = call_place(agent=agent, customer=lee)
    phone.hang_up(unanswered.twilio_call_sid, status="no-answer")
    voicemail = call_place(agent=agent, customer=lee, call_type="followup")
    phone.answer(voicemail, machine=True)
    assert_dashboard_matches_the_rows(agent, agent_b)

    # Inbound: a new caller (a new customer, counted cold) who asks not to be called again.
    screen = phone.dial_in(from_number="+12125550177")
    assert_dashboard_matches_the_rows(agent, agent_b)
    phone.say(screen.call_sid, "Please stop calling me")
    assert_dashboard_matches_the_rows(agent, agent_b)

    # The outcome changed after the call, then the customers edited by hand and by import.
    call_record_outcome(agent=agent, call=placed, outcome="converted")
    customer_update(customer=lee, interest_level="hot")
    customer_opt_out(customer=lee)
    customers_import_csv(
        agent=agent,
        stream=io.BytesIO(b"phone,interest_level\n+12125550102,cold\n+12125550155,warm\n+12125550156,\n"),
    )
    assert_dashboard_matches_the_rows(agent, agent_b)

    # Yesterday evening's call counts on yesterday, in the client's day.
    with time_machine.travel(MONDAY_10AM - timedelta(hours=13), tick=False):
        CallFactory(customer_profile=dana, outcome="interested")
    # Deleting a customer takes their calls, and their counts, with them.
    customer_delete(customer=lee)
    assert_dashboard_matches_the_rows(agent, agent_b)

    # The counters kept along the way are what a rebuild from the rows gives.
    for tenant in (agent, agent_b):
        kept = counters(tenant)
        call_day_counts_rebuild(agent=tenant)
        customer_level_counts_rebuild(agent=tenant)
        assert counters(tenant) == kept
        assert kept[0] and kept[1]
    assert_dashboard_matches_the_rows(agent, agent_b)


def test_syncing_twice_counts_once_and_simulations_never_count(agent):
    from calls.day_counts import call_day_counts_sync
    from customers.level_counts import customer_level_counts_sync

    call = CallFactory(customer_profile__ai_agent=agent, outcome="answered", duration_seconds=30)
    simulated = CallFactory(customer_profile__ai_agent=agent, customer_profile__is_simulated=True, is_simulation=True)
    for _ in range(2):
        call_day_counts_sync(agent=agent, call_ids=[call.pk, simulated.pk])
        customer_level_counts_sync(customer_ids=[call.customer_profile_id, simulated.customer_profile_id])

    assert sum(CallDayCount.objects.filter(ai_agent=agent).values_list("calls", flat=True)) == 1
    assert customer_stats(agent=agent).total == 1
    assert_dashboard_matches_the_rows(agent)


def test_the_rebuild_command_recounts_rows_loaded_past_the_services(agent, agent_b):
    from django.core.management import call_command

    people = CustomerProfile.objects.bulk_create(
        CustomerProfile(ai_agent=agent, phone_number=f"+1212555{n:04d}", interest_level=("cold", "hot")[n % 2])
        for n in range(6)
    )
    CallSession.objects.bulk_create(
        CallSession(
            ai_agent=agent, customer_profile=people[n], call_type="outbound", status="completed",
            outcome=("converted", "no_answer", "")[n % 3], started_at=timezone.now() - timedelta(hours=9 * n),
            answered_at=timezone.now() if n % 2 else None, duration_seconds=20 * n,
        )
        for n in range(6)
    )  # fmt: skip
    assert customer_stats(agent=agent).total == 0  # nobody counted them yet

    call_command("dashboard_counts_rebuild", verbosity=0)

    assert_dashboard_matches_the_rows(agent, agent_b)
