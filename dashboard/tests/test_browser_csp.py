"""Every dashboard page runs under a strict Content-Security-Policy (issue 11, finding 8).

No inline script or style is allowed, so the meters get their widths from data attributes and
HTMX must not inject its indicator <style>. The ``page`` fixture fails a test on any violation
Chromium reports; this test walks every page with data on it and checks what a person sees.
"""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from callbacks.tests.factories import CallbackFactory
from calls.tests.factories import CallTurnFactory
from customers.tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-pass-42"


def test_every_dashboard_page_passes_the_content_security_policy(page, live_server, client_a):
    from agents.tests.factories import AIAgentFactory

    User.objects.create_user("owner@acme.test", PASSWORD, client=client_a, role="owner")
    agent = AIAgentFactory(client=client_a, name="Sarah", training_level=85, status="active")
    customer = CustomerFactory(ai_agent=agent, name="Dana Lee")
    turn = CallTurnFactory(call__customer_profile=customer, speaker="customer", text="How much is it?")
    CallbackFactory(customer_profile=customer)

    first = page.goto("/login/")
    policy = first.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))

    for path in [
        "/",
        "/training/",
        "/simulator/",
        "/calls/",
        f"/calls/{turn.call.pk}/",
        "/customers/",
        f"/customers/{customer.pk}/",
        "/customers/import/",
        "/callbacks/",
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        assert response.headers["content-security-policy"] == policy, path
        page.wait_for_load_state("networkidle")

    # The agent's training meter is drawn from its data attribute, not an inline style.
    page.goto("/training/")
    bar = page.locator(".meter--lg > span").first
    width = bar.evaluate("el => el.getBoundingClientRect().width / el.parentElement.getBoundingClientRect().width")
    assert width == pytest.approx(0.85, abs=0.02)
    # HTMX still works (it posts with the CSRF header) without its injected styles.
    assert page.evaluate("window.htmx.config.includeIndicatorStyles") is False
    assert page.locator("style").count() == 0
    assert not page.csp_violations
