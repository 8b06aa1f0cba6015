"""API routes of persona simulations, mounted at /api/."""

from django.urls import path

from simulations import api

urlpatterns = [
    path("agents/ai/simulations/", api.SimulationListApi.as_view(), name="api-simulations"),
    path("agents/ai/simulations/<uuid:run_id>/", api.SimulationDetailApi.as_view(), name="api-simulation"),
]
