"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs).

``customers/<id>/do-not-call/`` is here, not in ``customers``: opting out cancels the
customer's callbacks, and only this app (above customers) may touch callbacks.
"""

from django.urls import path

from callbacks.api import (
    CallbackCancelApi,
    CallbackCollectionApi,
    CallbackDetailApi,
    CallbackRescheduleApi,
    CustomerDoNotCallApi,
    DashboardCallbackListApi,
)

urlpatterns = [
    path("callbacks/", CallbackCollectionApi.as_view(), name="callbacks"),
    path("callbacks/<uuid:callback_id>/", CallbackDetailApi.as_view(), name="callback"),
    path("callbacks/<uuid:callback_id>/reschedule/", CallbackRescheduleApi.as_view(), name="callback-reschedule"),
    path("callbacks/<uuid:callback_id>/cancel/", CallbackCancelApi.as_view(), name="callback-cancel"),
    path("dashboard/ai-agent/callbacks/", DashboardCallbackListApi.as_view(), name="dashboard-callbacks"),
    path("customers/<uuid:customer_id>/do-not-call/", CustomerDoNotCallApi.as_view(), name="customer-do-not-call"),
]
