"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from calls.api import CallDetailApi, CallListApi, CallOutcomeApi

urlpatterns = [
    path("calls/", CallListApi.as_view(), name="api-calls"),
    path("calls/<str:call_id>/", CallDetailApi.as_view(), name="api-call-detail"),
    path("agents/ai/call-outcome/", CallOutcomeApi.as_view(), name="api-call-outcome"),
]
