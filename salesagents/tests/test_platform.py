"""Settings, health, the compose file and the demo loader: the platform around the apps."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
import yaml
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from customers.contactability import booking_zone, is_allowed_time
from customers.models import CustomerProfile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"


def _settings_import(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "FIELD_ENCRYPTION_KEY")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "salesagents.settings", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = _settings_import({"DEBUG": "0"})
    if (ROOT / ".env").exists():
        pytest.skip("a developer .env supplies SECRET_KEY here")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_runs_without_secrets():
    assert _settings_import({"DEBUG": "1"}).returncode == 0


def test_compose_has_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"web", "worker", "beat", "postgres", "redis"}
    assert "uvicorn salesagents.asgi:application" in services["web"]["command"]  # HTTP and the relay socket
    assert services["worker"]["command"].startswith("celery -A salesagents worker")
    assert "DatabaseScheduler" in services["beat"]["command"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert "SECRET_KEY" in env and "FIELD_ENCRYPTION_KEY" in env


@pytest.mark.django_db
def test_demo_loader_is_idempotent():
    call_command("seed_demo", customers=12, calls=30, verbosity=0)
    counts = [m.objects.count() for m in (User, CustomerProfile, CallSession, CallTurn, ScheduledCallback)]
    call_command("seed_demo", customers=12, calls=30, verbosity=0)
    assert [m.objects.count() for m in (User, CustomerProfile, CallSession, CallTurn, ScheduledCallback)] == counts
    assert counts[2] == 30
    owner = User.objects.get(email="demo@salesagents.local")
    assert owner.check_password("demo-pass-2026")
    assert owner.client.agent.training_level >= 80


@pytest.mark.django_db
def test_demo_data_is_something_a_real_day_could_have_left():
    """Seeded at 04:50 UTC: no call in the future, callbacks at callable hours, objections learned,
    sentiment scores that match their labels, and no warm customer whose call converted."""
    with time_machine.travel(datetime(2026, 3, 11, 4, 50, tzinfo=UTC), tick=False):
        call_command("seed_demo", customers=20, calls=160, verbosity=0)
        now = timezone.now()
    agent = User.objects.get(email="demo@salesagents.local").client.agent
    calls = list(CallSession.objects.filter(ai_agent=agent).select_related("customer_profile"))
    assert calls and all(c.started_at <= now and c.ended_at <= now for c in calls)
    for callback in ScheduledCallback.objects.filter(ai_agent=agent).select_related("customer_profile"):
        zone = booking_zone(callback.customer_profile, agent)
        assert is_allowed_time(agent=agent, zone=zone, at=callback.scheduled_datetime), callback.scheduled_datetime
    objection_turns = CallTurn.objects.filter(call__ai_agent=agent, speaker="caller", text__icontains="expensive")
    assert objection_turns.exists()
    agent.refresh_from_db()
    assert agent.conversation_memory["objections"]["price_too_high"]["count"] == objection_turns.count()
    for call in calls:
        sentiment = call.sentiment_analysis
        if sentiment.get("label") == "positive":
            assert sentiment["score"] > 0
        elif sentiment.get("label") == "negative":
            assert sentiment["score"] < 0
    converted = {c.customer_profile_id for c in calls if c.outcome == "converted"}
    assert set(CustomerProfile.objects.filter(pk__in=converted).values_list("interest_level", flat=True)) == {
        "converted"
    }
