"""The learning run: incremental by watermark, each outcome once, the optimizing rule, and the
engine acting on what was learned (callbacks booked at the hours customers pick up).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from agents.memory import fold_outcomes, learned_insights, preferred_call_hours
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.learning import (
    OPTIMIZING_MIN_OUTCOMES,
    WATERMARK_OVERLAP,
    agent_learn_new_outcomes,
    agents_to_learn,
)
from calls.models import CallSession
from calls.simulated_phone import SimulatedPhone
from calls.tests.factories import CallFactory
from conversation.scripted import ScriptedProvider, learned_callback_time
from customers.tests.factories import CustomerFactory
from integrations.llm.base import ConversationContext, ScheduleCallback

NY = ZoneInfo("America/New_York")
MONDAY_9AM = datetime(2025, 6, 2, 9, 0, tzinfo=NY)


def seeded(customer, n: int, *, outcome="interested", hour=14, day=MONDAY_9AM, status=None):
    """Calls as a bulk import leaves them: ended, with an outcome, never learned."""
    started = day.replace(hour=hour) - timedelta(days=1)
    status = status or ("completed" if outcome not in ("no_answer", "failed") else "no_answer")
    return [
        CallFactory(customer_profile=customer, outcome=outcome, status=status, started_at=started) for _ in range(n)
    ]


def processed(agent: AIAgent) -> int:
    agent.refresh_from_db()
    return agent.conversation_memory.get("processed_calls", 0)


@pytest.mark.django_db
def test_each_outcome_is_learned_once_as_the_clock_moves_on(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    with time_machine.travel(MONDAY_9AM, tick=False):
        seeded(customer, 3)
        first = agent_learn_new_outcomes(agent_id=agent_a.pk)
        again = agent_learn_new_outcomes(agent_id=agent_a.pk)
    assert (first.learned, again.learned, processed(agent_a)) == (3, 0, 3)
    assert agent_a.learned_through == MONDAY_9AM

    with time_machine.travel(MONDAY_9AM + timedelta(minutes=10), tick=False):
        seeded(customer, 2, outcome="converted")
        assert agent_learn_new_outcomes(agent_id=agent_a.pk).learned == 2
    with time_machine.travel(MONDAY_9AM + timedelta(minutes=20), tick=False):
        assert agent_learn_new_outcomes(agent_id=agent_a.pk).learned == 0

    agent_a.refresh_from_db()
    assert agent_a.conversation_memory["outcomes"] == {"interested": 3, "converted": 2}
    assert agent_a.learned_through == MONDAY_9AM + timedelta(minutes=20)
    assert not CallSession.objects.filter(outcome_learned=False).exists()


@pytest.mark.django_db
def test_a_run_reads_only_calls_updated_since_the_watermark(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    with time_machine.travel(MONDAY_9AM, tick=False):
        agent_learn_new_outcomes(agent_id=agent_a.pk)
    (stale,) = seeded(customer, 1)
    (late_commit,) = seeded(customer, 1)
    # One was last touched long before the watermark (a rescan would find it); the other just
    # before it, as by a transaction that committed after the last run started.
    CallSession.objects.filter(pk=stale.pk).update(updated_at=MONDAY_9AM - WATERMARK_OVERLAP - timedelta(minutes=1))
    CallSession.objects.filter(pk=late_commit.pk).update(updated_at=MONDAY_9AM - timedelta(minutes=1))

    with time_machine.travel(MONDAY_9AM + timedelta(minutes=10), tick=False):
        assert agent_learn_new_outcomes(agent_id=agent_a.pk).learned == 1

    assert set(CallSession.objects.filter(outcome_learned=True).values_list("pk", flat=True)) == {late_commit.pk}


@pytest.mark.django_db
def test_outcomes_learned_when_their_call_ended_are_not_folded_again(agent_a):
    customer = CustomerFactory(ai_agent=agent_a, timezone="America/New_York")
    with time_machine.travel(MONDAY_9AM + timedelta(hours=2), tick=False):
        phone = SimulatedPhone(agent_a)
        screen = phone.dial_in(from_number=customer.phone_number)
        phone.say(screen.call_sid, "Sounds great, sign me up")
        phone.hang_up(screen.call_sid)
        assert processed(agent_a) == 1  # the engine learned it when the call ended

        assert agent_learn_new_outcomes(agent_id=agent_a.pk).learned == 0
    assert processed(agent_a) == 1


@pytest.mark.django_db
def test_calls_still_live_or_never_dialled_are_not_learned(agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CallFactory(customer_profile=customer, outcome="interested", status="in_progress")
    CallFactory(customer_profile=customer, outcome="failed", status="failed", twilio_call_sid=None)

    assert agent_learn_new_outcomes(agent_id=agent_a.pk).learned == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "level", "outcomes", "expected"),
    [
        ("active", 85, OPTIMIZING_MIN_OUTCOMES, "optimizing"),
        ("active", 85, OPTIMIZING_MIN_OUTCOMES - 1, "active"),
        ("learning", 60, OPTIMIZING_MIN_OUTCOMES, "learning"),
        ("paused", 85, OPTIMIZING_MIN_OUTCOMES, "paused"),
    ],
)
def test_an_active_agent_optimizes_once_it_has_learned_enough_outcomes(agent_a, status, level, outcomes, expected):
    agent_a.status, agent_a.training_level = status, level
    agent_a.save()
    customer = CustomerFactory(ai_agent=agent_a)
    seeded(customer, outcomes)

    run = agent_learn_new_outcomes(agent_id=agent_a.pk)

    agent_a.refresh_from_db()
    assert (agent_a.status, run.promoted) == (expected, expected == "optimizing")
    assert agent_a.conversation_memory["processed_calls"] == outcomes


@pytest.mark.django_db
def test_every_agent_is_visited_by_the_learning_tick(agent_a, agent_b):
    assert agents_to_learn() == sorted([agent_a.pk, agent_b.pk])


def _pickup_pattern(customer):
    """Customers answer at 17:00 and mostly not at 10:00."""
    seeded(customer, 6, outcome="interested", hour=17)
    seeded(customer, 2, outcome="answered", hour=10)
    seeded(customer, 6, outcome="no_answer", hour=10)


@pytest.mark.django_db
def test_the_run_derives_the_hours_that_pick_up_and_plain_insights(agent_a):
    _pickup_pattern(CustomerFactory(ai_agent=agent_a, timezone="America/New_York"))

    with time_machine.travel(MONDAY_9AM, tick=False):
        agent_learn_new_outcomes(agent_id=agent_a.pk)

    agent_a.refresh_from_db()
    memory = agent_a.conversation_memory
    assert memory["preferred_hours"] == [17]
    assert memory["insights"][0].startswith("Customers pick up most often around 17:00 their time (6 of 6 calls)")
    assert any(line.startswith("Last 7 days: 0 conversions from 14 calls") for line in memory["insights"])


def test_no_hour_is_preferred_when_every_hour_picks_up_alike():
    from agents.memory import OutcomeFacts

    flat = [OutcomeFacts("answered", True, hour=h) for h in (9, 12, 15) for _ in range(5)]
    assert preferred_call_hours(fold_outcomes({}, flat)) == []
    assert learned_insights({}, today=MONDAY_9AM.date()) == []


def test_a_callback_without_a_time_is_booked_at_the_learned_hour():
    now = datetime(2025, 6, 2, 10, 0, tzinfo=NY)

    assert learned_callback_time(now, {}) == datetime(2025, 6, 2, 12, 0, tzinfo=NY)  # the default: 2 h on
    assert learned_callback_time(now, {"preferred_hours": [17, 11]}) == datetime(2025, 6, 2, 17, 0, tzinfo=NY)
    assert learned_callback_time(now, {"preferred_hours": [11]}) == datetime(2025, 6, 2, 12, 0, tzinfo=NY)
    assert learned_callback_time(now, {"preferred_hours": [23, "17", True]}) == datetime(2025, 6, 2, 12, 0, tzinfo=NY)
    evening = datetime(2025, 6, 2, 20, 0, tzinfo=NY)  # the default moves to 10:00 tomorrow; 17:00 is later that day
    assert learned_callback_time(evening, {"preferred_hours": [17]}) == datetime(2025, 6, 3, 17, 0, tzinfo=NY)


def test_the_scripted_provider_uses_the_learned_hour():
    context = ConversationContext(
        agent_name="Sarah", company_name="Acme Solar", now_local=datetime(2025, 6, 2, 10, 0, tzinfo=NY),
        memory={"preferred_hours": [17]}, transcript=(), caller_utterance="I'm busy right now, call me back later",
    )  # fmt: skip

    reply = ScriptedProvider().reply(context)

    (booking,) = [a for a in reply.actions if isinstance(a, ScheduleCallback)]
    assert booking.when == datetime(2025, 6, 2, 17, 0, tzinfo=NY)
    assert "5 PM" in reply.text


@pytest.mark.django_db
def test_after_learning_a_busy_caller_is_called_back_when_customers_pick_up(trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, timezone="America/New_York")
    _pickup_pattern(customer)
    monday_10am = datetime(2025, 6, 2, 10, 0, tzinfo=NY)
    with time_machine.travel(monday_10am, tick=False):
        agent_learn_new_outcomes(agent_id=trained_agent.pk)
        trained_agent.refresh_from_db()

        phone = SimulatedPhone(trained_agent)
        screen = phone.dial_in(from_number=customer.phone_number)
        phone.say(screen.call_sid, "I'm busy right now, call me back later")

    callback = ScheduledCallback.objects.get(customer_profile=customer)
    assert callback.scheduled_datetime == datetime(2025, 6, 2, 17, 0, tzinfo=NY)  # not the default 12:00


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_learning_runs_fold_each_outcome_exactly_once(agent_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks to race on")
    customer = CustomerFactory(ai_agent=agent_a)
    seeded(customer, 300)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def learner():
        from django.db import connections

        try:
            barrier.wait()
            for _ in range(3):
                results.append(agent_learn_new_outcomes(agent_id=agent_a.pk).learned)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=learner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(results) == 300
    assert processed(agent_a) == 300
    assert not CallSession.objects.filter(outcome_learned=False).exists()


@pytest.mark.django_db
def test_inbound_test_calls_are_not_counted_as_pick_ups(twilio_sim, api_a):
    """Someone ringing the agent says nothing about when customers answer *our* calls."""
    with time_machine.travel(MONDAY_9AM.replace(hour=14), tick=False):
        for _ in range(4):
            twilio_sim.call_sid = "CA" + uuid.uuid4().hex
            assert twilio_sim.incoming().status_code == 200
            twilio_sim.say("Sounds interesting, tell me more")
            twilio_sim.status("completed", seq=1)
    with time_machine.travel(MONDAY_9AM.replace(hour=15), tick=False):
        agent_learn_new_outcomes(agent_id=twilio_sim.agent.pk)
    assert processed(twilio_sim.agent) == 4  # learned: the outcomes and objections count
    learning = api_a.get("/api/dashboard/ai-agent/").json()["learning"]
    assert learning["best_pickup_hours"] == []
    assert twilio_sim.agent.conversation_memory["pickup_hours"] == {}


@pytest.mark.django_db
def test_best_hours_to_call_are_inside_the_calling_window(api_a, agent_a):
    """06:00 and 22:00 may have answered well once (old data, a manual call); never recommend them."""
    agent_a.conversation_memory = {
        "version": 1,
        "processed_calls": 60,
        "outcomes": {"answered": 30, "no_answer": 30},
        "pickup_hours": {
            "6": {"attempts": 10, "answered": 10},
            "22": {"attempts": 10, "answered": 9},
            "17": {"attempts": 20, "answered": 14},
            "10": {"attempts": 20, "answered": 1},
        },
    }
    agent_a.save()
    learning = api_a.get("/api/dashboard/ai-agent/").json()["learning"]
    assert [row["hour"] for row in learning["best_pickup_hours"]] == [17, 10]
    assert learning["preferred_call_hours"] == [17]
    assert not any("06:00" in s or "22:00" in s for s in learning["insights"])
