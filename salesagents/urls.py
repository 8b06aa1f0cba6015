from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from salesagents.health import health

# Swagger UI comes from its CDN; the split view serves its start-up script as a file, so only its
# own small <style> block needs inline styles, on this page alone.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
api_docs = csp_update(
    {"script-src": [SWAGGER_CDN], "style-src": [SWAGGER_CDN, UNSAFE_INLINE], "img-src": [SWAGGER_CDN]}
)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    # First: Twilio waits on these during a live call, and URL resolution tries patterns in order.
    path("webhooks/twilio/", include("calls.webhook_urls")),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("agents.api_urls")),
    path("api/", include("customers.api_urls")),
    path("api/", include("callbacks.api_urls")),
    path("api/", include("calls.api_urls")),
    path("api/", include("calls.voice_api_urls")),
    path("api/", include("dashboard.api_urls")),
    path("", include("dashboard.urls")),
]
