"""Campaigns API, at /api/campaigns/: every door goes through the agent, so another client's campaign is a 404."""

from __future__ import annotations

from datetime import time

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from agents.tenancy import AgentApi
from campaigns.csv_export import campaign_results_csv_lines
from campaigns.dispatch import lead_wait_reason
from campaigns.models import RETRYABLE, Campaign, CampaignLead
from campaigns.selectors import (
    approval_queue,
    campaign_get,
    campaign_lead_get,
    campaign_leads,
    campaign_list,
    campaign_progress,
    decisions,
)
from campaigns.services import (
    CampaignSpec,
    LeadFilter,
    campaign_create,
    campaign_decide,
    campaign_leads_add,
    campaign_leads_add_by_filter,
    campaign_leads_import_csv,
    campaign_transition,
    lead_decide,
)
from core.api_fields import HourMinuteField
from core.api_query import QuerySerializer
from core.api_schema import errors
from core.errors import REFUSED_BY_RULE, NotFound
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response
from customers.api import API_IMPORT_MAX_BYTES, MULTIPART_OVERHEAD
from customers.models import CustomerProfile

MAX_IDS = 1000

# --- serializers ---------------------------------------------------------------------------------


class CampaignOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    goal = serializers.CharField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    days_of_week = serializers.ListField(child=serializers.IntegerField(), help_text="0 = Monday ... 6 = Sunday.")
    window_start = HourMinuteField(help_text="Each lead's own time.")
    window_end = HourMinuteField(help_text="Each lead's own time.")
    starts_on = serializers.DateField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True)
    max_attempts = serializers.IntegerField()
    retry_spacing_minutes = serializers.IntegerField()
    retry_on = serializers.ListField(child=serializers.ChoiceField(choices=RETRYABLE))
    max_concurrent = serializers.IntegerField()
    approval_mode = serializers.ChoiceField(choices=Campaign.ApprovalMode.choices)
    approval = serializers.ChoiceField(choices=Campaign.Approval.choices)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Campaign"


class ProgressSerializer(serializers.Serializer):
    leads = serializers.IntegerField()
    pending = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    dialled = serializers.IntegerField(help_text="Attempts claimed or placed.")
    answered = serializers.IntegerField()
    converted = serializers.IntegerField()
    callbacks_booked = serializers.IntegerField()
    remaining = serializers.IntegerField()
    pace_per_hour = serializers.FloatField(help_text="Calls placed in the last 15 minutes, per hour.")
    estimated_finish = serializers.DateTimeField(allow_null=True)
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField())

    class Meta:
        ref_name = "CampaignProgress"


class DecisionSerializer(serializers.Serializer):
    decision = serializers.CharField()
    reason = serializers.CharField()
    lead_id = serializers.IntegerField(allow_null=True)
    decided_by = serializers.EmailField(source="decided_by.email", allow_null=True, default=None)
    decided_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CampaignDecision"


class CampaignDetailSerializer(CampaignOutputSerializer):
    progress = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField(help_text="The latest 50 approval decisions.")

    class Meta:
        ref_name = "CampaignDetail"

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj) -> dict:
        return ProgressSerializer(campaign_progress(campaign=obj)).data

    @extend_schema_field(DecisionSerializer(many=True))
    def get_decisions(self, obj) -> list:
        return DecisionSerializer(decisions(campaign=obj)[:50], many=True).data


class LeadOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign_id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    name = serializers.CharField(source="customer.name")
    phone_number = serializers.CharField(source="customer.phone_number")
    state = serializers.ChoiceField(choices=CampaignLead.State.choices)
    outcome = serializers.CharField(help_text="The last call's outcome.")
    skip_reason = serializers.CharField()
    note = serializers.CharField()
    waiting_because = serializers.SerializerMethodField(help_text="Why a pending lead is not called right now.")
    timezone = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    score = serializers.FloatField()
    score_parts = serializers.DictField(child=serializers.FloatField())
    approval = serializers.ChoiceField(choices=CampaignLead.Approval.choices)
    last_call_id = serializers.UUIDField(source="current_call_id", allow_null=True)
    last_call_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "CampaignLead"

    @extend_schema_field(serializers.CharField())
    def get_waiting_because(self, obj) -> str:
        return lead_wait_reason(obj.campaign, obj, self.context.get("now") or timezone.now())


