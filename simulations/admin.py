from django.contrib import admin

from simulations.models import SimulationRun


@admin.register(SimulationRun)
class SimulationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "ai_agent", "status", "completed", "created_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("ai_agent",)
    readonly_fields = (
        "ai_agent",
        "personas",
        "completed",
        "results",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    )
