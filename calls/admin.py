from django.contrib import admin
from django.db.models import Count

from calls.models import CallSession, CallTurn, OutboundDayCount


class TurnInline(admin.TabularInline):
    model = CallTurn
    extra = 0
    fields = ["sequence", "speaker", "text", "latency_ms", "provider", "spoken_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(CallSession)
class CallSessionAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "ai_agent",
        "customer_profile",
        "call_type",
        "status",
        "outcome",
        "duration_seconds",
        "turn_count",
        "llm_fallbacks",
    ]
    list_filter = ["call_type", "status", "outcome", "answered_by"]
    list_select_related = ["ai_agent", "ai_agent__client", "customer_profile"]
    search_fields = [
        "twilio_call_sid",
        "customer_profile__phone_number",
        "customer_profile__name",
        "ai_agent__client__name",
    ]
    date_hierarchy = "started_at"
    readonly_fields = ["twilio_call_sid", "status_sequence", "created_at", "updated_at", "turn_count"]
    raw_id_fields = ["customer_profile", "callback"]
    autocomplete_fields = ["ai_agent"]
    inlines = [TurnInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_turns=Count("turns"))

    @admin.display(description="Turns", ordering="_turns")
    def turn_count(self, obj: CallSession) -> int:
        return obj._turns


@admin.register(CallTurn)
class CallTurnAdmin(admin.ModelAdmin):
    list_display = ["call", "sequence", "speaker", "short_text", "latency_ms", "provider", "spoken_at"]
    list_filter = ["speaker", "provider"]
    list_select_related = ["call"]
    search_fields = ["text", "call__twilio_call_sid"]
    raw_id_fields = ["call"]

    @admin.display(description="Text")
    def short_text(self, obj: CallTurn) -> str:
        return obj.text[:80]


@admin.register(OutboundDayCount)
class OutboundDayCountAdmin(admin.ModelAdmin):
    list_display = ["day", "client", "placed"]
    list_filter = ["day"]
    list_select_related = ["client"]
    search_fields = ["client__name"]
    autocomplete_fields = ["client"]
