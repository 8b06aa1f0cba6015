"""Fixtures shared by every app's tests: two tenants, their users and agents; the served app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolated_settings(settings, monkeypatch):
    settings.PUBLIC_BASE_URL = "https://agents.example.com"
    settings.TELEPHONY_BACKEND = "simulated"
    settings.LLM_PROVIDER = "scripted"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # DRF copies throttle classes onto views at import time, so the setting alone is not enough.
    from django.core.cache import cache
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "throttle_classes", [])
    cache.clear()


@pytest.fixture
def client_a(db):
    from accounts.tests.factories import ClientFactory

    return ClientFactory(name="Acme Solar", slug="acme-solar", timezone="America/New_York")


@pytest.fixture
def client_b(db):
    from accounts.tests.factories import ClientFactory

    return ClientFactory(name="Bravo Roofing", slug="bravo-roofing", timezone="Europe/London")


@pytest.fixture
def user_a(client_a):
    from accounts.tests.factories import UserFactory

    return UserFactory(client=client_a, email="owner@acme.test", role="owner")


@pytest.fixture
def user_b(client_b):
    from accounts.tests.factories import UserFactory

    return UserFactory(client=client_b, email="owner@bravo.test", role="owner")


@pytest.fixture
def agent_a(client_a):
    from agents.tests.factories import AIAgentFactory

    return AIAgentFactory(
        client=client_a, name="Sarah", phone_number="+14155550100", training_level=85, status="active"
    )


@pytest.fixture
def agent_b(client_b):
    from agents.tests.factories import AIAgentFactory

    return AIAgentFactory(client=client_b, name="Ben", phone_number="+442071838750", training_level=85, status="active")


@pytest.fixture
def api_a(user_a):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user_a)
    return api


@pytest.fixture
def api_b(user_b):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user_b)
    return api


@pytest.fixture
def staff_user(db):
    from accounts.models import User

    return User.objects.create_superuser("staff@salesagents.test", "staff-pass-123")


@pytest.fixture
def relay_server(settings) -> Iterator[str]:
    """The app under uvicorn for relay tests (``calls.tests.relay_phone.relay_served``): its ws:// base."""
    from calls.tests.relay_phone import relay_served

    with relay_served(settings) as base:
        yield base
