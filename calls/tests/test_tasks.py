"""The Celery tasks (run eagerly): thin, idempotent, enqueued after commit, retried when transient.

Also the Celery app's configuration and the ``setup_periodic_tasks`` command.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from callbacks.claims import callbacks_claim_due
from callbacks.tests.factories import CallbackFactory
from calls import tasks
from calls.models import CallSession
from calls.simulated_phone import SimulatedGateway
from customers.tests.factories import CustomerFactory
from integrations.twilio import TelephonyUnavailable

pytestmark = pytest.mark.django_db

app = tasks.dispatch_due_callbacks.app  # the project's Celery app (calls may not import salesagents)

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)


@pytest.fixture
def due_callback(agent_a):
    agent_a.working_hours_start, agent_a.working_hours_end = time(7, 0), time(22, 0)
    agent_a.save()
    customer = CustomerFactory(ai_agent=agent_a, timezone="America/New_York")
    return CallbackFactory(customer_profile=customer, scheduled_datetime=TUESDAY_2PM - timedelta(minutes=1))


def test_the_app_acknowledges_late_and_requeues_what_a_dead_worker_held():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    for name in ("calls.dispatch_due_callbacks", "calls.place_callback", "calls.learn_outcomes",
                 "calls.learn_agent_outcomes", "calls.send_daily_reports", "calls.send_daily_report",
                 "calls.refine_sentiment"):  # fmt: skip
        task = app.tasks[name]
        assert task.acks_late is True, name
        assert OperationalError in task.autoretry_for, name


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_beat_tick_enqueues_one_placement_per_claim_after_commit(due_callback, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        result = tasks.dispatch_due_callbacks.delay().get()

    assert result["claimed"] == 1
    assert len(enqueued) == 1
    call = CallSession.objects.get()
    assert (call.callback_id, call.call_type) == (due_callback.pk, "scheduled")


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_placement_task_is_idempotent(due_callback):
    (claim,) = callbacks_claim_due()
    token = claim.lease_expires_at.isoformat()

    first = tasks.callback_place_task.delay(str(claim.pk), token).get()
    again = tasks.callback_place_task.delay(str(claim.pk), token).get()

    assert (first["result"], again["result"]) == ("placed", "skipped")
    assert CallSession.objects.count() == 1


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_twilio_overload_is_retried_with_backoff_then_the_attempt_is_spent(due_callback, monkeypatch):
    dials = []

    def overloaded(self, request):
        dials.append(request.to)
        raise TelephonyUnavailable("Service unavailable", status=503)

    monkeypatch.setattr(SimulatedGateway, "place_call", overloaded)
    (claim,) = callbacks_claim_due()

    tasks.callback_place_task.delay(str(claim.pk), claim.lease_expires_at.isoformat())

    assert len(dials) == tasks.PLACE_RETRIES + 1  # the first try and every retry, one dial each
    due_callback.refresh_from_db()
    assert (due_callback.status, due_callback.attempts) == ("scheduled", 1)
    assert [tasks._backoff(n) for n in range(5)] == [2, 4, 8, 16, 32]


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_a_database_blip_is_retried(due_callback, monkeypatch):
    real = tasks.dispatch.callbacks_dispatch_due
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(tasks.dispatch, "callbacks_dispatch_due", flaky)

    result = tasks.dispatch_due_callbacks.apply().get()

    assert len(calls) == 2 and result["claimed"] == 1


def test_the_learning_tick_fans_out_one_task_per_agent(agent_a, agent_b, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        assert tasks.learn_outcomes.delay().get() == 2
    assert len(enqueued) == 2
    agent_a.refresh_from_db()
    assert agent_a.learned_through is not None


def test_the_report_tick_fans_out_to_clients_past_nine(agent_a, agent_b, user_a, django_capture_on_commit_callbacks):
    from django.core import mail

    # 09:30 in New York (client A) is 14:30 in London (client B): both are due.
    with time_machine.travel(datetime(2025, 6, 3, 9, 30, tzinfo=NY), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.send_daily_reports.delay().get() == 2
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.send_daily_reports.delay().get() == 0
    assert [m.to for m in mail.outbox] == [["owner@acme.test"]]  # client B has no users to tell


def test_setup_periodic_tasks_is_idempotent_and_keeps_what_staff_changed():
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    call_command("setup_periodic_tasks", stdout=out)

    tasks_by_name = {t.name: t for t in PeriodicTask.objects.select_related("interval")}
    assert {name: (t.task, t.interval.every, t.interval.period) for name, t in tasks_by_name.items()} == {
        "Place due callbacks": ("calls.dispatch_due_callbacks", 15, "seconds"),
        "Close calls left open": ("calls.reconcile_stale_calls", 1, "minutes"),
        "Learn from call outcomes": ("calls.learn_outcomes", 10, "minutes"),
        "Send daily reports": ("calls.send_daily_reports", 15, "minutes"),
        "Work through running campaigns": ("campaigns.dispatch", 15, "seconds"),
    }
    assert tasks_by_name["Place due callbacks"].expire_seconds == 30
    assert all(name in app.tasks for name in (t.task for t in tasks_by_name.values()))
    assert out.getvalue().count("unchanged") == 5

    # Staff slow the dispatcher down and pause learning in the admin; a restart keeps that.
    slower, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.filter(name="Place due callbacks").update(interval=slower)
    PeriodicTask.objects.filter(name="Learn from call outcomes").update(enabled=False)
    call_command("setup_periodic_tasks", stdout=out)
    assert PeriodicTask.objects.get(name="Place due callbacks").interval == slower
    assert PeriodicTask.objects.get(name="Learn from call outcomes").enabled is False

    call_command("setup_periodic_tasks", "--reset", stdout=out)
    assert PeriodicTask.objects.get(name="Place due callbacks").interval.every == 15
    assert PeriodicTask.objects.get(name="Learn from call outcomes").enabled is True
    assert PeriodicTask.objects.count() == 5


@time_machine.travel(TUESDAY_2PM, tick=False)
def test_the_dispatch_command_places_due_callbacks(due_callback):
    out = StringIO()

    call_command("dispatch_callbacks", stdout=out)

    assert "claimed 1" in out.getvalue() and "placed: 1" in out.getvalue()
    assert CallSession.objects.filter(callback=due_callback).count() == 1
