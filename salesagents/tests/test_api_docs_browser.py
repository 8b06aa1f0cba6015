"""The API docs render in a browser that can reach nothing but our server.

A machine without internet (a customer's closed network, a laptop on a plane) must still show
Swagger UI and ReDoc: their JavaScript and CSS come from drf-spectacular-sidecar's static
files, never a CDN. Every request to another host is aborted and recorded.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# ReDoc's bundle hard-codes its maker's logo in the sidebar footer and hides the image when it
# does not load (the Content-Security-Policy already refuses it); nothing else may leave the machine.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def offline_page(page, live_server):
    """The page, with every request that is not to the live server aborted (and recorded)."""
    elsewhere: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(live_server.url + "/"):
            request_route.continue_()
        else:
            elsewhere.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.requests_elsewhere = elsewhere
    return page


def test_swagger_ui_renders_the_operations_offline(offline_page):
    offline_page.goto("/api/docs/")

    offline_page.locator(".opblock").first.wait_for()
    assert offline_page.locator(".opblock-summary-path", has_text="/api/customers/").count() >= 1
    assert offline_page.locator(".opblock").count() >= 20
    assert "SalesAgents API" in offline_page.locator(".info .title").inner_text()
    assert offline_page.requests_elsewhere == []


def test_redoc_renders_the_operations_offline(offline_page):
    offline_page.goto("/api/redoc/")

    offline_page.get_by_role("heading", name="SalesAgents API").first.wait_for()
    assert offline_page.locator("[data-section-id^='operation/']").count() >= 20
    assert offline_page.get_by_text("/api/customers/").count() >= 1
    assert set(offline_page.requests_elsewhere) <= {REDOCLY_LOGO}
    # The policy refusing that logo is the one violation this page is allowed.
    offline_page.csp_violations[:] = [v for v in offline_page.csp_violations if REDOCLY_LOGO not in v]
