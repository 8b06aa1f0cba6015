"""Fixtures for the dashboard page tests, and the headless browser for the ``browser`` tests.

The browser tests drive Debian's Chromium through Playwright against pytest-django's
``live_server``. Playwright's sync API keeps an asyncio event loop running on the test's
thread, and Django refuses ORM calls from a thread with a running loop unless
DJANGO_ALLOW_ASYNC_UNSAFE is set. The test's own ORM calls (checking the database between
browser steps) are plain synchronous calls, so the flag is set while the browser module runs
and restored after it, leaving the other tests' async-safety checks alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench" / "screenshots"


@pytest.fixture(autouse=True)
def _dashboard_settings(settings):
    # Charts are computed on every request unless a test is about the cache.
    settings.DASHBOARD_CHART_CACHE_SECONDS = 0


@pytest.fixture
def page_a(client, user_a, agent_a):
    """The test client signed in as client A's owner, whose agent exists."""
    client.force_login(user_a)
    return client


@pytest.fixture
def page_b(client, user_b, agent_b):
    client.force_login(user_b)
    return client


# --- the browser ---------------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must install it (apt-get install chromium) so the browser tests run.")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs these tests.")


@pytest.fixture(scope="module")
def _playwright():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def browser(_playwright):
    browser = _playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server, settings):
    # The live server answers in this process: the simulator's webhooks are signed and checked
    # against the same PUBLIC_BASE_URL, so any value works; keep the real test one.
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    # Every page must pass the Content-Security-Policy: Chromium reports each refused inline
    # script or style on the console.
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.csp_violations = violations
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations ({len(violations)}): {violations[:3]}"


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
