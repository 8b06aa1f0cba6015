"""No call stays open: lost status callbacks, the simulated phone's ring timeout, phones that quit."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.dispatch import callbacks_dispatch_due
from calls.models import CallSession
from calls.outbound import call_place
from calls.reconcile import RING_TIMEOUT, calls_reconcile_stale
from calls.tasks import reconcile_stale_calls
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@pytest.fixture
def customer(trained_agent):
    return CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123", timezone="America/New_York")


@pytest.fixture
def placed_callback(customer):
    """A due callback the dispatcher has placed: its call is queued and the callback in progress."""
    callback = CallbackFactory(customer_profile=customer, scheduled_datetime=MONDAY_10AM - timedelta(minutes=1))
    with time_machine.travel(MONDAY_10AM, tick=False):
        assert callbacks_dispatch_due().as_dict()["results"] == {"placed": 1}
    return callback, CallSession.objects.get(callback=callback)


def test_a_twilio_call_whose_status_callback_never_came_is_closed_as_twilio_says(
    fake_twilio, placed_callback, settings
):
    settings.CALL_RECONCILE_AFTER_MINUTES = 30
    callback, call = placed_callback
    fake_twilio.calls[call.twilio_call_sid] = {"status": "completed", "duration": "42"}

    with time_machine.travel(MONDAY_10AM + timedelta(minutes=20), tick=False):
        assert calls_reconcile_stale().as_dict()["closed"] == {}  # young enough to be a real call
    assert not [r for r in fake_twilio.received if r.get("method") == "GET"]

    with time_machine.travel(MONDAY_10AM + timedelta(minutes=31), tick=False):
        report = reconcile_stale_calls.delay().get()  # the beat task, through Celery
        again = calls_reconcile_stale().as_dict()

    assert report["closed"] == {"completed": 1} and again["closed"] == {}
    fetch = [r for r in fake_twilio.received if r.get("method") == "GET"]
    assert len(fetch) == 1 and fetch[0]["path"].endswith(f"/Calls/{call.twilio_call_sid}.json")
    call.refresh_from_db()
    assert (call.status, call.outcome, call.duration_seconds) == ("completed", "answered", 42)
    assert call.ended_at and "status callback never came" in call.conversation_notes
    assert call.customer_profile.__class__.objects.get(pk=call.customer_profile_id).total_calls == 1
    callback.refresh_from_db()
    assert callback.status == "completed"


def test_a_twilio_call_still_in_progress_is_left_alone(fake_twilio, placed_callback):
    _, call = placed_callback
    fake_twilio.calls[call.twilio_call_sid] = {"status": "in-progress"}
    with time_machine.travel(MONDAY_10AM + timedelta(hours=2), tick=False):
        assert calls_reconcile_stale().as_dict() == {"checked": 1, "closed": {}, "errors": 0}
    assert CallSession.objects.get().status == "queued"


def test_a_call_twilio_does_not_know_is_closed_as_failed(fake_twilio, placed_callback):
    callback, call = placed_callback
    with time_machine.travel(MONDAY_10AM + timedelta(hours=2), tick=False):
        assert calls_reconcile_stale().as_dict()["closed"] == {"failed": 1}
    call.refresh_from_db()
    assert (call.status, call.outcome) == ("failed", "failed")
    callback.refresh_from_db()
    assert callback.status == "scheduled" and callback.attempts == 1  # tried again after the follow-up delay


def test_an_unanswered_simulated_call_becomes_no_answer_after_the_ring_timeout(placed_callback, trained_agent):
    callback, call = placed_callback
    with time_machine.travel(MONDAY_10AM + RING_TIMEOUT - timedelta(seconds=5), tick=False):
        calls_reconcile_stale()
    assert CallSession.objects.get().status == "queued"  # still ringing

    with time_machine.travel(MONDAY_10AM + RING_TIMEOUT + timedelta(seconds=5), tick=False):
        assert calls_reconcile_stale().as_dict()["closed"] == {"no_answer": 1}
    call.refresh_from_db()
    assert (call.status, call.outcome) == ("no_answer", "no_answer")
    callback.refresh_from_db()
    assert callback.status == "scheduled" and callback.attempts == 1
    assert callback.scheduled_datetime > MONDAY_10AM  # tried again after the agent's follow-up delay


def test_a_queued_call_that_never_got_a_sid_is_closed_after_the_limit(customer, trained_agent, settings):
    settings.CALL_RECONCILE_AFTER_MINUTES = 30
    call = CallSession.objects.create(
        ai_agent=trained_agent, customer_profile=customer, call_type="outbound", started_at=MONDAY_10AM
    )
    with time_machine.travel(MONDAY_10AM + timedelta(minutes=31), tick=False):
        assert calls_reconcile_stale().as_dict()["closed"] == {"failed": 1}
        call.refresh_from_db()
        assert call.status == "failed"
        assert call_place(agent=trained_agent, customer=customer).status == "queued"  # may be dialled again


@time_machine.travel(MONDAY_10AM, tick=False)
def test_the_simulator_api_closes_the_call_when_the_agent_ends_it(api_a, trained_agent):
    started = api_a.post("/api/agents/ai/start-call/", {"phone_number": "+12125550123"}, format="json").json()
    sid = started["twilio_call_sid"]
    api_a.post(f"/api/simulator/calls/{sid}/answer/", {}, format="json")

    screen = api_a.post(f"/api/simulator/calls/{sid}/say/", {"text": "Stop calling me"}, format="json").json()

    assert screen["ended"] is True
    call = CallSession.objects.get(twilio_call_sid=sid)
    assert (call.status, call.outcome) == ("completed", "do_not_call") and call.ended_at
    assert call.customer_profile.is_do_not_call


@time_machine.travel(MONDAY_10AM, tick=False)
def test_ctrl_c_on_the_terminal_phone_hangs_up(trained_agent, monkeypatch):
    def interrupted(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)
    out = io.StringIO()
    call_command("phone", agent=trained_agent.client.slug, from_number="+12125550123", stdout=out)

    assert "Call ended." in out.getvalue()
    call = CallSession.objects.get()
    assert call.status == "completed" and call.ended_at


def test_a_booked_callback_is_not_swallowed(customer):
    # A callback whose call was never placed is not the reconciler's business.
    CallbackFactory(customer_profile=customer, scheduled_datetime=MONDAY_10AM + timedelta(days=1))
    with time_machine.travel(MONDAY_10AM + timedelta(hours=3), tick=False):
        assert calls_reconcile_stale().as_dict() == {"checked": 0, "closed": {}, "errors": 0}
    assert ScheduledCallback.objects.get().status == "scheduled"
