"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

One client's first day, end to end: sign up, create and train the agent, hold a test call on
the built-in phone (an objection answered with the trained answer, a callback booked), find
the call and its transcript, see the callback, read the charts' numbers back from Chart.js
and compare them with the database, and import a leads file with one bad row.

The screenshots (bench/screenshots/, not committed) are what a person sees at 1366x768.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.day_counts import call_day_counts_rebuild
from calls.models import CallSession, CallTurn
from calls.outcomes import PICKED_UP_OUTCOMES, agent_learn_calls
from customers.level_counts import customer_level_counts_rebuild
from customers.models import CustomerProfile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-pass-42"
CALLER = "+12025550143"
PRICE_ANSWER = "With zero down, most homeowners pay less each month than their old bill."
SCRIPT = (
    "Hi, this is [NAME] from [COMPANY]. We help homeowners cut their power bill with rooftop solar and a home "
    "battery, with nothing to pay upfront. Most of our customers pay less each month than before. "
    "Could I ask two quick questions to see if your roof qualifies for this year's rebate?"
)


def sign_up(page, *, email: str, company: str) -> None:
    page.goto("/signup/")
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Your name").fill("Ana Ruiz")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Timezone").select_option("America/New_York")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/onboarding/")


def create_agent(page) -> None:
    page.get_by_label("Agent name").fill("Sarah")
    page.get_by_label("Personality").select_option("friendly")
    page.get_by_label("Voice").select_option("Polly.Joanna-Neural")
    page.get_by_label("What you sell").fill("Rooftop solar panels with a home battery")
    page.get_by_label("Why customers buy it").fill("Lower power bills from the first month")
    page.get_by_label("Target conversions / month").fill("40")
    page.get_by_role("button", name="Create agent").click()
    page.wait_for_url("**/training/")


def train(page) -> None:
    # The script, written with the placeholder buttons; the preview fills them in as you type.
    script = page.get_by_role("textbox", name="Sales script")
    preview = page.locator("[data-script-preview]")
    script.fill("")
    page.get_by_role("button", name="Insert [COMPANY]").click()
    assert script.input_value() == "[COMPANY]"
    assert preview.inner_text() == "Sunrise Solar"
    script.fill(SCRIPT)
    assert "Hi, this is Sarah from Sunrise Solar." in preview.inner_text()
    page.get_by_role("button", name="Save script").click()
    page.wait_for_url("**/training/#script")

    # The objection table: two rows, one more added with HTMX and removed again.
    rows = page.locator("#objection-rows tr")
    rows.nth(0).locator("input[name=objection]").fill("Price too high")
    rows.nth(0).locator("textarea[name=answer]").fill(PRICE_ANSWER)
    add = page.get_by_role("button", name="Add objection")
    add.click()
    expect(page.locator("#objection-rows tr")).to_have_count(2)  # no eval: the page's CSP forbids it
    rows.nth(1).locator("input[name=objection]").fill("Already have a provider")
    rows.nth(1).locator("textarea[name=answer]").fill("Many of our customers switched from another provider.")
    add.click()
    expect(page.locator("#objection-rows tr")).to_have_count(3)
    rows.nth(2).get_by_role("button", name="Remove this objection").click()
    assert rows.count() == 2
    page.get_by_role("button", name="Save objection answers").click()
    page.wait_for_url("**/training/#objections")

    page.get_by_label("Pricing").fill("$0 down, from $89/month")
    page.get_by_label("Features").fill("Tier-1 panels\n10 kWh battery\nLive energy app")
    page.get_by_label("Benefits").fill("Lower bills\nBackup power\n25-year warranty")
    page.get_by_role("button", name="Save product details").click()
    page.wait_for_url("**/training/#product")


def chart_data(page, name: str) -> dict:
    return page.evaluate(
        """name => {
            const chart = Chart.getChart(document.querySelector(`canvas[data-chart="${name}"]`));
            return {labels: chart.data.labels,
                    datasets: chart.data.datasets.map(d => ({label: d.label, key: d.key, data: d.data}))};
        }""",
        name,
    )


