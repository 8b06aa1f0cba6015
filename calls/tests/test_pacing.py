"""Pacing at dial time on every outbound path: concurrency, calls per contact per week, dials per second."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from accounts.models import DialPace
from callbacks.tests.factories import CallbackFactory
from calls import pacing
from calls.dispatch import callbacks_dispatch_due
from calls.models import CallSession
from calls.outbound import CallToPlace, call_place, calls_place
from core.errors import CallNotAllowed
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)


def people(agent, n, prefix="+1212555"):
    return [
        CustomerFactory(ai_agent=agent, phone_number=f"{prefix}{i:04d}", timezone="America/New_York") for i in range(n)
    ]


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_start_call_is_refused_past_the_clients_live_calls_and_other_clients_keep_theirs(agent, agent_b):
    agent.client.max_concurrent_calls = 2
    agent.client.save()
    first, second, third = people(agent, 3)
    call_place(agent=agent, customer=first)
    call_place(agent=agent, customer=second)

    with pytest.raises(CallNotAllowed) as refused:
        call_place(agent=agent, customer=third)

    assert refused.value.code == "concurrency_limit"
    assert refused.value.next_allowed_at == TUESDAY_2PM + pacing.CONCURRENCY_RETRY
    # Client B's slots are its own: client A's full house takes none of them.
    agent_b.working_hours_start, agent_b.working_hours_end = time(0, 0), time(23, 59)
    agent_b.save()
    london = CustomerFactory(ai_agent=agent_b, phone_number="+442079460000", timezone="America/New_York")
    assert call_place(agent=agent_b, customer=london).status == "queued"
    # An inbound call does not count: a caller is always answered, and only dialling is paced.
    CallSession.objects.filter(customer_profile=first).update(call_type="inbound")
    assert call_place(agent=agent, customer=third).status == "queued"


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_set_of_calls_admits_only_the_free_slots(agent):
    agent.client.max_concurrent_calls = 3
    agent.client.save()
    outcomes = calls_place([CallToPlace(agent=agent, customer=c) for c in people(agent, 5)])

    assert [type(o).__name__ for o in outcomes] == ["CallSession"] * 3 + ["CallNotAllowed"] * 2
    assert {o.code for o in outcomes[3:]} == {"concurrency_limit"}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_customer_is_called_at_most_k_times_in_any_seven_days(agent):
    agent.client.contact_calls_per_week = 2
    agent.client.save()
    (customer,) = people(agent, 1)
    for days_ago, sid in ((8, "CA" + "1" * 32), (6, "CA" + "2" * 32), (1, "CA" + "3" * 32)):
        CallSession.objects.create(
            ai_agent=agent, customer_profile=customer, call_type="followup", status="no_answer",
            started_at=TUESDAY_2PM - timedelta(days=days_ago), twilio_call_sid=sid,
        )  # fmt: skip
    # A dial Twilio never took (failed, no SID) was no call to the customer.
    CallSession.objects.create(
        ai_agent=agent, customer_profile=customer, call_type="outbound", status="failed",
        started_at=TUESDAY_2PM - timedelta(hours=1),
    )  # fmt: skip

    with pytest.raises(CallNotAllowed) as refused:
        call_place(agent=agent, customer=customer)

    assert refused.value.code == "contact_week_limit"
    assert refused.value.next_allowed_at == TUESDAY_2PM + timedelta(days=1)  # when the 6-day-old call ages out


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_callback_refused_for_concurrency_waits_unspent(agent):
    agent.client.max_concurrent_calls = 1
    agent.client.save()
    a, b = people(agent, 2)
    call_place(agent=agent, customer=a)
    callback = CallbackFactory(customer_profile=b, scheduled_datetime=TUESDAY_2PM - timedelta(minutes=1))

    assert callbacks_dispatch_due(max_claims=None).as_dict()["results"] == {"rescheduled": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts) == ("scheduled", 0)
    assert callback.scheduled_datetime == TUESDAY_2PM + pacing.CONCURRENCY_RETRY


@pytest.fixture
def paced(settings, monkeypatch):
    settings.PACE_SIMULATED_PHONE = True
    settings.TWILIO_CALLS_PER_SECOND = 2
    waits: list[float] = []
    monkeypatch.setattr(pacing, "sleep", waits.append)
    return waits


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_dials_on_the_shared_platform_account_are_spaced_by_its_rate(agent, agent_b, paced):
    agent_b.working_hours_start, agent_b.working_hours_end = time(0, 0), time(23, 59)
    agent_b.save()
    for customer in people(agent, 3):
        call_place(agent=agent, customer=customer)
    call_place(agent=agent_b, customer=CustomerFactory(ai_agent=agent_b, timezone="America/New_York"))

    # Clock frozen: each dial waits for the next slot of the one shared account, 1/rate apart
    # (10 % wider, so a late wake-up never bunches two dials into one second).
    step = pacing.SPACING / 2
    assert paced == pytest.approx([step, 2 * step, 3 * step])
    assert DialPace.objects.get(account="platform").next_slot_at == TUESDAY_2PM + timedelta(seconds=4 * step)


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_client_with_its_own_subaccount_is_paced_on_its_own(agent, agent_b, paced):
    agent_b.client.twilio_subaccount_sid, agent_b.client.twilio_auth_token = "AC" + "b" * 32, "secret"
    agent_b.client.dial_rate_per_second = 1
    agent_b.client.save()
    call_place(agent=agent, customer=people(agent, 1)[0])
    agent_b.working_hours_start, agent_b.working_hours_end = time(0, 0), time(23, 59)
    agent_b.save()
    for customer in people(agent_b, 2, prefix="+1646555"):
        call_place(agent=agent_b, customer=customer)

    assert paced == pytest.approx([pacing.SPACING])  # the subaccount's second dial; the platform's first: no wait
    assert set(DialPace.objects.values_list("account", flat=True)) == {"platform", "AC" + "b" * 32}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_no_slot_soon_enough_fails_the_dial_like_twilios_429_and_gives_the_day_back(agent, paced, settings):
    settings.TWILIO_CALLS_PER_SECOND = 1
    DialPace.objects.create(account="platform", next_slot_at=TUESDAY_2PM + pacing.MAX_DIAL_WAIT + timedelta(seconds=1))
    (customer,) = people(agent, 1)

    with pytest.raises(pacing.DialRateExceeded):
        call_place(agent=agent, customer=customer)

    call = CallSession.objects.get()
    assert (call.status, call.twilio_call_sid) == ("failed", None)
    assert agent.client.outbound_days.get().placed == 0
    assert paced == []


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_dispatcher_sees_how_many_dials_the_account_can_start_soon(agent, paced, settings):
    settings.TWILIO_CALLS_PER_SECOND = 1
    assert pacing.dial_slots_free(client=agent.client, now=TUESDAY_2PM) == 9  # 10 s at 1 per 1.1 s
    DialPace.objects.create(account="platform", next_slot_at=TUESDAY_2PM + timedelta(seconds=8))
    assert pacing.dial_slots_free(client=agent.client, now=TUESDAY_2PM) == 1
    settings.PACE_SIMULATED_PHONE = False
    assert pacing.dial_slots_free(client=agent.client, now=TUESDAY_2PM) is None


def test_a_placer_that_wakes_late_gives_its_slot_up_and_takes_the_next(agent, settings, monkeypatch):
    settings.PACE_SIMULATED_PHONE = True
    settings.TWILIO_CALLS_PER_SECOND = 1
    with time_machine.travel(TUESDAY_2PM, tick=False) as clock:
        DialPace.objects.create(account="platform", next_slot_at=TUESDAY_2PM + timedelta(seconds=1))
        lateness = iter([timedelta(milliseconds=200), timedelta(0)])

        def sleep(seconds):  # the first wake-up comes 200 ms late, the second on time
            clock.shift(timedelta(seconds=seconds) + next(lateness))

        monkeypatch.setattr(pacing, "sleep", sleep)
        pacing.dial_slot_take(client=agent.client)

        # The late slot (at +1 s) was given up; the dial took the next one, at +2.1 s.
        assert timezone.now() == TUESDAY_2PM + timedelta(seconds=1 + pacing.SPACING)
        assert DialPace.objects.get().next_slot_at == TUESDAY_2PM + timedelta(seconds=1 + 2 * pacing.SPACING)
