"""The dashboard API: everything the client's home screen shows, in one read-only call."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from agents.models import AIAgent
from agents.tenancy import AgentApi
from callbacks.models import ScheduledCallback
from calls.api import CallListApi
from core.api_schema import errors
from dashboard.selectors import agent_dashboard


class DashboardAgentSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=AIAgent.Status.choices)
    personality_type = serializers.CharField()
    phone_number = serializers.CharField(allow_null=True)
    training_level = serializers.IntegerField()
    can_take_calls = serializers.BooleanField()

    class Meta:
        ref_name = "DashboardAgent"


class DashboardPerformanceSerializer(serializers.Serializer):
    calls_handled = serializers.IntegerField(help_text="Calls closed with an outcome, ever.")
    successful_conversions = serializers.IntegerField()
    conversion_rate = serializers.FloatField(help_text="Percent of handled calls that converted, ever.")
    window_days = serializers.IntegerField(help_text="The recent window the *_in_window figures cover.")
    calls_in_window = serializers.IntegerField()
    answered_in_window = serializers.IntegerField(help_text="Calls a person picked up.")
    conversions_in_window = serializers.IntegerField()
    conversion_rate_in_window = serializers.FloatField()
    avg_duration_seconds = serializers.FloatField(allow_null=True, help_text="Of connected calls in the window.")
    today_calls = serializers.IntegerField(help_text="Since midnight in the client's timezone.")
    today_outbound_calls = serializers.IntegerField(help_text="Placed by the agent today: these count to the limit.")
    daily_call_limit = serializers.IntegerField()
    daily_calls_remaining = serializers.IntegerField()
    failed_calls_today = serializers.IntegerField()
    llm_fallbacks_24h = serializers.IntegerField(help_text="Turns the fallback provider answered, last 24 h.")

    class Meta:
        ref_name = "DashboardPerformance"


class DashboardCustomersSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    cold = serializers.IntegerField()
    warm = serializers.IntegerField()
    hot = serializers.IntegerField()
    converted = serializers.IntegerField()
    do_not_call = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardCustomers"


class DashboardCallbackSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ScheduledCallback.Kind.choices)
    customer_id = serializers.UUIDField(source="customer_profile_id")
    customer_name = serializers.CharField(source="customer_profile.name")
    customer_phone = serializers.CharField(source="customer_profile.phone_number")
    scheduled_datetime = serializers.DateTimeField()
    reason = serializers.CharField()
    priority_level = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardCallback"


class DashboardCallbacksSerializer(serializers.Serializer):
    scheduled = serializers.IntegerField(help_text="Callbacks waiting to be placed.")
    overdue = serializers.IntegerField(help_text="Waiting callbacks whose time has passed.")
    due_today = serializers.IntegerField(help_text="Still to come today (client's timezone).")
    upcoming = DashboardCallbackSerializer(many=True, help_text="The next ones, soonest first.")

    class Meta:
        ref_name = "DashboardCallbacks"


class DashboardPointsSerializer(serializers.Serializer):
    points = serializers.FloatField()
    max = serializers.FloatField()

    class Meta:
        ref_name = "DashboardTrainingPoints"


class DashboardBreakdownSerializer(serializers.Serializer):
    script = DashboardPointsSerializer()
    product = DashboardPointsSerializer()
    objections = DashboardPointsSerializer()
    company = DashboardPointsSerializer()
    techniques = DashboardPointsSerializer()
    faq = DashboardPointsSerializer()

    class Meta:
        ref_name = "DashboardTrainingBreakdown"


class DashboardTrainingSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    status = serializers.ChoiceField(choices=AIAgent.Status.choices)
    can_take_calls = serializers.BooleanField()
    breakdown = DashboardBreakdownSerializer(help_text="Points per kind of material (agents.knowledge).")
    sessions = serializers.IntegerField()
    last_session_at = serializers.DateTimeField(allow_null=True)
    objections_trained = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardTraining"


class DashboardObjectionSerializer(serializers.Serializer):
    key = serializers.CharField()
    count = serializers.IntegerField(help_text="Calls in which it came up.")
    interest_rate = serializers.FloatField(help_text="Percent of those calls that ended interested or converted.")
    conversion_rate = serializers.FloatField()
    answer_uses = serializers.IntegerField(help_text="Calls in which the agent gave the trained answer.")
    answer_interest_rate = serializers.FloatField()
    answer_conversion_rate = serializers.FloatField()

    class Meta:
        ref_name = "DashboardObjectionInsight"


class DashboardPickupHourSerializer(serializers.Serializer):
    hour = serializers.IntegerField(help_text="0-23, the customer's local time.")
    attempts = serializers.IntegerField()
    answered = serializers.IntegerField()
    pickup_rate = serializers.FloatField()

    class Meta:
        ref_name = "DashboardPickupHour"


class DashboardTrendDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    calls = serializers.IntegerField()
    conversions = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardTrendDay"


class DashboardLearningSerializer(serializers.Serializer):
    processed_calls = serializers.IntegerField(help_text="Call outcomes the agent has learned from.")
    outcomes = serializers.DictField(child=serializers.IntegerField(), help_text="Learned calls per outcome.")
    top_objections = DashboardObjectionSerializer(many=True)
    best_pickup_hours = DashboardPickupHourSerializer(many=True)
    conversion_trend = DashboardTrendDaySerializer(many=True, help_text="The last 14 days, oldest first.")
    insights = serializers.ListField(child=serializers.CharField(), help_text="What the outcomes show, in sentences.")
    preferred_call_hours = serializers.ListField(
        child=serializers.IntegerField(), help_text="Customer-local hours with better pick-up; open callbacks go there."
    )

    class Meta:
        ref_name = "DashboardLearning"


class DashboardQuickActionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    endpoint = serializers.CharField(help_text="The API call that does it, e.g. 'POST /api/agents/ai/training/'.")

    class Meta:
        ref_name = "DashboardQuickAction"


class DashboardAlertSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=["info", "warning", "error"])
    message = serializers.CharField()
    count = serializers.IntegerField()

    class Meta:
        ref_name = "DashboardAlert"


class AgentDashboardApi(AgentApi):
    class OutputSerializer(serializers.Serializer):
        agent = DashboardAgentSerializer()
        performance = DashboardPerformanceSerializer()
        recent_calls = CallListApi.OutputSerializer(many=True, help_text="The last 10 calls, newest first.")
        customers = DashboardCustomersSerializer()
        callbacks = DashboardCallbacksSerializer()
        training = DashboardTrainingSerializer()
        learning = DashboardLearningSerializer()
        quick_actions = DashboardQuickActionSerializer(many=True)
        alerts = DashboardAlertSerializer(many=True)
        generated_at = serializers.DateTimeField()

        class Meta:
            ref_name = "AgentDashboard"

    @extend_schema(
        operation_id="dashboard_ai_agent",
        summary="The AI agent dashboard",
        description="Agent status and performance, recent calls, customer statistics, scheduled callbacks, "
        "training status, learning insights, quick actions and alerts. 404 when the client has no agent yet "
        "(create it with POST /api/agents/ai/setup/).",
        responses={200: OutputSerializer, **errors(401, 404)},
        tags=["dashboard"],
    )
    def get(self, request):
        return Response(self.OutputSerializer(agent_dashboard(agent=self.agent)).data)