class LeadsAddedSerializer(serializers.Serializer):
    class RowErrorSerializer(serializers.Serializer):
        line = serializers.IntegerField()
        reason = serializers.CharField()

        class Meta:
            ref_name = "CampaignImportRowError"

    added = serializers.IntegerField()
    already_in = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.IntegerField(), help_text="Added as skipped, by reason.")
    error_count = serializers.IntegerField(source="import_report.error_count", default=0)
    errors = RowErrorSerializer(source="import_report.errors", many=True, default=list)

    class Meta:
        ref_name = "CampaignLeadsAdded"


class DecisionInputSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    class Meta:
        ref_name = "CampaignDecisionInput"


def _detail(campaign: Campaign) -> dict:
    return CampaignDetailSerializer(campaign).data


# --- campaigns -------------------------------------------------------------------------------------


class CampaignListApi(AgentApi):
    @extend_schema(
        operation_id="campaigns_list",
        summary="List campaigns",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated("PaginatedCampaignList", CampaignOutputSerializer), **errors(400, 401, 403, 404)},
        tags=["campaigns"],
    )
    def get(self, request):
        return paginated_response(
            view=self, queryset=campaign_list(agent=self.agent), serializer_class=CampaignOutputSerializer
        )


class CampaignCreateApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        goal = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        days_of_week = serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7, required=False,
            default=[0, 1, 2, 3, 4],
        )  # fmt: skip
        window_start = HourMinuteField(required=False, default=time(9, 0), help_text="Each lead's own time.")
        window_end = HourMinuteField(required=False, default=time(20, 0), help_text="Each lead's own time.")
        starts_on = serializers.DateField(required=False, allow_null=True, default=None)
        ends_on = serializers.DateField(required=False, allow_null=True, default=None)
        max_attempts = serializers.IntegerField(min_value=1, max_value=10, required=False, default=3)
        retry_spacing_minutes = serializers.IntegerField(min_value=5, max_value=10080, required=False, default=240)
        retry_on = serializers.ListField(
            child=serializers.ChoiceField(choices=RETRYABLE), max_length=3, required=False, default=list(RETRYABLE)
        )
        max_concurrent = serializers.IntegerField(min_value=1, max_value=500, required=False, default=5)
        approval_mode = serializers.ChoiceField(
            choices=Campaign.ApprovalMode.choices, required=False, default=Campaign.ApprovalMode.NONE
        )

        class Meta:
            ref_name = "CampaignCreate"

    @extend_schema(
        operation_id="campaigns_create",
        summary="Create a campaign (draft)",
        description="The calling window must lie within 08:00-21:00, read in each lead's own timezone (else 422).",
        request=InputSerializer,
        responses={201: CampaignDetailSerializer, **errors(400, 401, 403, 404, 422)},
        tags=["campaigns"],
    )
    def post(self, request):
        serializer = CampaignCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(
            agent=self.agent, spec=CampaignSpec(**serializer.validated_data), created_by=request.user
        )
        return Response(_detail(campaign), status=status.HTTP_201_CREATED)


class CampaignCollectionApi(CampaignListApi, CampaignCreateApi):
    """GET lists, POST creates."""


class CampaignDetailApi(AgentApi):
    @extend_schema(
        operation_id="campaigns_retrieve",
        summary="A campaign with its live progress",
        responses={200: CampaignDetailSerializer, **errors(401, 403, 404)},
        tags=["campaigns"],
    )
    def get(self, request, campaign_id):
        return Response(_detail(campaign_get(agent=self.agent, campaign_id=campaign_id)))


