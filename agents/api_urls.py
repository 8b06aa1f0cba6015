"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from agents import api

urlpatterns = [
    path("agents/ai/", api.AgentDetailApi.as_view(), name="api-agent"),
    path("agents/ai/setup/", api.AgentSetupApi.as_view(), name="api-agent-setup"),
    path("agents/ai/training/", api.AgentTrainingApi.as_view(), name="api-agent-training"),
]
