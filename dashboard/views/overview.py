"""The overview: how the agent is doing, its charts, what it learned, and what needs attention."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import client_page
from dashboard.view_models import overview_page

# Where each alert sends a person to act on it.
ALERT_LINKS = {
    "agent_not_trained": ("dashboard:training", "", "Train the agent"),
    "agent_paused": ("dashboard:training", "", "Agent settings"),
    "overdue_callbacks": ("dashboard:callbacks", "", "Review callbacks"),
    "failed_calls_today": ("dashboard:calls", "?status=failed", "See failed calls"),
    "llm_fallbacks": ("dashboard:calls", "", "Open recent calls"),
    "daily_limit_reached": ("dashboard:calls", "", "See today's calls"),
    "no_conversions": ("dashboard:training", "#objections", "Review objection answers"),
}


@client_page
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    page = overview_page(agent=request.agent)
    return render(
        request,
        "dashboard/overview.html",
        {"page": page, "d": page.dashboard, "charts": page.charts, "alert_links": ALERT_LINKS},
    )
