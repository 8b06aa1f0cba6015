"""What a newcomer tripped over in the dashboard, seen in a real browser (Chromium, 1366x768).

Each test looks at what a person sees: a table that fits its card after a reschedule, the
training confirmation on screen after saving a section far down the page, and a Call button
on the test phone that says why it cannot be used yet instead of failing silently.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from callbacks.tests.factories import CallbackFactory
from customers.tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-pass-42"


def sign_in(page, client) -> None:
    User.objects.create_user("owner@acme.test", PASSWORD, client=client, role="owner")
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(onboarding/)?$"))


def overflow(page, selector: str) -> dict:
    return page.evaluate(
        "sel => { const el = document.querySelector(sel); return {scroll: el.scrollWidth, client: el.clientWidth}; }",
        selector,
    )


def in_viewport(locator) -> bool:
    return locator.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }"
    )


def test_callbacks_table_fits_its_card_after_a_reschedule(page, live_server, client_a, agent_a, screenshots):
    customer = CustomerFactory(
        ai_agent=agent_a, name="Maximilian Alexander Richardson-Worthington", timezone="America/New_York"
    )
    callbacks = [
        CallbackFactory(
            customer_profile=customer,
            reason="Wants to talk about the battery add-on and the rebate deadline with their partner first",
            scheduled_datetime=timezone.now() + timedelta(days=1, hours=n),
        )
        for n in range(3)
    ]
    sign_in(page, client_a)
    page.goto("/callbacks/")
    wrap = '[data-section="upcoming"] .table-wrap'
    before = overflow(page, wrap)
    assert before["scroll"] <= before["client"], before

    row = page.locator(f"#callback-{callbacks[0].pk}")
    row.get_by_text("Reschedule").click()
    # 03:00 is outside the calling window: the note explains where it really went.
    day = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d")
    row.get_by_label("New time").fill(f"{day}T03:00")
    row.get_by_role("button", name="Save").click()
    note = page.locator(f"#callback-{callbacks[0].pk} [role=status]")
    note.wait_for()
    assert note.inner_text().startswith("Moved to ")
    assert "first time the customer may be called" in note.inner_text()

    after = overflow(page, wrap)
    assert after["scroll"] <= after["client"], after  # nothing clipped, no sideways scrolling
    assert in_viewport(note)
    page.wait_for_timeout(150)
    page.screenshot(path=str(screenshots / "callbacks-after-reschedule.png"))
    page.screenshot(path=str(screenshots / "callbacks-after-reschedule-full.png"), full_page=True)


def test_training_confirmation_is_on_screen_after_saving_a_section(page, live_server, client_a, agent_a):
    sign_in(page, client_a)
    page.goto("/training/")
    page.locator("#company").get_by_label("Company name").fill("Acme Solar")
    page.locator("#company").get_by_label("Product description").fill("Rooftop solar panels")
    page.locator("#company").get_by_label("Value proposition").fill("Lower power bills")
    page.get_by_role("button", name="Save company info").click()
    page.wait_for_url("**/training/#company")
    confirmation = page.get_by_text(re.compile(r"saved\. Training level"))
    confirmation.wait_for()
    assert confirmation.count() == 1  # said once, where the person is looking
    assert in_viewport(confirmation)


def test_call_button_on_the_test_phone_is_disabled_below_20_percent(page, live_server, client_a):
    from agents.tests.factories import AIAgentFactory

    AIAgentFactory(client=client_a, name="Sarah", training_level=10, status="training")
    sign_in(page, client_a)
    page.goto("/simulator/")
    call = page.get_by_role("button", name="Call Sarah")
    assert call.is_disabled()
    reason = page.locator("[data-dial-blocked]")
    assert "10%" in reason.inner_text() and "20%" in reason.inner_text()
    assert call.get_attribute("aria-describedby") == reason.get_attribute("id")
