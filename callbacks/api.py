"""Callbacks API: list (also at the seed's dashboard path), book, read, reschedule, cancel.

A customer's do-not-call switch, which cancels their callbacks, is the customers API's
(``customers.services.customer_opt_out``).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.tenancy import AgentApi
from callbacks.models import ScheduledCallback
from callbacks.selectors import (
    CallbackFilters,
    callback_booking,
    callback_get,
    callback_is_overdue,
    callback_list,
)
from callbacks.services import (
    MAX_BOOKING_AHEAD,
    callback_cancel,
    callback_reschedule,
    callback_schedule,
)
from core.api_query import QuerySerializer
from core.api_schema import errors
from core.errors import REFUSED_BY_RULE
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response
from customers.selectors import customer_get


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time *with* its offset: a bare "14:00" could be anyone's 14:00."""

    default_error_messages = {
        "naive": "Give the time with its UTC offset, e.g. 2025-10-02T14:00:00Z or 2025-10-02T10:00:00-04:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # well-formed but impossible (month 13): the parent explains
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


def _bookable(value: datetime) -> datetime:
    if value > timezone.now() + MAX_BOOKING_AHEAD:
        raise serializers.ValidationError("A callback can be booked at most a year ahead.", code=REFUSED_BY_RULE)
    return value


class CallbackCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    phone_number = serializers.CharField()

    class Meta:
        ref_name = "CallbackCustomer"


class CallbackOutputSerializer(serializers.Serializer):
    """A callback as every endpoint renders it; needs ``now`` in the context for ``is_overdue``."""

    id = serializers.UUIDField()
    customer = CallbackCustomerSerializer(source="customer_profile")
    kind = serializers.ChoiceField(choices=ScheduledCallback.Kind.choices)
    status = serializers.ChoiceField(choices=ScheduledCallback.Status.choices)
    scheduled_datetime = serializers.DateTimeField()
    priority_level = serializers.IntegerField(help_text="1 is the most urgent, 5 the least.")
    reason = serializers.CharField()
    expected_outcome = serializers.CharField()
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    is_overdue = serializers.SerializerMethodField(help_text="Still scheduled, and its time has passed.")
    last_error = serializers.CharField(help_text="Why the last attempt failed or why it was cancelled.")
    source_call_id = serializers.UUIDField(allow_null=True, help_text="The call in which it was asked for.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Callback"

    @extend_schema_field(serializers.BooleanField())
    def get_is_overdue(self, obj: ScheduledCallback) -> bool:
        return callback_is_overdue(obj, now=self.context.get("now") or timezone.now())


class BookingOutputSerializer(CallbackOutputSerializer):
    """A callback just booked or moved, saying whether it landed where it was asked for."""

    requested_datetime = serializers.SerializerMethodField(help_text="The time that was asked for.")
    moved = serializers.SerializerMethodField(help_text="True when the booked time differs from the requested one.")
    moved_reason = serializers.SerializerMethodField(help_text="Why it was moved; null when it was not.")

    class Meta:
        ref_name = "CallbackBooking"

    @extend_schema_field(serializers.DateTimeField())
    def get_requested_datetime(self, obj):
        return serializers.DateTimeField().to_representation(self.context["booking"].requested_at)

    @extend_schema_field(serializers.BooleanField())
    def get_moved(self, obj) -> bool:
        return self.context["booking"].moved

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_moved_reason(self, obj):
        return self.context["booking"].moved_reason


def _booking_data(booking) -> dict:
    return BookingOutputSerializer(booking.callback, context={"booking": booking, "now": timezone.now()}).data


def _callback_data(callback: ScheduledCallback) -> dict:
    return CallbackOutputSerializer(callback, context={"now": timezone.now()}).data


# --- list, and the same list at the seed's dashboard path ----------------------------------


class CallbackListApi(AgentApi):
    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=ScheduledCallback.Status.choices, required=False)
        overdue = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="Scheduled and past their time (or not)."
        )
        priority = serializers.IntegerField(required=False, min_value=1, max_value=5)
        kind = serializers.ChoiceField(choices=ScheduledCallback.Kind.choices, required=False)
        date_from = serializers.DateTimeField(required=False, help_text="Scheduled at or after (ISO 8601).")
        date_to = serializers.DateTimeField(required=False, help_text="Scheduled before (ISO 8601).")
        customer = serializers.UUIDField(required=False, help_text="Only this customer's callbacks.")

        def validate(self, attrs):
            if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] >= attrs["date_to"]:
                raise serializers.ValidationError({"date_to": "date_to must be after date_from."}, code=REFUSED_BY_RULE)
            return attrs

        @classmethod
        def parse(cls, request) -> CallbackFilters:
            serializer = cls(data=request.query_params)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            return CallbackFilters(
                status=data.get("status"),
                overdue=data["overdue"],
                priority=data.get("priority"),
                kind=data.get("kind"),
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                customer_id=str(data["customer"]) if data.get("customer") else None,
            )

    OutputSerializer = CallbackOutputSerializer

    @extend_schema(
        operation_id="callbacks_list",
        summary="List callbacks",
        description="Earliest first. Filter by status, overdue, priority, kind, customer and a date range.",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: paginated("PaginatedCallbackList", OutputSerializer), **errors(400, 401, 403, 404)},
    )
    def get(self, request):
        filters = CallbackListApi.FilterSerializer.parse(request)
        return paginated_response(
            view=self,
            queryset=callback_list(agent=self.agent, filters=filters),
            serializer_class=CallbackListApi.OutputSerializer,
            context={"now": timezone.now()},
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="dashboard_ai_agent_callbacks_list",
        summary="Scheduled callbacks (dashboard)",
        description="The seed's path for the callback list: same filters, same rows as GET /api/callbacks/.",
    )
)
class DashboardCallbackListApi(CallbackListApi):
    """``GET /api/dashboard/ai-agent/callbacks/?status=scheduled&overdue=true`` (the seed's path)."""