def seed_history(agent: AIAgent) -> None:
    """Two weeks of calls, customers at every level and reply times: charts worth looking at."""
    rng = random.Random(6)
    now = timezone.now()
    levels = ["cold"] * 14 + ["warm"] * 9 + ["hot"] * 5 + ["converted"] * 3
    zones = ["America/New_York", "America/Chicago", "America/Los_Angeles"]
    customers = CustomerProfile.objects.bulk_create(
        CustomerProfile(
            ai_agent=agent,
            phone_number=f"+1312555{i:04d}",
            name=f"Lead {i}",
            timezone=zones[i % 3],
            interest_level=level,
            is_converted=level == "converted",
        )
        for i, level in enumerate(levels)
    )
    outcomes = ["answered", "interested", "not_interested", "converted", "callback_requested", "voicemail",
                "no_answer", "failed"]  # fmt: skip
    weights = [18, 14, 14, 6, 10, 12, 20, 3]
    calls = []
    business = ZoneInfo(agent.client.timezone)
    today = now.astimezone(business).date()
    for day in range(13, -1, -1):
        opening = datetime.combine(today - timedelta(days=day), time(9, 0), tzinfo=business)
        for _ in range(rng.randint(4, 12)):
            # Business hours: the shape of a real calling day.
            started = opening + timedelta(minutes=rng.randint(0, 9 * 60 - 1))
            if started > now:
                continue
            outcome = rng.choices(outcomes, weights)[0]
            picked = outcome in PICKED_UP_OUTCOMES
            calls.append(
                CallSession(
                    ai_agent=agent,
                    customer_profile=rng.choice(customers),
                    call_type="outbound",
                    status="completed",
                    outcome=outcome,
                    started_at=started,
                    answered_at=started if picked else None,
                    ended_at=started + timedelta(minutes=3),
                    duration_seconds=rng.randint(40, 400) if picked else 0,
                )
            )
    CallSession.objects.bulk_create(calls)
    # The learning task folds closed calls into the agent's memory; do what it would.
    agent_learn_calls(agent=agent, calls=calls)
    CallTurn.objects.bulk_create(
        CallTurn(call=call, sequence=0, speaker="agent", text="Hello!", latency_ms=rng.randint(180, 1400))
        for call in calls
        if call.answered_at and call.started_at > now - timedelta(days=6)
    )
    # Loaded in bulk past the services, so recounted as after any bulk load.
    call_day_counts_rebuild(agent=agent)
    customer_level_counts_rebuild(agent=agent)


