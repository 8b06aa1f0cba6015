"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs).

``customers/<id>/do-not-call/`` is routed in ``callbacks.api_urls``: opting out cancels
callbacks, which this app may not import.
"""

from django.urls import path

from customers.api import (
    CustomerCollectionApi,
    CustomerExportApi,
    CustomerImportApi,
    CustomerResourceApi,
    DashboardCustomerListApi,
)

urlpatterns = [
    path("customers/", CustomerCollectionApi.as_view(), name="customers"),
    path("customers/import/", CustomerImportApi.as_view(), name="customers-import"),
    path("customers/export/", CustomerExportApi.as_view(), name="customers-export"),
    path("customers/<uuid:customer_id>/", CustomerResourceApi.as_view(), name="customer"),
    path("dashboard/ai-agent/customers/", DashboardCustomerListApi.as_view(), name="dashboard-customers"),
]
