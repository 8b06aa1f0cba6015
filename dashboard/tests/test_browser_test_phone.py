"""The relay test phone in Chromium: the reply streams onto the page with its time to first word.

The page and its socket are served by uvicorn (the ASGI app, as ``make run`` serves it, with the
static files added as ``runserver`` would), since the live server pytest-django starts speaks no
WebSocket. The ``browser`` fixture and the CSP check are the dashboard's own (conftest.py).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.utils.module_loading import import_string

from calls.models import CallSession
from calls.tests.relay_phone import served_app
from dashboard.tests.test_test_phone_socket import relay_agent  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class _WithStaticFiles:
    """The ASGI app with /static/ served from the source tree, built on first use."""

    app = None

    async def __call__(self, scope, receive, send):
        if self.app is None:
            # By name: dashboard may not import salesagents (the layers contract).
            self.app = ASGIStaticFilesHandler(import_string("salesagents.asgi.application"))
        return await self.app(scope, receive, send)


served_with_static = _WithStaticFiles()


@pytest.fixture
def relay_page(browser, settings, client, user_a, relay_agent):  # noqa: F811 - the fixture imported above
    settings.RELAY_BASE_URL = "wss://relay.agents.example.com"
    settings.ASGI_APPLICATION = "dashboard.tests.test_browser_test_phone.served_with_static"
    client.force_login(user_a)
    with served_app() as base:
        http = base.replace("ws://", "http://")
        context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=http, locale="en-US")
        context.set_default_timeout(15_000)
        name = settings.SESSION_COOKIE_NAME
        context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": http}])
        page = context.new_page()
        errors: list[str] = []
        violations: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        yield page
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations[:3]}"


def test_the_relay_test_phone_streams_the_reply_and_shows_the_time_to_first_word(relay_page, relay_agent):  # noqa: F811
    page = relay_page
    page.goto("/simulator/")
    page.locator("input[name=from_number]").fill("+1 212 555 0123")
    page.get_by_role("button", name="Call Sarah").click()
    transcript = page.locator("[data-relay-transcript]")
    transcript.get_by_text("AI assistant").wait_for()
    page.get_by_label("Say something to Sarah").fill("How much does it cost per month?")
    page.get_by_role("button", name="Say").click()
    first_word = transcript.locator("[data-first-word]")
    first_word.wait_for()
    assert re.fullmatch(r"\d+ ms to first word", first_word.inner_text())
    reply = transcript.locator(".turn--agent .turn-bubble").last
    page.wait_for_function("el => el.textContent.includes('$89')", arg=reply.element_handle())
    page.get_by_role("button", name="Hang up").click()
    page.get_by_text("Call ended").wait_for()
    call = CallSession.objects.get(ai_agent=relay_agent)
    assert call.status == "completed"
    assert page.get_by_role("link", name="Open the call record").get_attribute("href").endswith(f"/calls/{call.pk}/")
