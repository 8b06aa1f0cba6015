from django.contrib import admin

from customers.models import CustomerProfile, ImportJob


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = [
        "phone_number", "name", "ai_agent", "interest_level", "total_calls", "successful_calls",
        "is_do_not_call", "last_contacted_at",
    ]  # fmt: skip
    list_filter = ["interest_level", "is_do_not_call", "is_converted", "call_preference_time"]
    list_select_related = ["ai_agent", "ai_agent__client"]
    search_fields = ["phone_number", "name", "email", "ai_agent__client__name"]
    readonly_fields = ["created_at", "updated_at", "success_rate"]
    autocomplete_fields = ["ai_agent"]
    list_per_page = 50

    @admin.display(description="Success rate")
    def success_rate(self, obj: CustomerProfile) -> str:
        return f"{100 * obj.successful_calls / obj.total_calls:.0f}%" if obj.total_calls else "—"


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Staff read jobs to help a client; the worker alone writes them."""

    list_display = ["filename", "ai_agent", "status", "rows_processed", "created", "error_count", "created_at"]
    list_filter = ["status"]
    list_select_related = ["ai_agent", "ai_agent__client"]
    search_fields = ["filename", "ai_agent__client__name"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False
