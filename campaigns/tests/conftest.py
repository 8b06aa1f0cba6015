"""Fixtures for the campaign tests: an agent that may call all day, and a way to make campaigns."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from campaigns.dispatch import campaigns_dispatch_inline
from campaigns.services import CampaignSpec, campaign_create, campaign_leads_add, campaign_transition
from customers.tests.factories import CustomerFactory

NY = ZoneInfo("America/New_York")
TUESDAY_2PM = datetime(2025, 6, 3, 14, 0, tzinfo=NY)


@pytest.fixture
def agent(agent_a):
    agent_a.working_hours_start = time(7, 0)
    agent_a.working_hours_end = time(22, 0)
    agent_a.save()
    agent_a.client.daily_call_limit = 10_000
    agent_a.client.save()
    return agent_a


def customers(agent, n: int, *, zone: str = "America/New_York", prefix: str = "+1212555", **kwargs) -> list:
    return [CustomerFactory(ai_agent=agent, phone_number=f"{prefix}{i:04d}", timezone=zone, **kwargs) for i in range(n)]


def running_campaign(agent, leads, **spec):
    spec = {"name": "Summer promo", "goal": "Book a survey", **spec}
    campaign = campaign_create(agent=agent, spec=CampaignSpec(**spec))
    campaign_leads_add(campaign=campaign, customers=leads)
    return campaign_transition(campaign=campaign, to="running")


def tick() -> dict:
    return campaigns_dispatch_inline().as_dict()
