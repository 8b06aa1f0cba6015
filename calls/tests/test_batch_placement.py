"""Placing a claimed set together: same rules per callback, sessions committed before any dial, one SID write."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections

from callbacks.claims import callbacks_claim_due
from callbacks.tests.factories import CallbackFactory
from calls import outbound
from calls.dispatch import callbacks_dispatch_due, callbacks_place_claimed
from calls.models import CallSession, OutboundDayCount
from calls.outbound import CallToPlace, calls_place, reserve_outbound_call
from calls.simulated_phone import SimulatedGateway
from core.errors import CallNotAllowed
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory
from integrations.twilio import TelephonyError

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)


def due_callbacks(agent, names: list[str], **customer_fields) -> dict:
    """One due callback per name, on its own customer, claimed in the order of ``names``."""
    made = {}
    for n, name in enumerate(names):
        fields = {"timezone": "America/New_York", **customer_fields.get(name, {})}
        customer = CustomerFactory(ai_agent=agent, name=name, **fields)
        due = TUESDAY_2PM - timedelta(minutes=len(names) - n)
        made[name] = CallbackFactory(customer_profile=customer, scheduled_datetime=due, priority_level=1)
    return made


def fresh(obj):
    obj.refresh_from_db()
    return obj


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_mixed_batch_settles_each_callback_by_its_own_rules(agent, monkeypatch):
    agent.client.daily_call_limit = 4
    agent.client.save()
    assert reserve_outbound_call(client=agent.client, at=TUESDAY_2PM - timedelta(hours=2))
    names = ["first", "dnc", "late", "refused", "second", "over_limit", "also_over"]
    made = due_callbacks(agent, names, dnc={"is_do_not_call": True}, late={"timezone": "Asia/Tokyo"})  # 03:00 there
    refused_number = made["refused"].customer_profile.phone_number
    dialled: list[str] = []
    real_place_call = SimulatedGateway.place_call

    def place_call(self, request):
        dialled.append(request.to)
        if request.to == refused_number:
            raise TelephonyError("Invalid 'To'", code=21211, status=400)
        return real_place_call(self, request)

    monkeypatch.setattr(SimulatedGateway, "place_call", place_call)
    claimed = callbacks_claim_due(limit=len(names))
    assert [cb.pk for cb in claimed] == [made[name].pk for name in names]

    placements = callbacks_place_claimed(claimed)

    assert [p.callback_id for p in placements] == [cb.pk for cb in claimed]
    assert {name: str(p.result) for name, p in zip(names, placements, strict=True)} == {
        "first": "placed",
        "dnc": "canceled",
        "late": "rescheduled",
        "refused": "retry_later",  # Twilio refused this one: its attempt is spent, the others go on
        "second": "placed",
        "over_limit": "rescheduled",
        "also_over": "rescheduled",
    }
    # One earlier today and two now: the call Twilio refused gives its slot back (it placed nothing),
    # as for a single placement; the two over the limit were already moved to tomorrow.
    assert OutboundDayCount.objects.get(client=agent.client).placed == 3
    assert len(dialled) == 3
    calls = {call.callback_id: call for call in CallSession.objects.all()}
    assert set(calls) == {made["first"].pk, made["refused"].pk, made["second"].pk}
    for name in ("first", "second"):
        call = calls[made[name].pk]
        assert call.status == "queued" and call.twilio_call_sid.startswith("CA")
        assert call.call_type == "scheduled" and call.context.startswith("Scheduled callback")
        assert placements[names.index(name)].call_id == call.pk
        assert (fresh(made[name]).status, made[name].attempts) == ("in_progress", 1)
    failed = calls[made["refused"].pk]
    assert (failed.status, failed.outcome, failed.twilio_call_sid) == ("failed", "failed", None)
    assert "Twilio error 21211" in failed.conversation_notes
    refused = fresh(made["refused"])
    assert (refused.status, refused.attempts) == ("scheduled", 1)
    assert refused.last_error == "The 'To' number is not a valid phone number."
    assert refused.scheduled_datetime == TUESDAY_2PM + timedelta(minutes=60)

    dnc = fresh(made["dnc"])
    assert (dnc.status, dnc.last_error) == ("canceled", "The customer is on the do-not-call list.")
    late = fresh(made["late"])
    assert (late.status, late.attempts) == ("scheduled", 0)
    assert "Asia/Tokyo" in late.last_error
    assert late.scheduled_datetime == datetime(2025, 6, 4, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    for name in ("over_limit", "also_over"):
        waiting = fresh(made[name])
        assert (waiting.status, waiting.attempts) == ("scheduled", 0)
        assert "daily limit" in waiting.last_error
        assert waiting.scheduled_datetime == datetime(2025, 6, 4, 8, 0, tzinfo=NY)


@time_machine.travel(TUESDAY_2PM, tick=False)
@pytest.mark.parametrize(
    ("write_within", "without_sid_at_each_dial"),
    [
        # Dials as fast as the simulated phone's: the set's SIDs are written together after the last.
        (timedelta(seconds=5), [3, 3, 3]),
        # Dials as slow as real ones: each SID is written before the next dial, so Twilio's webhooks
        # for the first calls of a set find them while the rest is dialled.
        (timedelta(0), [3, 2, 1]),
    ],
)
def test_the_sessions_are_recorded_before_the_first_dial_and_each_sid_soon_after_its_dial(
    agent, monkeypatch, write_within, without_sid_at_each_dial
):
    made = due_callbacks(agent, ["a", "b", "c"])
    seen: list[int] = []
    real_place_call = SimulatedGateway.place_call

    def place_call(self, request):
        # Every session of the set is there before any call is dialled.
        seen.append(CallSession.objects.filter(twilio_call_sid__isnull=True, status="queued").count())
        return real_place_call(self, request)

    monkeypatch.setattr(SimulatedGateway, "place_call", place_call)
    monkeypatch.setattr(outbound, "SID_WRITE_WITHIN", write_within)

    assert callbacks_dispatch_due().as_dict()["results"] == {"placed": 3}
    assert seen == without_sid_at_each_dial
    assert CallSession.objects.filter(twilio_call_sid__startswith="CA").count() == 3
    assert set(CallSession.objects.values_list("callback_id", flat=True)) == {cb.pk for cb in made.values()}


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_batch_returns_the_refusals_call_place_would_raise(agent):
    agent.client.daily_call_limit = 1
    agent.client.save()
    customers = [CustomerFactory(ai_agent=agent, timezone="America/New_York") for _ in range(3)]
    CustomerProfile.objects.filter(pk=customers[0].pk).update(is_do_not_call=True)
    customers[0].refresh_from_db()

    outcomes = calls_place([CallToPlace(agent=agent, customer=c) for c in customers])

    assert isinstance(outcomes[0], CallNotAllowed) and outcomes[0].code == "do_not_call"
    assert isinstance(outcomes[1], CallSession) and outcomes[1].twilio_call_sid.startswith("CA")
    assert isinstance(outcomes[2], CallNotAllowed) and outcomes[2].code == "daily_limit_reached"
    assert calls_place([]) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sessions_are_committed_before_the_first_dial_postgres(agent, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): another connection must see the committed rows")
    customers = [CustomerFactory(ai_agent=agent, timezone="America/New_York") for _ in range(3)]
    seen: list[int] = []
    real_place_call = SimulatedGateway.place_call

    def count_from_another_connection() -> None:
        try:
            seen.append(CallSession.objects.filter(twilio_call_sid__isnull=True).count())
        finally:
            connections.close_all()

    def place_call(self, request):
        other = threading.Thread(target=count_from_another_connection)
        other.start()
        other.join()
        return real_place_call(self, request)

    monkeypatch.setattr(SimulatedGateway, "place_call", place_call)
    with time_machine.travel(TUESDAY_2PM, tick=False):
        outcomes = calls_place([CallToPlace(agent=agent, customer=c) for c in customers])

    assert all(isinstance(o, CallSession) for o in outcomes)
    assert seen == [3, 3, 3]  # all committed before the first dial; the SIDs written once, after the last
    assert CallSession.objects.filter(twilio_call_sid__isnull=True).count() == 0


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_one_set_takes_each_clients_day_slots_under_its_own_limit(agent, agent_b):
    agent.client.daily_call_limit = 1
    agent.client.save()
    agent_b.working_hours_start, agent_b.working_hours_end = time(7, 0), time(22, 0)  # 19:00 in London
    agent_b.save()
    ours = [CustomerFactory(ai_agent=agent, timezone="America/New_York") for _ in range(2)]
    theirs = [CustomerFactory(ai_agent=agent_b, timezone="America/New_York") for _ in range(2)]

    outcomes = calls_place(
        [CallToPlace(agent=agent, customer=c) for c in ours] + [CallToPlace(agent=agent_b, customer=c) for c in theirs]
    )

    assert isinstance(outcomes[0], CallSession)
    assert isinstance(outcomes[1], CallNotAllowed) and outcomes[1].code == "daily_limit_reached"
    assert all(isinstance(o, CallSession) for o in outcomes[2:])
    placed = dict(OutboundDayCount.objects.values_list("client_id", "placed"))
    assert placed == {agent.client_id: 1, agent_b.client_id: 2}
    assert {o.ai_agent_id for o in outcomes[2:]} == {agent_b.pk}
