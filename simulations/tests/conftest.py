"""A demo-like client whose agent is trained (the seed_demo command), for the simulation tests."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import User
from agents.models import AIAgent


@pytest.fixture
def demo_agent(db) -> AIAgent:
    call_command("seed_demo", customers=4, calls=8, verbosity=0)
    return AIAgent.objects.select_related("client").get(client__slug="demo")


@pytest.fixture
def demo_api(demo_agent):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(User.objects.get(client=demo_agent.client))
    return api
