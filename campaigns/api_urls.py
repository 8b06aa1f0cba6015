"""API routes of campaigns, mounted at /api/."""

from django.urls import path

from campaigns.api import (
    ApprovalQueueApi,
    CampaignCancelApi,
    CampaignCollectionApi,
    CampaignDecisionApi,
    CampaignDetailApi,
    CampaignExportApi,
    CampaignPauseApi,
    CampaignResumeApi,
    CampaignStartApi,
    LeadCollectionApi,
    LeadDecisionApi,
    LeadImportApi,
)

urlpatterns = [
    path("campaigns/", CampaignCollectionApi.as_view(), name="campaigns"),
    path("campaigns/approvals/", ApprovalQueueApi.as_view(), name="campaign-approvals"),
    path("campaigns/<uuid:campaign_id>/", CampaignDetailApi.as_view(), name="campaign"),
    path("campaigns/<uuid:campaign_id>/start/", CampaignStartApi.as_view(), name="campaign-start"),
    path("campaigns/<uuid:campaign_id>/pause/", CampaignPauseApi.as_view(), name="campaign-pause"),
    path("campaigns/<uuid:campaign_id>/resume/", CampaignResumeApi.as_view(), name="campaign-resume"),
    path("campaigns/<uuid:campaign_id>/cancel/", CampaignCancelApi.as_view(), name="campaign-cancel"),
    path("campaigns/<uuid:campaign_id>/decision/", CampaignDecisionApi.as_view(), name="campaign-decision"),
    path("campaigns/<uuid:campaign_id>/leads/", LeadCollectionApi.as_view(), name="campaign-leads"),
    path("campaigns/<uuid:campaign_id>/leads/import/", LeadImportApi.as_view(), name="campaign-leads-import"),
    path(
        "campaigns/<uuid:campaign_id>/leads/<int:lead_id>/decision/",
        LeadDecisionApi.as_view(),
        name="campaign-lead-decision",
    ),
    path("campaigns/<uuid:campaign_id>/results.csv", CampaignExportApi.as_view(), name="campaign-export"),
]
