"""The client's AI agent: set it up, change it, train it.

Views parse, call one service or selector, and render; the rules (one agent per client,
blank at first, the training level and status) live in ``agents.services`` and
``agents.knowledge``.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from agents.knowledge import COMPANY_FIELDS, level_breakdown
from agents.models import AIAgent, AIAgentTraining
from agents.selectors import training_list
from agents.services import agent_setup, agent_update, training_add
from agents.tenancy import AgentApi
from core.api_fields import HourMinuteField, PhoneNumberField
from core.api_schema import errors
from core.errors import REFUSED_BY_RULE, RULE_CODES
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response

HOURS_HELP = "Local time in the client's timezone, HH:MM."
TRAINING_TYPES = ", ".join(AIAgentTraining.TrainingType.values)


# --- shared pieces -----------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A text that must arrive as a JSON string: ``42`` or ``true`` are refused, not stringified."""

    default_error_messages = {"invalid": "Must be a text."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextMapField(serializers.DictField):
    """``{key: text}``, e.g. objection -> answer or question -> answer, refused whole if not.

    Keys are checked like texts too (length, no NUL or lone surrogates): PostgreSQL's jsonb
    refuses those, and a refused write must be a 400 here, not a 500 at save time.
    """

    MAX_ENTRIES = 100
    default_error_messages = {
        # Doubled braces: DRF formats these messages with str.format.
        "not_a_dict": 'Expected an object mapping each key to a text, e.g. {{"price_too_high": "Let me explain..."}}.',
        "not_text": 'Every value must be a text, e.g. {{"price_too_high": "Let me explain..."}}.',
        "too_many": "At most {max} entries per session.",
        "bad_key": "Every key must be a text of at most 200 characters: {reason}",
    }

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=4000, allow_blank=True), **kwargs)
        self.key_field = serializers.CharField(max_length=200, allow_blank=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        if not all(isinstance(v, str) for v in data.values()):
            self.fail("not_text")
        if len(data) > self.MAX_ENTRIES:
            self.fail("too_many", max=self.MAX_ENTRIES)
        for key in data:
            try:
                self.key_field.run_validation(key)
            except serializers.ValidationError as exc:
                if exc.detail[0].code in RULE_CODES:
                    raise serializers.ValidationError(
                        self.error_messages["bad_key"].format(reason=exc.detail[0]), code=REFUSED_BY_RULE
                    ) from None
                self.fail("bad_key", reason=exc.detail[0])
        return super().to_internal_value(data)


def _text_list(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=StrictCharField(max_length=300), max_length=50, **kwargs)


class BusinessInfoSerializer(serializers.Serializer):
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    product_description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    value_proposition = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    class Meta:
        ref_name = "BusinessInfo"


class BusinessInfoOutputSerializer(serializers.Serializer):
    company_name = serializers.CharField()
    product_description = serializers.CharField()
    value_proposition = serializers.CharField()

    class Meta:
        ref_name = "BusinessInfoOut"


class SalesGoalsSerializer(serializers.Serializer):
    target_conversions = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True)
    avg_deal_size = serializers.FloatField(min_value=0, max_value=1e12, required=False, allow_null=True)

    class Meta:
        ref_name = "SalesGoals"


class SalesGoalsOutputSerializer(serializers.Serializer):
    target_conversions = serializers.IntegerField(allow_null=True)
    avg_deal_size = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "SalesGoalsOut"


class MaterialScoreSerializer(serializers.Serializer):
    points = serializers.FloatField()
    max = serializers.IntegerField()

    class Meta:
        ref_name = "MaterialScore"


class TrainingBreakdownSerializer(serializers.Serializer):
    """Points per kind of material (agents.knowledge), so the frontend can show what is missing."""

    script = MaterialScoreSerializer()
    product = MaterialScoreSerializer()
    objections = MaterialScoreSerializer()
    company = MaterialScoreSerializer()
    techniques = MaterialScoreSerializer()
    faq = MaterialScoreSerializer()

    class Meta:
        ref_name = "TrainingBreakdown"


VOICE_MODE_HELP = (
    "gather: each turn is a <Gather> webhook round trip (any Twilio account). relay: Twilio ConversationRelay "
    "holds a WebSocket to RELAY_BASE_URL + /relay/<public_id>/ and speaks the reply as it streams (needs "
    "ConversationRelay enabled on the Twilio account)."
)


class AgentOutputSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(help_text="Names the agent in its webhook URLs.")
    agent_name = serializers.CharField(source="name")
    personality_type = serializers.ChoiceField(choices=AIAgent.Personality.choices)
    voice_model = serializers.CharField()
    language = serializers.CharField()
    voice_mode = serializers.ChoiceField(choices=AIAgent.VoiceMode.choices, help_text=VOICE_MODE_HELP)
    phone_number = serializers.CharField(allow_null=True)
    working_hours_start = HourMinuteField(help_text=HOURS_HELP)
    working_hours_end = HourMinuteField(help_text=HOURS_HELP)
    business_info = serializers.SerializerMethodField()
    sales_goals = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=AIAgent.Status.choices,
        help_text="training < 20 % <= learning < 80 % <= active; paused when the client paused it.",
    )
    training_level = serializers.IntegerField(help_text="0-100: how much material the agent has (agents.knowledge).")
    training_breakdown = serializers.SerializerMethodField()
    can_take_calls = serializers.BooleanField(help_text="Trained to 20 % or more and not paused.")
    calls_handled = serializers.IntegerField()
    successful_conversions = serializers.IntegerField()
    conversion_rate = serializers.FloatField(help_text="Conversions per call handled, in %.")
    voicemail_message = serializers.CharField()
    followup_delay_minutes = serializers.IntegerField()
    followup_max_attempts = serializers.IntegerField()
    webhook_base_url = serializers.SerializerMethodField(
        help_text="Twilio webhooks of this agent live under this URL (PUBLIC_BASE_URL + /webhooks/twilio/<public_id>/)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Agent"

    @extend_schema_field(BusinessInfoOutputSerializer)
    def get_business_info(self, agent: AIAgent) -> dict[str, str]:
        return {k: str((agent.business_info or {}).get(k) or "") for k in COMPANY_FIELDS}

    @extend_schema_field(SalesGoalsOutputSerializer)
    def get_sales_goals(self, agent: AIAgent) -> dict[str, Any]:
        goals = agent.sales_goals or {}
        return {"target_conversions": goals.get("target_conversions"), "avg_deal_size": goals.get("avg_deal_size")}

    @extend_schema_field(TrainingBreakdownSerializer)
    def get_training_breakdown(self, agent: AIAgent) -> dict:
        return level_breakdown(agent.knowledge or {})

    def get_webhook_base_url(self, agent: AIAgent) -> str:
        # Reversed from the webhooks' own route (calls/webhook_urls.py), so a moved mount moves this too;
        # the prefix every one of the agent's webhooks shares is the route less its last step.
        incoming = reverse("twilio-incoming", kwargs={"agent_id": agent.public_id})
        return settings.PUBLIC_BASE_URL + incoming.removesuffix("incoming/")


NUMBER_HELP = (
    "With Twilio configured, a new `phone_number` is first pointed at the agent's webhooks on the client's "
    "Twilio account (voice, fallback and status callback URLs); a number the account does not own is a 422 "
    "(`number_not_on_account`), Twilio unreachable a 503 with `retry_after`, and the number is then not saved."
)


class AgentUpdateInputSerializer(serializers.Serializer):
    agent_name = serializers.CharField(max_length=120, required=False, source="name")
    personality_type = serializers.ChoiceField(choices=AIAgent.Personality.choices, required=False)
    voice_model = serializers.CharField(max_length=60, required=False)
    language = serializers.CharField(max_length=10, required=False)
    voice_mode = serializers.ChoiceField(choices=AIAgent.VoiceMode.choices, required=False, help_text=VOICE_MODE_HELP)
    phone_number = PhoneNumberField(
        max_length=32, required=False, allow_blank=True, allow_null=True,
        help_text="The agent's own number, normalised to E.164. Empty or null removes it.",
    )  # fmt: skip
    working_hours_start = HourMinuteField(required=False, help_text=HOURS_HELP)
    working_hours_end = HourMinuteField(required=False, help_text=HOURS_HELP)
    business_info = BusinessInfoSerializer(required=False, help_text="Merged: only the keys sent change.")
    sales_goals = SalesGoalsSerializer(required=False, help_text="Merged: only the keys sent change.")
    voicemail_message = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    followup_delay_minutes = serializers.IntegerField(min_value=5, max_value=7 * 24 * 60, required=False)
    followup_max_attempts = serializers.IntegerField(min_value=0, max_value=10, required=False)
    status = serializers.ChoiceField(
        choices=[(AIAgent.Status.PAUSED, "Pause"), (AIAgent.Status.ACTIVE, "Resume")],
        required=False,
        help_text="'paused' stops all calls; 'active' resumes, and the level decides the status again.",
    )

    class Meta:
        ref_name = "AgentUpdate"


# --- the agent ---------------------------------------------------------------------------------


class AgentDetailApi(AgentApi):
    """``/api/agents/ai/``: the client's agent."""

    parser_classes = [JSONParser]

    InputSerializer = AgentUpdateInputSerializer
    OutputSerializer = AgentOutputSerializer

    @extend_schema(
        operation_id="agent_read",
        summary="Read the client's AI agent",
        description="Settings, status, training level with its breakdown, counters and the webhook base URL. "
        "404 until the agent has been created with POST /api/agents/ai/setup/.",
        responses={200: AgentOutputSerializer, **errors(401, 403, 404)},
        tags=["agent"],
    )
    def get(self, request):
        return Response(AgentOutputSerializer(self.agent).data)

    @extend_schema(
        operation_id="agent_update",
        summary="Change the client's AI agent",
        description="Only the fields sent change. `status` pauses ('paused') or resumes ('active') the agent. "
        "The client's call policy (transfer number, daily limit, disclosure, timezone) is at "
        "/api/account/settings/. " + NUMBER_HELP,
        request=AgentUpdateInputSerializer,
        responses={200: AgentOutputSerializer, **errors(400, 401, 403, 404, 409, 422, 502, 503)},
        tags=["agent"],
    )
    def patch(self, request):
        # Named explicitly (not self.InputSerializer): AgentSetupApi's InputSerializer is the set-up body.
        data = AgentUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = agent_update(agent=self.agent, changed_by=request.user, **data.validated_data)
        return Response(AgentOutputSerializer(agent).data)


class AgentSetupApi(AgentDetailApi):
    """``/api/agents/ai/setup/``: create the agent (the seed's path); GET and PATCH as on /api/agents/ai/."""

    class InputSerializer(serializers.Serializer):
        agent_name = serializers.CharField(max_length=120, source="name")
        personality_type = serializers.ChoiceField(
            choices=AIAgent.Personality.choices, default=AIAgent.Personality.FRIENDLY
        )
        voice_model = serializers.CharField(max_length=60, default="Polly.Joanna-Neural")
        language = serializers.CharField(max_length=10, default="en-US")
        working_hours_start = HourMinuteField(default=time(9, 0), help_text=HOURS_HELP)
        working_hours_end = HourMinuteField(default=time(18, 0), help_text=HOURS_HELP)
        business_info = BusinessInfoSerializer(required=False)
        sales_goals = SalesGoalsSerializer(required=False)
        phone_number = PhoneNumberField(
            max_length=32, required=False, allow_blank=True, allow_null=True,
            help_text="The agent's own number (any common format; stored as E.164). Optional.",
        )  # fmt: skip

        class Meta:
            ref_name = "AgentSetup"

    @extend_schema(
        operation_id="agent_setup",
        summary="Create the client's AI agent (blank)",
        description="Each client has one agent. It starts blank: status `training`, level 0, and takes no "
        "calls until training brings it to 20 %. A second set-up is a 409. " + NUMBER_HELP,
        request=InputSerializer,
        responses={201: AgentOutputSerializer, **errors(400, 401, 403, 409, 422, 502, 503)},
        tags=["agent"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = agent_setup(client=self.client, **data.validated_data)
        return Response(AgentOutputSerializer(agent).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="agent_setup_read",
        summary="Read the client's AI agent (same as GET /api/agents/ai/)",
        description="The seed's path for reading the agent; identical to GET /api/agents/ai/.",
        responses={200: AgentOutputSerializer, **errors(401, 403, 404)},
        tags=["agent"],
    )
    def get(self, request):
        return super().get(request)

    @extend_schema(
        operation_id="agent_setup_update",
        summary="Change the client's AI agent (same as PATCH /api/agents/ai/)",
        description="The seed's path for changing the agent; identical to PATCH /api/agents/ai/.",
        request=AgentUpdateInputSerializer,
        responses={200: AgentOutputSerializer, **errors(400, 401, 403, 404, 409, 422, 502, 503)},
        tags=["agent"],
    )
    def patch(self, request):
        return super().patch(request)


# --- training ----------------------------------------------------------------------------------


class ProductDetailsSerializer(serializers.Serializer):
    features = _text_list(required=False)
    pricing = serializers.CharField(max_length=300, required=False, allow_blank=True)
    benefits = _text_list(required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    class Meta:
        ref_name = "ProductDetails"


class ProductDetailsOutputSerializer(serializers.Serializer):
    features = serializers.ListField(child=serializers.CharField())
    pricing = serializers.CharField()
    benefits = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()

    class Meta:
        ref_name = "ProductDetailsOut"


class TrainingSessionOutputSerializer(serializers.Serializer):
    """Renders an ``AIAgentTraining`` in the shape the training endpoint takes it in."""

    id = serializers.UUIDField()
    training_type = serializers.ChoiceField(choices=AIAgentTraining.TrainingType.choices)
    training_content = serializers.CharField(help_text="The script (script sessions) or notes (other types).")
    product_details = ProductDetailsOutputSerializer()
    objection_responses = serializers.DictField(child=serializers.CharField())
    sales_techniques = serializers.ListField(child=serializers.CharField())
    faq = serializers.DictField(child=serializers.CharField())
    company_info = serializers.DictField(child=serializers.CharField())
    client_instructions = serializers.CharField()
    sales_goals = serializers.DictField()
    completion_percentage = serializers.IntegerField(help_text="The agent's training level right after this session.")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "TrainingSession"

    def to_representation(self, instance: AIAgentTraining):
        return super().to_representation(_session_body(instance))


def _session_body(session: AIAgentTraining) -> dict[str, Any]:
    """A stored session in the API's shape (its material is kept in JSON fields by kind)."""
    data = session.training_data or {}
    product = session.product_info or {}
    return {
        "id": session.id,
        "training_type": session.training_type,
        "training_content": data.get("script") or data.get("notes") or "",
        "product_details": {
            "features": list(product.get("features") or []),
            "pricing": product.get("pricing") or "",
            "benefits": list(product.get("benefits") or []),
            "description": product.get("description") or "",
        },
        "objection_responses": data.get("objection_responses") or {},
        "sales_techniques": data.get("sales_techniques") or [],
        "faq": data.get("faq") or {},
        "company_info": data.get("company_info") or {},
        "client_instructions": session.client_instructions,
        "sales_goals": session.sales_goals or {},
        "completion_percentage": session.completion_percentage,
        "created_at": session.created_at,
    }


class AgentTrainingApi(AgentApi):
    """``/api/agents/ai/training/``: teach the agent, and see what it was taught."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        training_type = serializers.ChoiceField(
            choices=AIAgentTraining.TrainingType.choices,
            error_messages={"invalid_choice": f"Unknown training_type '{{input}}'. Use one of: {TRAINING_TYPES}."},
        )
        training_content = serializers.CharField(
            max_length=20_000, required=False, allow_blank=True, default="",
            help_text="For `script` sessions, the sales script the agent opens with; otherwise notes.",
        )  # fmt: skip
        product_details = ProductDetailsSerializer(required=False)
        objection_responses = TextMapField(required=False, help_text="Objection key -> the answer to give.")
        sales_techniques = _text_list(required=False)
        faq = TextMapField(required=False, help_text="Question -> answer.")
        company_info = BusinessInfoSerializer(required=False)
        client_instructions = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
        sales_goals = SalesGoalsSerializer(required=False)

        class Meta:
            ref_name = "Training"

    class OutputSerializer(serializers.Serializer):
        session = TrainingSessionOutputSerializer()
        agent = AgentOutputSerializer(help_text="The agent after this session: its new level, status and breakdown.")

        class Meta:
            ref_name = "TrainingAdded"

    @extend_schema(
        operation_id="agent_training_add",
        summary="Train the agent",
        description="Adds a training session. The agent's level is recomputed from all the material it now "
        "has (script, product, objection answers, company info, techniques, FAQ; see the breakdown), so "
        "sending the same material again does not raise it. The status follows the level: training -> "
        "learning at 20 % -> active at 80 %.",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 401, 403, 404, 422)},
        tags=["agent"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = training_add(agent=self.agent, **data.validated_data)
        # session.ai_agent is the row training_add locked and updated: it has the new level and status.
        body = {"session": session, "agent": session.ai_agent}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="agent_training_list",
        summary="List the agent's training sessions, newest first",
        description="Paginated with `page` and `page_size`; an out-of-range page is a 404.",
        parameters=PAGE_PARAMETERS,
        responses={
            200: paginated("PaginatedTrainingSessionList", TrainingSessionOutputSerializer),
            **errors(401, 403, 404),
        },
        tags=["agent"],
    )
    def get(self, request):
        return paginated_response(
            view=self, queryset=training_list(agent=self.agent), serializer_class=TrainingSessionOutputSerializer
        )