def _transition_api(to: str, verb: str, text: str) -> type[AgentApi]:
    class TransitionApi(AgentApi):
        @extend_schema(
            operation_id=f"campaigns_{verb}",
            summary=f"{verb.capitalize()} a campaign",
            description=text,
            request=None,
            responses={200: CampaignDetailSerializer, **errors(401, 403, 404, 409)},
            tags=["campaigns"],
        )
        def post(self, request, campaign_id):
            campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
            return Response(_detail(campaign_transition(campaign=campaign, to=to)))

    TransitionApi.__name__ = f"Campaign{verb.capitalize()}Api"
    return TransitionApi


CampaignStartApi = _transition_api("running", "start", "Draft -> running. Needs leads; 409 from any other status.")
CampaignPauseApi = _transition_api("paused", "pause", "No new dials; live calls finish.")
CampaignResumeApi = _transition_api("running", "resume", "Paused -> running.")
CampaignCancelApi = _transition_api("cancelled", "cancel", "Leads not yet called are skipped; live calls finish.")


class CampaignDecisionApi(AgentApi):
    @extend_schema(
        operation_id="campaigns_decide",
        summary="Approve or reject a campaign that waits for approval",
        description="Recorded with who decided and why; a rejection (reason required) cancels the campaign.",
        request=DecisionInputSerializer,
        responses={200: CampaignDetailSerializer, **errors(400, 401, 403, 404, 409, 422)},
        tags=["campaigns"],
    )
    def post(self, request, campaign_id):
        campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        campaign = campaign_decide(
            campaign=campaign, approve=data["approve"], reason=data["reason"], decided_by=request.user
        )
        return Response(_detail(campaign))


# --- leads -----------------------------------------------------------------------------------------


class LeadListApi(AgentApi):
    class FilterSerializer(QuerySerializer):
        state = serializers.ChoiceField(choices=CampaignLead.State.choices, required=False)

    @extend_schema(
        operation_id="campaigns_leads_list",
        summary="A campaign's leads and their results",
        description="Best score first, with the score's parts and why a pending lead waits.",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: paginated("PaginatedCampaignLeadList", LeadOutputSerializer), **errors(400, 401, 403, 404)},
        tags=["campaigns"],
    )
    def get(self, request, campaign_id):
        campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
        filters = LeadListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            view=self,
            queryset=campaign_leads(campaign=campaign, state=filters.validated_data.get("state")).select_related(
                "campaign"
            ),
            serializer_class=LeadOutputSerializer,
            context={"now": timezone.now()},
        )


class LeadAddApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        customer_ids = serializers.ListField(
            child=serializers.UUIDField(), max_length=MAX_IDS, required=False, default=list,
            help_text=f"The agent's customers to add (at most {MAX_IDS} per request).",
        )  # fmt: skip
        interest_levels = serializers.ListField(
            child=serializers.ChoiceField(choices=CustomerProfile.InterestLevel.choices), max_length=4, required=False,
            default=list, help_text="Or: add every customer at these interest levels.",
        )  # fmt: skip

        class Meta:
            ref_name = "CampaignLeadsAdd"

        def validate(self, attrs):
            if bool(attrs["customer_ids"]) == bool(attrs["interest_levels"]):
                raise serializers.ValidationError("Give either customer_ids or interest_levels.", code=REFUSED_BY_RULE)
            return attrs

    @extend_schema(
        operation_id="campaigns_leads_add",
        summary="Add leads by id or by a customer filter",
        description="Each customer joins once. Do-not-call, converted and zone-less customers are added as "
        "skipped, with the reason. An id that is not this agent's customer is a 404.",
        request=InputSerializer,
        responses={200: LeadsAddedSerializer, **errors(400, 401, 403, 404, 409, 422)},
        tags=["campaigns"],
    )
    def post(self, request, campaign_id):
        campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
        serializer = LeadAddApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["customer_ids"]:
            wanted = set(data["customer_ids"])
            found = list(CustomerProfile.objects.filter(ai_agent=self.agent, is_simulated=False, pk__in=wanted))
            if len(found) != len(wanted):
                raise NotFound("No such customer.")
            added = campaign_leads_add(campaign=campaign, customers=found)
        else:
            added = campaign_leads_add_by_filter(
                campaign=campaign, lead_filter=LeadFilter(interest_levels=data["interest_levels"])
            )
        return Response(LeadsAddedSerializer(added).data)


