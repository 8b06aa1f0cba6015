from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from salesagents.health import health

urlpatterns = [
    # First: Twilio waits on these during a live call, and URL resolution tries patterns in order.
    path("webhooks/twilio/", include("calls.webhook_urls")),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("accounts.api_urls")),
    path("api/", include("agents.api_urls")),
    path("api/", include("customers.api_urls")),
    path("api/", include("callbacks.api_urls")),
    path("api/", include("calls.api_urls")),
    path("api/", include("calls.voice_api_urls")),
    path("api/", include("simulations.api_urls")),
    path("api/", include("dashboard.api_urls")),
    path("", include("dashboard.urls")),
]
