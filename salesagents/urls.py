from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from salesagents.health import health

# Swagger UI and ReDoc come from our static files (drf-spectacular-sidecar); the split view serves
# Swagger's start-up script as a file. Both inject their own styles (and ReDoc a blob worker), so
# inline styles are allowed on these two pages alone.
DOCS_CSP = {"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}
api_docs = csp_update(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
api_redoc = csp_update(DOCS_CSP)(SpectacularRedocView.as_view(url_name="api-schema"))

urlpatterns = [
    # First: Twilio waits on these during a live call, and URL resolution tries patterns in order.
    path("webhooks/twilio/", include("calls.webhook_urls")),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/redoc/", api_redoc, name="api-redoc"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("agents.api_urls")),
    path("api/", include("customers.api_urls")),
    path("api/", include("callbacks.api_urls")),
    path("api/", include("calls.api_urls")),
    path("api/", include("calls.voice_api_urls")),
    path("api/", include("campaigns.api_urls")),
    path("api/", include("simulations.api_urls")),
    path("api/", include("dashboard.api_urls")),
    path("", include("dashboard.urls")),
]

handler404 = "core.api_errors.not_found"