class LeadCollectionApi(LeadListApi, LeadAddApi):
    """GET lists the leads, POST adds some."""


class LeadImportApi(AgentApi):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="A leads CSV, as the customers import reads it. At most 5 MB.")

        class Meta:
            ref_name = "CampaignLeadsImport"

    @extend_schema(
        operation_id="campaigns_leads_import",
        summary="Add leads from a CSV file",
        description="The rows are imported into the customers first (same rules and report as the customers "
        "import); every good row's customer then joins the campaign. Bad rows are reported with line and reason.",
        request={"multipart/form-data": InputSerializer},
        responses={200: LeadsAddedSerializer, **errors(400, 401, 403, 404, 409, 415, 422)},
        tags=["campaigns"],
    )
    def post(self, request, campaign_id):
        campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > API_IMPORT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise serializers.ValidationError({"file": "The file is larger than 5 MB."})
        serializer = LeadImportApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > API_IMPORT_MAX_BYTES:
            raise serializers.ValidationError({"file": "The file is larger than 5 MB."})
        upload.seek(0)
        return Response(LeadsAddedSerializer(campaign_leads_import_csv(campaign=campaign, stream=upload)).data)


class LeadDecisionApi(AgentApi):
    @extend_schema(
        operation_id="campaigns_leads_decide",
        summary="Approve or reject one lead's calls (per-call approval)",
        description="Recorded with who decided and why; a rejected lead (reason required) is skipped.",
        request=DecisionInputSerializer,
        responses={200: LeadOutputSerializer, **errors(400, 401, 403, 404, 409, 422)},
        tags=["campaigns"],
    )
    def post(self, request, campaign_id, lead_id):
        lead = campaign_lead_get(agent=self.agent, campaign_id=campaign_id, lead_id=lead_id)
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lead = lead_decide(lead=lead, approve=data["approve"], reason=data["reason"], decided_by=request.user)
        lead = campaign_lead_get(agent=self.agent, campaign_id=campaign_id, lead_id=lead.pk)
        return Response(LeadOutputSerializer(lead, context={"now": timezone.now()}).data)


class ApprovalQueueApi(AgentApi):
    @extend_schema(
        operation_id="campaigns_approvals",
        summary="Leads waiting for an operator's approval",
        parameters=PAGE_PARAMETERS,
        responses={
            200: paginated("PaginatedCampaignApprovalList", LeadOutputSerializer),
            **errors(400, 401, 403, 404),
        },
        tags=["campaigns"],
    )
    def get(self, request):
        return paginated_response(
            view=self, queryset=approval_queue(agent=self.agent), serializer_class=LeadOutputSerializer,
            context={"now": timezone.now()},
        )  # fmt: skip


class CampaignExportApi(AgentApi):
    def perform_content_negotiation(self, request, force=False):
        # The CSV bypasses renderers; errors still render as JSON whatever Accept says.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="campaigns_export",
        summary="Per-lead results as CSV",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **errors(401, 403, 404),
        },
        tags=["campaigns"],
    )
    def get(self, request, campaign_id):
        campaign = campaign_get(agent=self.agent, campaign_id=campaign_id)
        response = StreamingHttpResponse(
            campaign_results_csv_lines(campaign=campaign), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="campaign-results.csv"'
        return response
