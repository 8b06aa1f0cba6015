"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from callbacks.api import (
    CallbackCancelApi,
    CallbackCollectionApi,
    CallbackDetailApi,
    CallbackRescheduleApi,
    DashboardCallbackListApi,
)

urlpatterns = [
    path("callbacks/", CallbackCollectionApi.as_view(), name="callbacks"),
    path("callbacks/<uuid:callback_id>/", CallbackDetailApi.as_view(), name="callback"),
    path("callbacks/<uuid:callback_id>/reschedule/", CallbackRescheduleApi.as_view(), name="callback-reschedule"),
    path("callbacks/<uuid:callback_id>/cancel/", CallbackCancelApi.as_view(), name="callback-cancel"),
    path("dashboard/ai-agent/callbacks/", DashboardCallbackListApi.as_view(), name="dashboard-callbacks"),
]
