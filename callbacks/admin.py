from django.contrib import admin

from agents.admin import AIAgentAdmin
from callbacks.models import ScheduledCallback


@admin.register(ScheduledCallback)
class ScheduledCallbackAdmin(admin.ModelAdmin):
    list_display = [
        "scheduled_datetime", "customer_profile", "ai_agent", "kind", "priority_level", "status",
        "attempts", "max_attempts", "is_overdue",
    ]  # fmt: skip
    list_filter = ["status", "kind", "priority_level", "is_overdue"]
    list_select_related = ["customer_profile", "ai_agent", "ai_agent__client"]
    search_fields = ["customer_profile__phone_number", "customer_profile__name", "reason", "ai_agent__client__name"]
    date_hierarchy = "scheduled_datetime"
    readonly_fields = ["created_at", "updated_at", "lease_expires_at"]
    raw_id_fields = ["customer_profile", "source_call"]
    autocomplete_fields = ["ai_agent"]


class CallbackInline(admin.TabularInline):
    model = ScheduledCallback
    fk_name = "ai_agent"
    extra = 0
    fields = ["scheduled_datetime", "customer_profile", "kind", "priority_level", "status", "attempts"]
    raw_id_fields = ["customer_profile"]
    show_change_link = True


# Callbacks sit above agents, so the agent admin gets this inline from here, not by import there.
AIAgentAdmin.inlines = [*AIAgentAdmin.inlines, CallbackInline]
