"""The calls API: the call log, one call with its transcript, and recording a call's outcome.

Views parse, call a selector or a service, and render. Every read goes through
``calls.selectors`` with the agent of the signed-in user's client, so another client's call
is simply "not found".
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from agents.tenancy import AgentApi
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from calls.outcomes import PAST_CALLBACK, OutcomeResult, call_record_outcome
from calls.selectors import CallFilters, call_detail, call_get, call_list
from core.api_query import QuerySerializer
from core.api_schema import errors
from core.errors import REFUSED_BY_RULE
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response


def _sentiment(raw: Any) -> dict[str, Any]:
    """The stored sentiment JSON in one shape, whatever wrote it (engine, seed, admin edit)."""
    raw = raw if isinstance(raw, dict) else {}
    label = raw.get("label") if raw.get("label") in ("positive", "neutral", "negative") else None
    score = raw.get("score")
    score = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None

    def words(key: str) -> list[str]:
        value = raw.get(key)
        return [str(v) for v in value] if isinstance(value, list) else []

    timeline = raw.get("timeline")
    timeline = [float(v) for v in timeline if isinstance(v, int | float)] if isinstance(timeline, list) else []
    return {
        "label": label,
        "score": score,
        "positive": words("positive"),
        "negative": words("negative"),
        "timeline": timeline,
    }


class SentimentSerializer(serializers.Serializer):
    label = serializers.ChoiceField(
        choices=["positive", "neutral", "negative"], allow_null=True, help_text="Null when not analysed."
    )
    score = serializers.FloatField(allow_null=True, help_text="-1 (very negative) to 1 (very positive).")
    positive = serializers.ListField(child=serializers.CharField(), help_text="Positive words the caller used.")
    negative = serializers.ListField(child=serializers.CharField(), help_text="Negative words the caller used.")
    timeline = serializers.ListField(child=serializers.FloatField(), help_text="Score per caller turn, in order.")

    class Meta:
        ref_name = "CallSentiment"


class CallbackBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ScheduledCallback.Kind.choices)
    status = serializers.ChoiceField(choices=ScheduledCallback.Status.choices)
    scheduled_datetime = serializers.DateTimeField()
    reason = serializers.CharField()
    priority_level = serializers.IntegerField()
    attempts = serializers.IntegerField()

    class Meta:
        ref_name = "CallCallbackBrief"


class CallListApi(AgentApi):
    class FilterSerializer(QuerySerializer):
        call_type = serializers.ChoiceField(choices=CallSession.CallType.choices, required=False)
        status = serializers.ChoiceField(choices=CallSession.Status.choices, required=False)
        outcome = serializers.ChoiceField(choices=CallSession.Outcome.choices, required=False)
        customer = serializers.UUIDField(required=False, help_text="Only this customer's calls.")
        date_from = serializers.DateTimeField(
            required=False, help_text="Started at or after (ISO 8601; without an offset, UTC)."
        )
        date_to = serializers.DateTimeField(
            required=False, help_text="Started before (ISO 8601; without an offset, UTC)."
        )
        search = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="Part of the customer's name or phone number."
        )
        simulations = serializers.BooleanField(
            required=False, default=False, help_text="List the persona simulation calls instead of the real ones."
        )

        def validate(self, attrs):
            if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] >= attrs["date_to"]:
                raise serializers.ValidationError({"date_to": "date_to must be after date_from."}, code=REFUSED_BY_RULE)
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        call_type = serializers.ChoiceField(choices=CallSession.CallType.choices)
        status = serializers.ChoiceField(choices=CallSession.Status.choices)
        outcome = serializers.CharField(help_text="A CallSession outcome, or empty while unknown.")
        customer_id = serializers.UUIDField(source="customer_profile_id")
        customer_name = serializers.CharField(source="customer_profile.name")
        customer_phone = serializers.CharField(source="customer_profile.phone_number")
        started_at = serializers.DateTimeField()
        ended_at = serializers.DateTimeField(allow_null=True)
        duration_seconds = serializers.IntegerField(allow_null=True)
        sentiment_label = serializers.SerializerMethodField()
        turn_count = serializers.IntegerField()
        customer_satisfaction = serializers.IntegerField(allow_null=True)
        followup_scheduled = serializers.BooleanField()

        class Meta:
            ref_name = "CallListItem"

        @extend_schema_field(serializers.ChoiceField(choices=["positive", "neutral", "negative"], allow_null=True))
        def get_sentiment_label(self, call: CallSession) -> str | None:
            return _sentiment(call.sentiment_analysis)["label"]

    @extend_schema(
        operation_id="calls_list",
        summary="List calls",
        description="The agent's calls, newest first, filtered and paginated.",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: paginated("PaginatedCallList", OutputSerializer), **errors(400, 401, 404)},
        tags=["calls"],
    )
    def get(self, request):
        agent = self.agent
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = CallFilters(
            call_type=data.get("call_type"),
            status=data.get("status"),
            outcome=data.get("outcome"),
            customer_id=data.get("customer"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            search=data.get("search", ""),
            simulations=data.get("simulations", False),
        )
        return paginated_response(
            view=self, queryset=call_list(agent=agent, filters=filters), serializer_class=self.OutputSerializer
        )


class CallTurnSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    speaker = serializers.ChoiceField(choices=CallTurn.Speaker.choices)
    text = serializers.CharField()
    spoken_at = serializers.DateTimeField()
    latency_ms = serializers.IntegerField(allow_null=True, help_text="Time the agent took to answer.")
    provider = serializers.CharField(help_text="Which conversation provider answered (agent turns).")
    actions = serializers.SerializerMethodField(help_text="What the agent did on this turn (callback booked, ...).")

    class Meta:
        ref_name = "CallTurn"

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_actions(self, turn: CallTurn) -> list[dict]:
        actions = turn.actions if isinstance(turn.actions, list) else []
        return [a for a in actions if isinstance(a, dict)]


class CallCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    phone_number = serializers.CharField()
    interest_level = serializers.CharField()
    is_do_not_call = serializers.BooleanField()

    class Meta:
        ref_name = "CallCustomer"


class CallDetailApi(AgentApi):
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        call_type = serializers.ChoiceField(choices=CallSession.CallType.choices)
        status = serializers.ChoiceField(choices=CallSession.Status.choices)
        outcome = serializers.CharField(help_text="A CallSession outcome, or empty while unknown.")
        context = serializers.CharField(help_text="Why the call was placed.")
        customer = CallCustomerSerializer(source="customer_profile")
        started_at = serializers.DateTimeField()
        answered_at = serializers.DateTimeField(allow_null=True)
        ended_at = serializers.DateTimeField(allow_null=True)
        duration_seconds = serializers.IntegerField(allow_null=True)
        answered_by = serializers.CharField()
        recording_url = serializers.CharField()
        recording_duration = serializers.IntegerField(allow_null=True)
        sentiment = serializers.SerializerMethodField()
        customer_response = serializers.CharField()
        conversation_notes = serializers.CharField()
        customer_satisfaction = serializers.IntegerField(allow_null=True)
        followup_scheduled = serializers.BooleanField()
        followup_datetime = serializers.DateTimeField(allow_null=True)
        llm_fallbacks = serializers.IntegerField(help_text="Turns answered by the fallback provider.")
        outcome_learned = serializers.BooleanField()
        turns = CallTurnSerializer(many=True, help_text="In the order they were spoken.")
        caused_by_callback = CallbackBriefSerializer(
            source="callback", allow_null=True, help_text="The scheduled callback or follow-up that placed this call."
        )
        callbacks_booked = CallbackBriefSerializer(
            many=True, help_text="Callbacks and follow-ups booked from this call."
        )

        class Meta:
            ref_name = "CallDetail"

        @extend_schema_field(SentimentSerializer)
        def get_sentiment(self, call: CallSession) -> dict:
            return SentimentSerializer(_sentiment(call.sentiment_analysis)).data

    @extend_schema(
        operation_id="calls_retrieve",
        summary="A call with its transcript",
        description="The call, its turns in order, its sentiment, the callback that caused it and the "
        "callbacks booked from it.",
        responses={200: OutputSerializer, **errors(401, 404)},
        tags=["calls"],
    )
    def get(self, request, call_id):
        call = call_detail(agent=self.agent, call_id=call_id)
        return Response(self.OutputSerializer(call).data)


class OutcomeCallSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=CallSession.Status.choices)
    outcome = serializers.ChoiceField(choices=CallSession.Outcome.choices)
    customer_response = serializers.CharField()
    conversation_notes = serializers.CharField()
    customer_satisfaction = serializers.IntegerField(allow_null=True)
    followup_scheduled = serializers.BooleanField()
    followup_datetime = serializers.DateTimeField(allow_null=True)
    outcome_learned = serializers.BooleanField()

    class Meta:
        ref_name = "CallOutcomeCall"


class OutcomeCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    phone_number = serializers.CharField()
    interest_level = serializers.CharField()
    is_converted = serializers.BooleanField()
    is_do_not_call = serializers.BooleanField()
    total_calls = serializers.IntegerField()
    successful_calls = serializers.IntegerField()
    call_preference_time = serializers.CharField()
    last_contacted_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "CallOutcomeCustomer"


class OutcomeAgentSerializer(serializers.Serializer):
    calls_handled = serializers.IntegerField()
    successful_conversions = serializers.IntegerField()
    conversion_rate = serializers.FloatField(help_text="Percent of handled calls that converted.")

    class Meta:
        ref_name = "CallOutcomeAgent"


class OutcomeCallbackSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    requested_datetime = serializers.DateTimeField(help_text="The time asked for.")
    scheduled_datetime = serializers.DateTimeField(help_text="The time actually booked.")
    moved = serializers.BooleanField(help_text="True when the asked time was not allowed and was moved.")
    reason = serializers.CharField()
    priority_level = serializers.IntegerField()
    status = serializers.CharField()

    class Meta:
        ref_name = "CallOutcomeCallback"


class CallOutcomeApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        call_id = serializers.UUIDField()
        outcome = serializers.ChoiceField(choices=CallSession.Outcome.choices)
        customer_response = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=5000,
            help_text="What the customer said, in a sentence; objections in it are recorded (e.g. price).",
        )
        conversation_notes = serializers.CharField(
            required=False, allow_blank=True, max_length=5000, help_text="Appended to the customer's notes."
        )
        callback_requested = serializers.BooleanField(required=False, default=False)
        callback_datetime = serializers.DateTimeField(
            required=False,
            allow_null=True,
            help_text="Required with callback_requested; in the future. Moved to the first time the customer may "
            "be called.",
        )
        callback_reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
        customer_satisfaction = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)

        class Meta:
            ref_name = "CallOutcomeRequest"

        def validate(self, attrs):
            if attrs.get("callback_requested") and not attrs.get("callback_datetime"):
                raise serializers.ValidationError(
                    {"callback_datetime": "callback_datetime is required when callback_requested is true."},
                    code=REFUSED_BY_RULE,
                )
            if attrs.get("callback_datetime") and not attrs.get("callback_requested"):
                raise serializers.ValidationError(
                    {"callback_requested": "Set callback_requested to true to book the callback at callback_datetime."},
                    code=REFUSED_BY_RULE,
                )
            if attrs.get("callback_datetime") and attrs["callback_datetime"] < timezone.now():
                raise serializers.ValidationError({"callback_datetime": PAST_CALLBACK}, code=REFUSED_BY_RULE)
            if attrs.get("callback_requested") and attrs["outcome"] == CallSession.Outcome.DO_NOT_CALL:
                raise serializers.ValidationError(
                    {"callback_requested": "A customer who asked not to be called cannot also get a callback."}
                )
            return attrs

    class OutputSerializer(serializers.Serializer):
        call = OutcomeCallSerializer()
        customer = OutcomeCustomerSerializer()
        agent = OutcomeAgentSerializer()
        callback = serializers.SerializerMethodField()
        counted = serializers.BooleanField(help_text="This request counted the call (its first outcome).")
        changed = serializers.BooleanField(help_text="The outcome differs from the one the call had.")
        learned = serializers.BooleanField(
            help_text="The outcome is in the agent's memory (false while the call is still going on)."
        )

        class Meta:
            ref_name = "CallOutcomeResult"

        @extend_schema_field(OutcomeCallbackSerializer(allow_null=True))
        def get_callback(self, result: OutcomeResult) -> dict | None:
            callback = result.callback
            if callback is None:
                return None
            return OutcomeCallbackSerializer(
                {
                    "id": callback.id,
                    "requested_datetime": result.callback_requested_at,
                    "scheduled_datetime": callback.scheduled_datetime,
                    "moved": result.callback_moved,
                    "reason": callback.reason,
                    "priority_level": callback.priority_level,
                    "status": callback.status,
                }
            ).data

    @extend_schema(
        operation_id="agent_call_outcome",
        summary="Record a call's outcome",
        description="Updates the call, the customer (interest level, notes, objections, counters), the agent's "
        "counters and learned memory, and books the callback when asked, in a time the customer may be called. "
        "All or nothing; recording the same outcome again changes nothing. A callback for a customer on the "
        "do-not-call list is refused with 409.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 404, 409)},
        tags=["agent"],
    )
    def post(self, request):
        agent = self.agent
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        call = call_get(agent=agent, call_id=data.pop("call_id"))
        result = call_record_outcome(agent=agent, call=call, **data)
        return Response(self.OutputSerializer(result).data)
