"""The outcome service: counters once, memory folded once, customer moved by the rules, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from agents.memory import empty_memory
from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.models import CallSession
from calls.outcomes import agent_learn_calls, call_outcome_learn, call_record_outcome, interest_after
from calls.tests.factories import CallFactory, CallTurnFactory
from core.errors import CallNotAllowed, NotFound, ValidationFailed
from customers.tests.factories import CustomerFactory

NOW = datetime(2025, 10, 1, 15, 0, tzinfo=UTC)  # Wednesday 11:00 in New York


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def customer(agent_a):
    return CustomerFactory(ai_agent=agent_a, name="Dana Reyes", phone_number="+12125550101")


@pytest.fixture
def call(customer):
    return CallFactory(customer_profile=customer, started_at=NOW - timedelta(hours=1))


def record(agent, call, outcome="interested", **kwargs):
    return call_record_outcome(agent=agent, call=call, outcome=outcome, **kwargs)


def refreshed(*objects):
    for obj in objects:
        obj.refresh_from_db()


@pytest.mark.parametrize(
    ("current", "outcome", "expected"),
    [
        ("cold", "interested", "warm"),
        ("hot", "interested", "hot"),
        ("cold", "callback_requested", "warm"),
        ("warm", "converted", "converted"),
        ("hot", "not_interested", "cold"),
        ("converted", "not_interested", "converted"),
        ("converted", "interested", "converted"),
        ("warm", "voicemail", "warm"),
        ("hot", "answered", "hot"),
    ],
)
def test_interest_after(current, outcome, expected):
    assert interest_after(current, outcome) == expected


def test_first_outcome_updates_call_customer_agent_and_memory(agent_a, customer, call):
    result = record(
        agent_a,
        call,
        customer_response="Customer showed interest but concerned about price",
        conversation_notes="Likes the features; budget concern.",
        customer_satisfaction=4,
    )

    refreshed(call, customer, agent_a)
    assert (call.outcome, call.customer_satisfaction, call.outcome_learned) == ("interested", 4, True)
    assert call.customer_response == "Customer showed interest but concerned about price"
    assert (customer.total_calls, customer.successful_calls, customer.interest_level) == (1, 1, "warm")
    assert customer.last_contacted_at == call.started_at
    assert [n["text"] for n in customer.conversation_notes] == ["Likes the features; budget concern."]
    assert customer.conversation_notes[0]["call"] == str(call.pk)
    assert [(o["key"], o["text"]) for o in customer.objections] == [("price_too_high", "concerned about price")]
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (1, 0)
    memory = agent_a.conversation_memory
    assert memory["processed_calls"] == 1
    assert memory["outcomes"] == {"interested": 1}
    assert memory["objections"] == {"price_too_high": {"count": 1, "interested": 1, "converted": 0}}
    assert memory["pickup_hours"] == {"10": {"attempts": 1, "answered": 1}}  # 10:00 New York
    assert memory["conversion_trend"] == {"2025-10-01": {"calls": 1, "conversions": 0}}
    assert (result.counted, result.changed, result.learned, result.callback) == (True, True, True, None)


def test_recording_the_same_outcome_twice_changes_nothing(agent_a, customer, call):
    kwargs = {"customer_response": "Too expensive", "conversation_notes": "Call back next week."}
    record(agent_a, call, **kwargs)
    refreshed(customer, agent_a)
    before = (customer.total_calls, customer.successful_calls, customer.conversation_notes, customer.objections)
    memory_before = agent_a.conversation_memory

    result = record(agent_a, call, **kwargs)

    refreshed(customer, agent_a)
    assert (customer.total_calls, customer.successful_calls, customer.conversation_notes, customer.objections) == before
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (1, 0)
    assert agent_a.conversation_memory == memory_before
    assert (result.counted, result.changed) == (False, False)


def test_a_changed_outcome_moves_only_the_success_counters(agent_a, customer, call):
    record(agent_a, call, "interested")
    record(agent_a, call, "converted")

    refreshed(customer, agent_a)
    assert (customer.total_calls, customer.successful_calls) == (1, 1)
    assert (customer.interest_level, customer.is_converted) == ("converted", True)
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (1, 1)
    memory = agent_a.conversation_memory
    assert (memory["processed_calls"], memory["outcomes"]) == (1, {"converted": 1})
    assert memory["conversion_trend"]["2025-10-01"] == {"calls": 1, "conversions": 1}

    record(agent_a, call, "not_interested")

    refreshed(customer, agent_a)
    assert (customer.total_calls, customer.successful_calls) == (1, 0)
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (1, 0)
    # A converted customer is never lowered by an outcome.
    assert customer.interest_level == "converted"
    assert agent_a.conversation_memory["outcomes"] == {"not_interested": 1}


def test_counters_add_up_over_several_calls(agent_a, customer):
    calls = [CallFactory(customer_profile=customer, started_at=NOW - timedelta(hours=h)) for h in (1, 2, 3)]
    for one, outcome in zip(calls, ["interested", "converted", "no_answer"], strict=True):
        record(agent_a, one, outcome)
    record(agent_a, calls[0], "interested")  # again

    refreshed(customer, agent_a)
    assert (customer.total_calls, customer.successful_calls) == (3, 2)
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (3, 1)
    assert agent_a.conversion_rate == 33.3
    assert agent_a.conversation_memory["processed_calls"] == 3


def test_not_interested_cools_a_hot_customer(agent_a, customer, call):
    customer.interest_level = "hot"
    customer.save()

    record(agent_a, call, "not_interested")

    customer.refresh_from_db()
    assert customer.interest_level == "cold"


def test_do_not_call_outcome_opts_the_customer_out(agent_a, customer, call):
    pending = CallbackFactory(customer_profile=customer)

    record(agent_a, call, "do_not_call")

    refreshed(customer, pending)
    assert customer.is_do_not_call is True
    assert pending.status == ScheduledCallback.Status.CANCELED


def test_callback_is_booked_at_the_asked_time_when_allowed(agent_a, customer, call):
    at = datetime(2025, 10, 2, 18, 0, tzinfo=UTC)  # 14:00 New York

    result = record(agent_a, call, callback_requested=True, callback_datetime=at, callback_reason="Discuss pricing")

    callback = result.callback
    assert (callback.scheduled_datetime, callback.reason, callback.source_call_id) == (at, "Discuss pricing", call.pk)
    assert callback.priority_level == 2
    assert result.callback_moved is False
    refreshed(call, customer)
    assert (call.followup_scheduled, call.followup_datetime) == (True, at)
    assert customer.call_preference_time == "afternoon"


def test_callback_at_night_is_moved_to_the_next_allowed_time(agent_a, customer, call):
    night = datetime(2025, 10, 2, 3, 0, tzinfo=UTC)  # 23:00 New York

    result = record(agent_a, call, callback_requested=True, callback_datetime=night)

    # The agent works 09:00-18:00 New York time: the next morning at nine.
    assert result.callback.scheduled_datetime == datetime(2025, 10, 2, 13, 0, tzinfo=UTC)
    assert result.callback_moved is True
    assert result.callback_requested_at == night


def test_repeated_callback_request_books_one_callback(agent_a, customer, call):
    first = datetime(2025, 10, 2, 18, 0, tzinfo=UTC)
    second = datetime(2025, 10, 3, 14, 0, tzinfo=UTC)

    record(agent_a, call, callback_requested=True, callback_datetime=first)
    result = record(agent_a, call, callback_requested=True, callback_datetime=second, callback_reason="New reason")

    booked = ScheduledCallback.objects.filter(source_call=call)
    assert booked.count() == 1
    assert (booked.get().scheduled_datetime, booked.get().reason) == (second, "New reason")
    assert result.callback.pk == booked.get().pk


def test_callback_for_a_do_not_call_customer_is_refused_and_nothing_is_written(agent_a, customer, call):
    customer.is_do_not_call = True
    customer.save()
    at = datetime(2025, 10, 2, 18, 0, tzinfo=UTC)

    with pytest.raises(CallNotAllowed) as refused:
        record(
            agent_a, call, callback_requested=True, callback_datetime=at, conversation_notes="x", customer_response="y"
        )

    assert refused.value.code == "do_not_call"
    refreshed(call, customer, agent_a)
    assert (call.outcome, call.customer_response, call.conversation_notes, call.outcome_learned) == ("", "", "", False)
    assert (customer.total_calls, customer.conversation_notes, customer.objections) == (0, [], [])
    assert (agent_a.calls_handled, agent_a.conversation_memory) == (0, {})
    assert not ScheduledCallback.objects.exists()


def test_a_failing_callback_rolls_back_the_whole_outcome(agent_a, customer, call, monkeypatch):
    """No half-written rows: the call and counters are untouched when booking fails late."""
    monkeypatch.setattr(
        "calls.outcomes.callback_schedule",
        lambda **kwargs: (_ for _ in ()).throw(CallNotAllowed("No allowed calling time in the next week.")),
    )

    with pytest.raises(CallNotAllowed):
        record(agent_a, call, callback_requested=True, callback_datetime=NOW + timedelta(days=1))

    refreshed(call, customer, agent_a)
    assert (call.outcome, customer.total_calls, customer.interest_level, agent_a.calls_handled) == ("", 0, "cold", 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "maybe"}, "'maybe' is not a call outcome"),
        ({"customer_satisfaction": 6}, "customer_satisfaction must be between 1 and 5"),
        ({"customer_satisfaction": 0}, "customer_satisfaction must be between 1 and 5"),
        ({"callback_requested": True}, "callback_datetime is required"),
        (
            {"outcome": "do_not_call", "callback_requested": True, "callback_datetime": NOW},
            "cannot also get a callback",
        ),
        ({"callback_requested": True, "callback_datetime": datetime(2025, 10, 2, 14)}, "needs a timezone"),
    ],
)
def test_bad_input_is_refused_with_a_message(agent_a, call, kwargs, message):
    kwargs = {"outcome": "interested", **kwargs}

    with pytest.raises(ValidationFailed, match=message):
        call_record_outcome(agent=agent_a, call=call, **kwargs)

    call.refresh_from_db()
    assert call.outcome == ""


def test_another_agents_call_is_not_found_and_untouched(agent_a, agent_b, call):
    with pytest.raises(NotFound):
        record(agent_b, call, "converted")

    call.refresh_from_db()
    agent_a.refresh_from_db()
    assert (call.outcome, agent_a.calls_handled) == ("", 0)


def test_live_call_is_counted_and_learned_when_it_ends(agent_a, customer):
    live = CallFactory(customer_profile=customer, status=CallSession.Status.IN_PROGRESS, started_at=NOW)

    result = record(agent_a, live, "interested")

    refreshed(customer, agent_a, live)
    assert (result.counted, result.learned, live.outcome_learned) == (False, False, False)
    assert (customer.total_calls, agent_a.calls_handled, agent_a.conversation_memory) == (0, 0, {})
    assert customer.interest_level == "warm"  # the customer side applies at once

    live.status = CallSession.Status.COMPLETED
    live.save()
    assert call_outcome_learn(call=live) is True
    assert call_outcome_learn(call=live) is False  # a replayed status webhook

    refreshed(customer, agent_a, live)
    assert live.outcome_learned is True
    assert (customer.total_calls, customer.successful_calls, agent_a.calls_handled) == (1, 1, 1)
    assert agent_a.conversation_memory["outcomes"] == {"interested": 1}


def test_call_outcome_learn_credits_the_engines_objection_records(agent_a, customer):
    ended = CallFactory(customer_profile=customer, outcome="converted", started_at=NOW)
    CallTurnFactory(call=ended, sequence=0, speaker="caller", text="It's too expensive")
    CallTurnFactory(
        call=ended,
        sequence=1,
        actions=[
            {"type": "record_objection", "key": "price_too_high"},
            {"type": "answered_objection", "key": "price_too_high"},
        ],
    )
    CallTurnFactory(call=ended, sequence=2, actions=[{"type": "record_objection", "key": "need_to_think"}, "junk"])

    call_outcome_learn(call=ended)

    agent_a.refresh_from_db()
    customer.refresh_from_db()
    memory = agent_a.conversation_memory
    assert memory["objections"] == {
        "need_to_think": {"count": 1, "interested": 1, "converted": 1},
        "price_too_high": {"count": 1, "interested": 1, "converted": 1},
    }
    assert memory["objection_answers"] == {"price_too_high": {"uses": 1, "interested": 1, "converted": 1}}
    assert (customer.interest_level, customer.is_converted, agent_a.successful_conversions) == ("converted", True, 1)


def test_correcting_a_learned_outcome_refolds_the_memory(agent_a, customer):
    ended = CallFactory(customer_profile=customer, outcome="interested", started_at=NOW)
    CallTurnFactory(call=ended, sequence=0, actions=[{"type": "answered_objection", "key": "price_too_high"}])
    call_outcome_learn(call=ended)

    record(agent_a, ended, "converted")

    agent_a.refresh_from_db()
    memory = agent_a.conversation_memory
    assert memory["processed_calls"] == 1
    assert memory["objection_answers"] == {"price_too_high": {"uses": 1, "interested": 1, "converted": 1}}
    assert (agent_a.calls_handled, agent_a.successful_conversions) == (1, 1)


def test_agent_learn_calls_folds_seeded_calls_once_without_counting(agent_a, customer, agent_b):
    seeded = [
        CallFactory(customer_profile=customer, outcome=outcome, started_at=NOW - timedelta(days=1))
        for outcome in ("interested", "no_answer", "converted")
    ]
    foreign = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b), outcome="converted")
    live = CallFactory(customer_profile=customer, outcome="interested", status=CallSession.Status.IN_PROGRESS)

    assert agent_learn_calls(agent=agent_a, calls=[*seeded, foreign, live]) == 3
    assert agent_learn_calls(agent=agent_a, calls=CallSession.objects.filter(ai_agent=agent_a)) == 0

    agent_a.refresh_from_db()
    assert agent_a.conversation_memory["processed_calls"] == 3
    assert agent_a.conversation_memory["outcomes"] == {"interested": 1, "no_answer": 1, "converted": 1}
    assert agent_a.calls_handled == 0  # whatever closed them counted them
    assert set(CallSession.objects.filter(outcome_learned=True).values_list("pk", flat=True)) == {c.pk for c in seeded}
    foreign.refresh_from_db()
    assert foreign.outcome_learned is False


def test_memory_starts_from_whatever_the_row_holds(agent_a, call):
    agent_a.conversation_memory = {"insights": ["keep me"], "processed_calls": 4}
    agent_a.save()

    record(agent_a, call, "answered")

    agent_a.refresh_from_db()
    assert agent_a.conversation_memory["insights"] == ["keep me"]
    assert agent_a.conversation_memory["processed_calls"] == 5
    assert set(empty_memory()) <= set(agent_a.conversation_memory)