def percentile(values: list[int], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def expected_charts(agent: AIAgent) -> dict:
    """The charts' numbers, counted here from the rows, independently of the dashboard's selectors."""
    now = timezone.now()
    business = ZoneInfo(agent.client.timezone)
    first_day = now.astimezone(business).date() - timedelta(days=13)
    per_day: dict[str, list[int]] = defaultdict(lambda: [0] * 14)
    attempts, answered = [0] * 24, [0] * 24
    calls = CallSession.objects.filter(ai_agent=agent).select_related("customer_profile")
    for call in calls:
        day = call.started_at.astimezone(business).date()
        if day >= first_day:
            per_day[call.outcome][(day - first_day).days] += 1
        if call.outcome and call.call_type != "inbound":  # our closed attempts, as the agent's memory learned them
            zone = ZoneInfo(call.customer_profile.timezone or agent.client.timezone)
            hour = call.started_at.astimezone(zone).hour
            attempts[hour] += 1
            answered[hour] += call.outcome in PICKED_UP_OUTCOMES
    levels = Counter(CustomerProfile.objects.filter(ai_agent=agent).values_list("interest_level", flat=True))
    order = ["cold", "warm", "hot", "converted"]
    latencies = list(
        CallTurn.objects.filter(
            call__ai_agent=agent, call__started_at__gte=now - timedelta(days=7), speaker="agent",
            latency_ms__isnull=False,
        ).values_list("latency_ms", flat=True)
    )  # fmt: skip
    return {
        "calls_per_day": dict(per_day),
        "funnel": [sum(levels[level] for level in order[i:]) for i in range(4)],
        "pickup_rate": [round(100 * a / n, 1) if n else 0.0 for a, n in zip(answered, attempts, strict=True)],
        "attempts": attempts,
        "latency": [percentile(latencies, 0.5), percentile(latencies, 0.95)],
    }


def test_a_clients_first_day(page, live_server, screenshots):
    # 1. Sign up and create the agent; until it exists every page leads to onboarding.
    sign_up(page, email="ana@sunrise.test", company="Sunrise Solar")
    page.goto("/calls/")
    page.wait_for_url("**/onboarding/")
    create_agent(page)
    agent = AIAgent.objects.get(client__users__email="ana@sunrise.test")
    assert (agent.status, agent.training_level) == ("training", 0)

    # 2. Train it past the 20 % a caller needs.
    train(page)
    agent.refresh_from_db()
    assert agent.training_level >= 20
    assert agent.knowledge["objection_responses"] == {
        "Price too high": PRICE_ANSWER,
        "Already have a provider": "Many of our customers switched from another provider.",
    }
    assert page.locator("[data-training-level]").inner_text() == str(agent.training_level)
    assert page.locator(".level-card [role=progressbar]").get_attribute("aria-valuenow") == str(agent.training_level)
    assert page.locator("#history tbody tr").count() == 3

    # 3. A test call on the built-in phone, typed with the keyboard.
    page.get_by_role("link", name="Test your agent").first.click()
    page.get_by_label("Call from (your test number)").fill(CALLER)
    page.get_by_role("button", name="Call Sarah").click()
    transcript = page.locator("#transcript")
    assert transcript.get_attribute("aria-live") == "polite"
    page.locator('#transcript [data-speaker="agent"]').first.wait_for()
    assert "Thank you for calling Sunrise Solar, this is Sarah." in transcript.inner_text()  # inbound: not the script
    say = page.get_by_label("Say something to Sarah")
    say.fill("Honestly it sounds too expensive for us")
    say.press("Enter")
    page.locator('#transcript [data-action="answered_objection"]').wait_for()
    assert PRICE_ANSWER in page.locator('#transcript [data-speaker="agent"]').nth(1).inner_text()
    page.get_by_label("Say something to Sarah").fill("I'm busy right now, call me tomorrow afternoon")
    page.get_by_role("button", name="Say", exact=True).click()
    page.locator("[data-call-ended]").wait_for()
    assert page.locator('#transcript [data-action="schedule_callback"]').count() == 1
    assert page.locator("#sim-status [data-badge=outcome]").get_attribute("data-value") == "callback_requested"
    call = CallSession.objects.get(ai_agent=agent, call_type="inbound")
    assert call.is_final and call.outcome == "callback_requested"
    assert list(call.turns.values_list("speaker", flat=True)) == ["agent", "caller", "agent", "caller", "agent"]

    # 4. The call in the calls list, filtered by outcome, and its transcript.
    page.get_by_role("link", name="Calls", exact=True).click()
    page.get_by_label("Outcome").select_option("callback_requested")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("[data-calls-table] tbody tr")
    assert rows.count() == 1
    assert CALLER in rows.first.inner_text()
    rows.first.get_by_role("link").click()
    page.wait_for_url(f"**/calls/{call.pk}/")
    turns = page.locator("[data-transcript] [data-turn]")
    assert turns.count() == 5
    assert "too expensive" in turns.nth(1).inner_text()
    assert PRICE_ANSWER in turns.nth(2).inner_text()
    assert page.locator("[data-transcript] [data-latency]").count() == 3  # every agent turn has its time
    assert page.locator('[data-actions-taken] [data-action="schedule_callback"]').count() == 1
    assert page.locator('[data-actions-taken] [data-action="answered_objection"]').count() == 1
    page.wait_for_timeout(200)
    page.screenshot(path=str(screenshots / "call-detail.png"))
    page.screenshot(path=str(screenshots / "call-detail-full.png"), full_page=True)

    # 5. The callback the caller asked for, in the upcoming list.
    callback = ScheduledCallback.objects.get(ai_agent=agent)
    page.get_by_role("link", name="Callbacks").first.click()
    row = page.locator(f'[data-section="upcoming"] [data-callback-id="{callback.pk}"]')
    assert CALLER in row.inner_text()
    assert "call me tomorrow afternoon" in row.inner_text()
    local = callback.scheduled_datetime.astimezone(ZoneInfo("America/New_York"))
    assert local.hour >= 12  # the afternoon, the caller's time
    assert local.strftime("%a %-d %b, %H:%M") in row.inner_text()

    # 6. The overview's charts, read back from Chart.js and counted again from the rows.
    seed_history(agent)
    page.get_by_role("link", name="Overview").click()
    page.wait_for_selector("html[data-charts-ready]")
    expected = expected_charts(agent)
    per_day = chart_data(page, "calls_per_day")
    assert {ds["key"]: ds["data"] for ds in per_day["datasets"]} == expected["calls_per_day"]
    assert len(per_day["labels"]) == 14
    funnel = chart_data(page, "funnel")
    assert funnel["labels"] == ["Cold", "Warm", "Hot", "Converted"]
    assert funnel["datasets"][0]["data"] == expected["funnel"]
    pickup = chart_data(page, "pickup")
    assert pickup["datasets"][0]["data"] == expected["pickup_rate"]
    assert pickup["datasets"][1]["data"] == expected["attempts"]
    assert chart_data(page, "latency")["datasets"][0]["data"] == expected["latency"]
    assert page.locator('[data-chart-table="calls_per_day"] [data-total]').nth(13).text_content() == str(
        sum(series[13] for series in expected["calls_per_day"].values())
    )
    assert "Price too high" in page.locator("[data-objections-table]").inner_text()
    page.wait_for_timeout(700)  # let the bars finish growing
    page.screenshot(path=str(screenshots / "overview.png"))
    page.screenshot(path=str(screenshots / "overview-full.png"), full_page=True)


CSV_ROWS = [
    "phone_number,name,email,interest_level",
    "+1 212 555 0101,Ava Patel,ava@example.com,warm",
    "(415) 555-0102,Liam Garcia,,cold",
    "555-01,Broken Number,,warm",
    "212.555.0104,Mia Kim,mia@example.com,hot",
]


def test_csv_import_with_a_bad_row_shows_its_line(page, live_server, client_a, screenshots, tmp_path, monkeypatch):
    from agents.tests.factories import AIAgentFactory
    from customers.tasks import customer_import_task

    User.objects.create_user("owner@acme.test", PASSWORD, client=client_a, role="owner")
    agent = AIAgentFactory(client=client_a, name="Sarah")
    # Enough rows for several batches of the worker.
    extra = [f"+1646555{n:04d},Lead {n},,cold" for n in range(1, 2101)]
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(CSV_ROWS + extra) + "\n")
    # The worker: the upload queues the job, and this test runs it once the page is polling,
    # as a worker on another machine would.
    queued: list[str] = []
    monkeypatch.setattr(customer_import_task, "delay", queued.append)

    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name="Customers").first.click()
    page.get_by_role("link", name="Import CSV").click()
    polls = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if re.search(r"/import/[0-9a-f-]{36}/", request.url) else None,
    )
    page.get_by_label("Leads file (CSV)").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-progress")).to_have_attribute("data-job-status", "queued")
    with page.expect_request(re.compile(r"/import/[0-9a-f-]{36}/$")):
        pass  # the page asks for the job's progress by itself
    assert len(queued) == 1
    customer_import_task.apply(args=queued)
    page.locator('#import-progress[data-done="true"]').wait_for(timeout=60_000)
    assert len(polls) >= 2  # the browser polled the job until it was done
    progress = page.locator("#import-progress [role=progressbar]")
    assert progress.get_attribute("aria-valuenow") == "100"
    errors = page.locator("[data-import-error-table] tbody tr")
    assert errors.count() == 1
    assert errors.first.get_attribute("data-error-line") == "4"
    assert "555-01" in errors.first.inner_text()
    assert page.locator("[data-import-created]").inner_text() == "2,103"
    assert CustomerProfile.objects.filter(ai_agent=agent).count() == 2103
    page.screenshot(path=str(screenshots / "import.png"))