# --- booking and changing one callback -----------------------------------------------------


class CallbackCreateApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        customer_id = serializers.UUIDField()
        scheduled_datetime = AwareDateTimeField(validators=[_bookable], help_text="When to call, with its offset.")
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        priority_level = serializers.IntegerField(min_value=1, max_value=5, required=False, default=3)
        expected_outcome = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "CallbackCreate"

    @extend_schema(
        operation_id="callbacks_create",
        summary="Book a callback",
        description="Booked at the requested time, or moved forward to the first time the customer may be called "
        "(08:00-21:00 their time, within the agent's working hours); the answer says if and why it moved. "
        "A do-not-call customer is a 409.",
        request=InputSerializer,
        responses={201: BookingOutputSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request):
        serializer = CallbackCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = customer_get(agent=self.agent, customer_id=data["customer_id"])
        callback = callback_schedule(
            agent=self.agent,
            customer=customer,
            at=data["scheduled_datetime"],
            reason=data["reason"],
            priority=data["priority_level"],
            expected_outcome=data["expected_outcome"],
        )
        booking = callback_booking(agent=self.agent, callback=callback, requested_at=data["scheduled_datetime"])
        return Response(_booking_data(booking), status=status.HTTP_201_CREATED)


class CallbackCollectionApi(CallbackListApi, CallbackCreateApi):
    """GET lists, POST books: two operations on one path (URLs route by path, not method)."""


class CallbackDetailApi(AgentApi):
    @extend_schema(
        operation_id="callbacks_retrieve",
        summary="A callback",
        responses={200: CallbackOutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, callback_id):
        return Response(_callback_data(callback_get(agent=self.agent, callback_id=callback_id)))


class CallbackRescheduleApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        scheduled_datetime = AwareDateTimeField(validators=[_bookable], help_text="The new time, with its offset.")
        priority_level = serializers.IntegerField(min_value=1, max_value=5, required=False)

        class Meta:
            ref_name = "CallbackReschedule"

    @extend_schema(
        operation_id="callbacks_reschedule",
        summary="Reschedule a callback",
        description="Moved into an allowed time like a booking. Only a scheduled callback can move (else 409).",
        request=InputSerializer,
        responses={200: BookingOutputSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, callback_id):
        callback = callback_get(agent=self.agent, callback_id=callback_id)
        serializer = CallbackRescheduleApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        callback = callback_reschedule(
            callback=callback, at=data["scheduled_datetime"], priority=data.get("priority_level")
        )
        booking = callback_booking(agent=self.agent, callback=callback, requested_at=data["scheduled_datetime"])
        return Response(_booking_data(booking))


class CallbackCancelApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "CallbackCancel"

    @extend_schema(
        operation_id="callbacks_cancel",
        summary="Cancel a callback",
        description="Only a scheduled callback can be cancelled (else 409).",
        request=InputSerializer,
        responses={200: CallbackOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, callback_id):
        callback = callback_get(agent=self.agent, callback_id=callback_id)
        serializer = CallbackCancelApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        callback = callback_cancel(callback=callback, reason=serializer.validated_data["reason"])
        return Response(_callback_data(callback))
