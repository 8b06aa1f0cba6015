"""The real URLs, plus the floor of a durable turn (bench/floor.py) beside the real webhooks."""

from django.urls import path

from bench.floor import floor
from salesagents.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/floor/<uuid:agent_id>/", floor, name="bench-floor"),
    *app_urlpatterns,
]
