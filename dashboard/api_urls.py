"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from dashboard.api import AgentDashboardApi

urlpatterns = [
    path("dashboard/ai-agent/", AgentDashboardApi.as_view(), name="api-dashboard-ai-agent"),
]
