"""API routes of this app, mounted at /api/ (full sub-paths here keep the seed's exact URLs)."""

from django.urls import path

from customers.api import (
    CustomerCollectionApi,
    CustomerDoNotCallApi,
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
    path("customers/<uuid:customer_id>/do-not-call/", CustomerDoNotCallApi.as_view(), name="customer-do-not-call"),
    path("dashboard/ai-agent/customers/", DashboardCustomerListApi.as_view(), name="dashboard-customers"),
]
