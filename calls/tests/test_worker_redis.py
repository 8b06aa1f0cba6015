"""A real Celery worker with embedded beat places a due callback, on Redis (and on the
filesystem broker ``make run`` uses), within a bounded wait.

The worker is a separate process pointed at the test database, so the test's rows must be
committed (``transaction=True``) and the database must be one both processes can open:
PostgreSQL (CI sets ``DATABASE_URL``). SQLite's in-memory test database is private to this
process, so the test is skipped there. Nothing is enqueued by the test: the worker's own beat
(django-celery-beat, from the rows ``setup_periodic_tasks`` makes) fires the dispatcher, which
fans out the placement task that the same worker then runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time as clock
from datetime import UTC, datetime, time, timedelta
from io import StringIO
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from agents.tests.factories import AIAgentFactory
from callbacks.models import ScheduledCallback
from calls.models import CallSession
from customers.tests.factories import CustomerFactory
from integrations.tests.fake_openai import Canned, completion, is_sentiment_request

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60  # worker start (~3 s) + beat's first tick + the placement task; ~6 s in practice


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now, so the calling hours allow the call."""
    offset = (12 - datetime.now(tz=UTC).hour + 12) % 24 - 12  # -12..11 hours from UTC
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # Etc/GMT-3 is UTC+3 (POSIX signs)


@pytest.fixture
def due_callback(db):
    zone = _daytime_zone()
    agent = AIAgentFactory(
        training_level=90, status="active", working_hours_start=time(6), working_hours_end=time(22),
        client__timezone=zone,
    )  # fmt: skip
    customer = CustomerFactory(ai_agent=agent, timezone=zone)
    return ScheduledCallback.objects.create(
        ai_agent=agent, customer_profile=customer, scheduled_datetime=timezone.now() - timedelta(minutes=1),
        reason="Customer asked for a callback", priority_level=1,
    )  # fmt: skip


def _start_worker(broker_url: str, log_path, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "salesagents.test_settings",
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "TELEPHONY_BACKEND": "simulated",
        "LLM_PROVIDER": "scripted",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DB_CONN_MAX_AGE": "0",
        **extra_env,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "salesagents", "worker", "-B", "--pool=solo", "--loglevel=INFO",
        "--without-mingle", "--without-gossip", "-n", f"test-{os.getpid()}@%h",
    ]  # fmt: skip
    with log_path.open("wb") as log:  # the child keeps its own copy of the file
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: beat's child process is stopped with it
        )  # fmt: skip


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _broker(kind: str, tmp_path) -> str:
    if kind == "redis":
        if not settings.REDIS_URL:
            pytest.skip("needs a Redis server (REDIS_URL)")
        return settings.REDIS_URL
    return f"filesystem://{tmp_path / 'broker'}"


@pytest.mark.parametrize("broker", [pytest.param("redis", marks=pytest.mark.redis), "filesystem"])
def test_a_worker_with_beat_places_a_due_callback(broker, due_callback, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test: PostgreSQL")
    broker_url = _broker(broker, tmp_path)
    call_command("setup_periodic_tasks", stdout=StringIO())
    # Tick every 2 s instead of 15 (as staff may set it in the admin), so the test waits seconds.
    fast, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="calls.dispatch_due_callbacks").update(interval=fast)
    log = tmp_path / "worker.log"
    worker = _start_worker(broker_url, log)
    try:
        deadline = clock.monotonic() + WAIT_SECONDS
        while clock.monotonic() < deadline and worker.poll() is None:
            if CallSession.objects.filter(callback=due_callback).exists():
                break
            clock.sleep(0.5)
    finally:
        _stop(worker)
    output = log.read_text(errors="replace")

    call = CallSession.objects.filter(callback=due_callback).first()
    assert call is not None, f"no call within {WAIT_SECONDS} s; worker log:\n{output[-4000:]}"
    assert (call.call_type, call.twilio_call_sid[:2]) == ("scheduled", "CA")
    due_callback.refresh_from_db()
    assert (due_callback.status, due_callback.attempts) == ("in_progress", 1)
    assert "calls.dispatch_due_callbacks" in output and "calls.place_callback" in output


@pytest.mark.redis
def test_after_hang_up_a_worker_replaces_the_sentiment_with_the_models(twilio_sim, fake_llm, settings, tmp_path):
    """The status webhook closes the call and enqueues ``calls.refine_sentiment`` on Redis; a worker rates it."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test: PostgreSQL")
    broker_url = _broker("redis", tmp_path)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = broker_url
    fake_llm.respond_when(
        is_sentiment_request, Canned(body=completion(json.dumps({"label": "negative", "score": -0.6})))
    )
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")
    assert twilio_sim.status("completed", seq=3).status_code == 204
    call = CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid)
    assert call.status == "completed" and call.sentiment_analysis["analyzer"] == "lexicon"  # closed first

    log = tmp_path / "worker.log"
    worker = _start_worker(
        broker_url, log, LLM_PROVIDER="openai", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_llm.base_url
    )
    try:
        deadline = clock.monotonic() + WAIT_SECONDS
        while clock.monotonic() < deadline and worker.poll() is None:
            call.refresh_from_db()
            if call.sentiment_analysis.get("analyzer") == "llm":
                break
            clock.sleep(0.5)
    finally:
        _stop(worker)
    output = log.read_text(errors="replace")

    assert call.sentiment_analysis["analyzer"] == "llm", f"worker log:\n{output[-4000:]}"
    assert (call.sentiment_analysis["label"], call.sentiment_analysis["score"]) == ("negative", -0.6)
    assert "calls.refine_sentiment" in output and len(fake_llm.requests_where(is_sentiment_request)) == 1
