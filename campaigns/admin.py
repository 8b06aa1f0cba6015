from django.contrib import admin

from campaigns.models import ApprovalDecision, Campaign, CampaignLead


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "ai_agent", "status", "approval_mode", "approval", "created_at")
    list_filter = ("status", "approval_mode")
    search_fields = ("name", "ai_agent__client__name")
    raw_id_fields = ("ai_agent", "created_by")


@admin.register(CampaignLead)
class CampaignLeadAdmin(admin.ModelAdmin):
    list_display = ("campaign", "customer", "state", "outcome", "skip_reason", "attempts", "score", "next_attempt_at")
    list_filter = ("state", "skip_reason")
    raw_id_fields = ("campaign", "customer", "current_call")


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(admin.ModelAdmin):
    list_display = ("campaign", "lead", "decision", "reason", "decided_by", "decided_at")
    raw_id_fields = ("campaign", "lead", "decided_by")
