"""A campaign in Chromium: created with a CSV upload, started, and watched live as calls are placed and end.

The dispatcher runs in the test (as the beat would) while the page polls its live card with
HTMX; the figures and the outcomes chart change without a reload. Real clock: the leads are
put in a zone where it is daytime now, every day of the week allowed.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from accounts.tests.factories import ClientFactory, UserFactory
from agents.tests.factories import AIAgentFactory
from calls.models import CallSession
from calls.simulated_phone import SimulatedPhone
from campaigns.dispatch import campaigns_dispatch_inline
from campaigns.models import Campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Auckland",
]
PASSWORD = "campaign-pass-123"


def _daytime_zone() -> str:
    for name in ZONES:
        if 10 <= datetime.now(ZoneInfo(name)).hour < 19:
            return name
    pytest.skip("no zone in the list is in daytime now")


@pytest.fixture
def signed_in(page, live_server):
    client = ClientFactory(name="Acme Solar", slug="acme-browser", timezone="UTC")
    AIAgentFactory(
        client=client, name="Sarah", training_level=90, status="active",
        working_hours_start=time(0, 0), working_hours_end=time(23, 59),
    )  # fmt: skip
    UserFactory(client=client, email="owner@acme-browser.test", password=PASSWORD)
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme-browser.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_a_campaign_from_a_csv_with_live_progress(signed_in, tmp_path, screenshots):
    page = signed_in
    zone = _daytime_zone()
    csv = tmp_path / "leads.csv"
    csv.write_text(
        "phone_number,name,timezone,do_not_call\n"
        + "".join(f"+1212555{i:04d},Lead {i},{zone},no\n" for i in range(4))
        + f"+12125559999,Opted Out,{zone},yes\nnot-a-number,Broken,{zone},no\n"
    )
    page.get_by_role("link", name="Campaigns").first.click()
    page.wait_for_url("**/campaigns/")
    page.get_by_label("Name").fill("Spring roofs")
    page.get_by_label("Goal").fill("Book a roof survey")
    for day in ("Sat", "Sun"):
        page.get_by_role("checkbox", name=day, exact=True).check()
    page.locator('input[name="window_start"]').fill("08:00")
    page.locator('input[name="window_end"]').fill("21:00")
    page.get_by_label("Leads (CSV)").set_input_files(str(csv))
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/[0-9a-f-]+/\?import=[0-9a-f-]+$"))
    page.locator('#import-progress[data-done="true"]').wait_for(timeout=10_000)  # the import job's card
    assert page.locator("[data-campaign-leads]").get_attribute("data-campaign-leads") == "5"
    assert page.locator("[data-import-errors]").inner_text() == "1"
    assert page.locator('[data-kpi="remaining"]').inner_text() == "4 / 5"

    page.get_by_role("button", name="Start").click()
    page.locator('#campaign-live[data-campaign-status="running"]').wait_for()
    campaigns_dispatch_inline()  # the beat's tick
    page.locator('[data-kpi="dialled"]', has_text="4").wait_for(timeout=10_000)

    campaign = Campaign.objects.get()
    agent = campaign.ai_agent
    for n, call in enumerate(CallSession.objects.order_by("customer_profile__phone_number")):
        SimulatedPhone(agent).hang_up(call.twilio_call_sid, status="completed" if n < 2 else "busy")
    page.locator('[data-kpi="answered"]', has_text="2").wait_for(timeout=10_000)
    assert page.locator('[data-kpi="remaining"]').inner_text() == "2 / 5"  # the busy ones wait to be retried
    assert page.locator("canvas[data-campaign-chart]").get_attribute("data-drawn") == "1"  # one hour of outcomes
    page.screenshot(path=str(screenshots / "campaign-live.png"), full_page=True)

    page.get_by_role("button", name="Pause").click()
    page.locator('#campaign-live[data-campaign-status="paused"]').wait_for()
    assert campaigns_dispatch_inline().claimed == 0
