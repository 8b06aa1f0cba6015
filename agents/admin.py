from django.contrib import admin

from agents.models import AIAgent, AIAgentTraining


class TrainingInline(admin.TabularInline):
    model = AIAgentTraining
    extra = 0
    fields = ["training_type", "completion_percentage", "client_instructions", "created_at"]
    readonly_fields = ["created_at"]
    show_change_link = True


@admin.register(AIAgent)
class AIAgentAdmin(admin.ModelAdmin):
    list_display = [
        "name", "client", "status", "training_level", "phone_number", "calls_handled",
        "successful_conversions", "conversion_rate_display", "updated_at",
    ]  # fmt: skip
    list_filter = ["status", "personality_type", "language"]
    list_select_related = ["client"]
    search_fields = ["name", "client__name", "phone_number", "public_id"]
    readonly_fields = ["public_id", "conversion_rate_display", "created_at", "updated_at", "learned_through"]
    autocomplete_fields = ["client"]
    inlines = [TrainingInline]

    @admin.display(description="Conversion %")
    def conversion_rate_display(self, obj: AIAgent) -> str:
        return f"{obj.conversion_rate:.1f}%"


@admin.register(AIAgentTraining)
class AIAgentTrainingAdmin(admin.ModelAdmin):
    list_display = ["ai_agent", "training_type", "completion_percentage", "created_at"]
    list_filter = ["training_type"]
    list_select_related = ["ai_agent", "ai_agent__client"]
    search_fields = ["ai_agent__name", "ai_agent__client__name", "client_instructions"]
    readonly_fields = ["created_at", "updated_at"]
    autocomplete_fields = ["ai_agent"]
