"""Customers API: list (also at the seed's dashboard path), create, read, update, delete,
the do-not-call switch, and CSV import and export. One class per operation; views parse,
call, render.
"""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from agents.models import AIAgent
from agents.tenancy import AgentApi
from core.api_fields import PhoneNumberField, TimezoneNameField
from core.api_query import QuerySerializer
from core.api_schema import errors
from core.pagination import PAGE_PARAMETERS, paginated, paginated_response
from customers.csv_export import customers_csv_lines
from customers.csv_import import customers_import_csv
from customers.models import CustomerProfile
from customers.selectors import ORDERINGS, CustomerFilters, customer_contactability, customer_get, customer_list
from customers.services import customer_create, customer_delete, customer_opt_in, customer_opt_out, customer_update

API_IMPORT_MAX_BYTES = 5 * 1024 * 1024  # bigger files go through `manage.py import_customers`
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and headers around the file in the body


# --- pieces shared by the customer views ------------------------------------------------


def _entries(value) -> list[dict]:
    # JSON columns written by calls, imports and the admin: skip anything that is not an entry.
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class PreferencesField(serializers.DictField):
    """The customer's free-form preferences, bounded: the JSON column has no limit of its own.

    At most ``MAX_ENTRIES`` keys and ``MAX_CHARS`` characters as JSON, and no NUL character
    (PostgreSQL's jsonb refuses it, which would be a 500 at save time instead of a 400 here).
    """

    MAX_ENTRIES = 50
    MAX_CHARS = 4000
    default_error_messages = {
        "too_many": "At most {max} entries.",
        "too_long": "At most {max} characters as JSON.",
        "nul": "Texts may not contain the NUL character.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            f"Free-form object: at most {self.MAX_ENTRIES} entries and {self.MAX_CHARS} characters as JSON.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > self.MAX_ENTRIES:
            self.fail("too_many", max=self.MAX_ENTRIES)
        encoded = json.dumps(value, default=str)
        if len(encoded) > self.MAX_CHARS:
            self.fail("too_long", max=self.MAX_CHARS)
        if "\\u0000" in encoded:
            self.fail("nul")
        return value


class ObjectionSerializer(serializers.Serializer):
    key = serializers.CharField(default="")
    text = serializers.CharField(default="")
    at = serializers.DateTimeField(allow_null=True, default=None)
    call = serializers.CharField(allow_null=True, default=None, help_text="The call it was raised on.")

    class Meta:
        ref_name = "CustomerObjection"


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(default="")
    at = serializers.DateTimeField(allow_null=True, default=None)
    source = serializers.CharField(default="", help_text="Where it came from: api, import, or a call.")
    call = serializers.CharField(allow_null=True, default=None)

    class Meta:
        ref_name = "CustomerNote"


class WallClockDateTimeField(serializers.DateTimeField):
    """A datetime shown in its own zone (with that zone's offset), not converted to the server's UTC."""

    def enforce_timezone(self, value):
        return value if value is not None and value.tzinfo is not None else super().enforce_timezone(value)


class ContactabilitySerializer(serializers.Serializer):
    allowed = serializers.BooleanField(help_text="Whether a call may start now.")
    code = serializers.CharField(
        allow_null=True,
        help_text="Why not: do_not_call, timezone_unknown, outside_calling_hours, agent_not_trained, agent_paused.",
    )
    reason = serializers.CharField(allow_null=True)
    next_allowed_at = serializers.DateTimeField(
        allow_null=True, help_text="When a call may start: now if allowed, null if not within the next week or never."
    )
    local_time = WallClockDateTimeField(
        allow_null=True, help_text="The customer's local time now, with their UTC offset (null if the zone is unknown)."
    )
    checked_at = serializers.DateTimeField(source="at")

    class Meta:
        ref_name = "CustomerContactability"


def customer_detail_data(*, agent: AIAgent, customer: CustomerProfile) -> dict:
    """A customer as every detail-returning endpoint renders it (no queries)."""
    context = {"contactability": customer_contactability(agent=agent, customer=customer)}
    return CustomerDetailApi.OutputSerializer(customer, context=context).data


# --- list, and the same list at the seed's dashboard path ----------------------------------


class CustomerListApi(AgentApi):
    class FilterSerializer(QuerySerializer):
        """Query parameters of the list and the export; a wrong value is a 400 naming it."""

        interest_level = serializers.ChoiceField(choices=CustomerProfile.InterestLevel.choices, required=False)
        converted = serializers.BooleanField(required=False, allow_null=True, default=None)
        do_not_call = serializers.BooleanField(required=False, allow_null=True, default=None)
        search = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=100, help_text="Part of the name, number or email."
        )
        ordering = serializers.ChoiceField(choices=sorted(ORDERINGS), required=False, default="-created_at")

        @classmethod
        def parse(cls, request) -> CustomerFilters:
            serializer = cls(data=request.query_params)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            return CustomerFilters(
                interest_level=data.get("interest_level") or None,
                converted=data["converted"],
                do_not_call=data["do_not_call"],
                search=data["search"],
                ordering=data["ordering"],
            )

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        phone_number = serializers.CharField()
        name = serializers.CharField()
        email = serializers.CharField()
        timezone = serializers.CharField(help_text="IANA name; empty when unknown (then the customer is not dialled).")
        interest_level = serializers.ChoiceField(choices=CustomerProfile.InterestLevel.choices)
        is_converted = serializers.BooleanField()
        is_do_not_call = serializers.BooleanField()
        call_preference_time = serializers.ChoiceField(choices=CustomerProfile.PreferredTime.choices)
        total_calls = serializers.IntegerField()
        successful_calls = serializers.IntegerField()
        last_contacted_at = serializers.DateTimeField(allow_null=True)
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

        class Meta:
            ref_name = "CustomerListItem"

    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        description="Filter by interest level, converted, do-not-call; search name, number or email; order; page.",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: paginated("PaginatedCustomerList", OutputSerializer), **errors(400, 401, 403, 404)},
    )
    def get(self, request):
        filters = CustomerListApi.FilterSerializer.parse(request)
        queryset = customer_list(agent=self.agent, filters=filters)
        return paginated_response(view=self, queryset=queryset, serializer_class=CustomerListApi.OutputSerializer)


@extend_schema_view(
    get=extend_schema(
        operation_id="dashboard_ai_agent_customers_list",
        summary="Customer profiles (dashboard)",
        description="The seed's path for the customer list: same filters, same rows as GET /api/customers/.",
    )
)
class DashboardCustomerListApi(CustomerListApi):
    """``GET /api/dashboard/ai-agent/customers/?interest_level=hot&converted=false`` (the seed's path)."""


# --- one customer -----------------------------------------------------------------------


class CustomerDetailApi(AgentApi):
    class OutputSerializer(CustomerListApi.OutputSerializer):
        preferences = serializers.DictField()
        objections = serializers.SerializerMethodField()
        notes = serializers.SerializerMethodField()
        may_call_now = serializers.SerializerMethodField(
            help_text="The dialler's own rules applied now: do-not-call, local hours, working hours, training."
        )

        class Meta:
            ref_name = "CustomerDetail"

        @extend_schema_field(ObjectionSerializer(many=True))
        def get_objections(self, obj: CustomerProfile):
            return ObjectionSerializer(_entries(obj.objections), many=True).data

        @extend_schema_field(NoteSerializer(many=True))
        def get_notes(self, obj: CustomerProfile):
            return NoteSerializer(_entries(obj.conversation_notes), many=True).data

        @extend_schema_field(ContactabilitySerializer)
        def get_may_call_now(self, obj: CustomerProfile):
            return ContactabilitySerializer(self.context["contactability"]).data

    @extend_schema(
        operation_id="customers_retrieve",
        summary="A customer",
        description="With objections, preferences, notes, counters, timezone and whether they may be called now.",
        responses={200: OutputSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, customer_id):
        customer = customer_get(agent=self.agent, customer_id=customer_id)
        return Response(customer_detail_data(agent=self.agent, customer=customer))


class CustomerCreateApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        phone_number = PhoneNumberField()
        name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
        timezone = TimezoneNameField(required=False, allow_blank=True, default="")
        interest_level = serializers.ChoiceField(
            choices=CustomerProfile.InterestLevel.choices, required=False, default=CustomerProfile.InterestLevel.COLD
        )
        call_preference_time = serializers.ChoiceField(
            choices=CustomerProfile.PreferredTime.choices, required=False, allow_blank=True, default=""
        )
        preferences = PreferencesField(required=False, default=dict)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "CustomerCreate"

    @extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        description="The number is the customer's identity for this agent: a second customer with it is a 409. "
        "Without a timezone, the one the number pins down is used (none if ambiguous).",
        request=InputSerializer,
        responses={201: CustomerDetailApi.OutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        serializer = CustomerCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_create(agent=self.agent, **serializer.validated_data)
        return Response(customer_detail_data(agent=self.agent, customer=customer), status=status.HTTP_201_CREATED)


class CustomerUpdateApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        phone_number = PhoneNumberField(required=False)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
        timezone = TimezoneNameField(required=False, allow_blank=True)
        interest_level = serializers.ChoiceField(choices=CustomerProfile.InterestLevel.choices, required=False)
        call_preference_time = serializers.ChoiceField(
            choices=CustomerProfile.PreferredTime.choices, required=False, allow_blank=True
        )
        preferences = PreferencesField(required=False)
        note = serializers.CharField(
            max_length=2000, required=False, allow_blank=True, help_text="Appended to the notes."
        )

        class Meta:
            ref_name = "CustomerUpdate"

        def validate(self, attrs):
            if {"do_not_call", "is_do_not_call"} & set(self.initial_data):
                raise serializers.ValidationError(
                    {
                        "do_not_call": "Use POST /api/customers/<id>/do-not-call/: "
                        "opting out also cancels the customer's callbacks."
                    }
                )
            return attrs

    @extend_schema(
        operation_id="customers_partial_update",
        summary="Update a customer",
        description="Only the fields sent change. Do-not-call has its own endpoint.",
        request=InputSerializer,
        responses={200: CustomerDetailApi.OutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request, customer_id):
        customer = customer_get(agent=self.agent, customer_id=customer_id)
        serializer = CustomerUpdateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_update(customer=customer, **serializer.validated_data)
        return Response(customer_detail_data(agent=self.agent, customer=customer))


class CustomerDeleteApi(AgentApi):
    @extend_schema(
        operation_id="customers_destroy",
        summary="Delete a customer",
        description="Their calls and callbacks are deleted with them.",
        request=None,
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request, customer_id):
        customer_delete(customer=customer_get(agent=self.agent, customer_id=customer_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerCollectionApi(CustomerListApi, CustomerCreateApi):
    """GET lists, POST creates: two operations on one path (URLs route by path, not method)."""


class CustomerResourceApi(CustomerDetailApi, CustomerUpdateApi, CustomerDeleteApi):
    """GET, PATCH and DELETE of one customer on one path."""


# --- the do-not-call switch -----------------------------------------------------------------


class CustomerDoNotCallApi(AgentApi):
    class InputSerializer(serializers.Serializer):
        do_not_call = serializers.BooleanField(help_text="true: never call again (cancels open callbacks).")
        reason = serializers.CharField(
            max_length=300, required=False, allow_blank=True, default="", help_text="Kept on the cancelled callbacks."
        )

        class Meta:
            ref_name = "CustomerDoNotCall"

    class OutputSerializer(serializers.Serializer):
        customer = CustomerDetailApi.OutputSerializer()
        callbacks_cancelled = serializers.IntegerField(help_text="Open callbacks cancelled by this change.")

        class Meta:
            ref_name = "CustomerDoNotCallResult"

    @extend_schema(
        operation_id="customers_do_not_call",
        summary="Mark a customer do-not-call (or undo it)",
        description="Marking cancels every open callback of the customer in the same transaction. Undoing it "
        "does not bring cancelled callbacks back.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 404)},
        tags=["customers"],
    )
    def post(self, request, customer_id):
        customer = customer_get(agent=self.agent, customer_id=customer_id)
        serializer = CustomerDoNotCallApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["do_not_call"]:
            change = customer_opt_out(customer=customer, reason=data["reason"])
        else:
            change = customer_opt_in(customer=customer)
        return Response(
            {
                "customer": customer_detail_data(agent=self.agent, customer=change.customer),
                "callbacks_cancelled": change.callbacks_cancelled,
            }
        )


# --- CSV ----------------------------------------------------------------------------------


class CustomerImportApi(AgentApi):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text="CSV with a header row: phone_number (or phone) and any of name, email, timezone, "
            "interest_level, call_preference_time, notes, do_not_call (yes opts out; no or blank keeps an opt-out). "
            "UTF-8 (BOM fine), comma or semicolon. At most 5 MB."
        )

        class Meta:
            ref_name = "CustomerImport"

    class OutputSerializer(serializers.Serializer):
        class RowErrorSerializer(serializers.Serializer):
            line = serializers.IntegerField(help_text="Line in the file; the header is line 1.")
            reason = serializers.CharField()

            class Meta:
                ref_name = "CustomerImportRowError"

        created = serializers.IntegerField()
        updated = serializers.IntegerField()
        unchanged = serializers.IntegerField()
        error_count = serializers.IntegerField()
        errors = RowErrorSerializer(many=True, help_text="The first 1000 bad rows.")
        errors_truncated = serializers.BooleanField()
        ignored_columns = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "CustomerImportReport"

    @extend_schema(
        operation_id="customers_import",
        summary="Import customers from CSV",
        description="Rows are upserted by phone number; blank cells keep what is stored, so importing the same "
        "file again changes nothing. Each bad row is reported with its line and reason; good rows are imported "
        "anyway. Files over 5 MB: use `manage.py import_customers`.",
        request={"multipart/form-data": InputSerializer},
        responses={200: OutputSerializer, **errors(400, 401, 403, 404, 415)},
    )
    def post(self, request):
        agent = self.agent
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > API_IMPORT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise serializers.ValidationError({"file": _too_big(int(declared))})  # refused before reading it
        serializer = CustomerImportApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > API_IMPORT_MAX_BYTES:
            raise serializers.ValidationError({"file": _too_big(upload.size)})
        upload.seek(0)
        report = customers_import_csv(agent=agent, stream=upload)
        return Response(CustomerImportApi.OutputSerializer(report).data)


def _too_big(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; uploads are limited to "
        f"{API_IMPORT_MAX_BYTES // 1024 // 1024} MB. Split it, or import it with `manage.py import_customers`."
    )


class CustomerExportApi(AgentApi):
    def perform_content_negotiation(self, request, force=False):
        # The CSV bypasses renderers; errors still render as JSON whatever Accept says.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="customers_export",
        summary="Export customers as CSV",
        description="Streams the (filtered) list with the import's columns; re-importing it changes nothing.",
        parameters=[CustomerListApi.FilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **errors(400, 401, 403, 404),
        },
    )
    def get(self, request):
        filters = CustomerListApi.FilterSerializer.parse(request)
        response = StreamingHttpResponse(
            customers_csv_lines(agent=self.agent, filters=filters), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="customers.csv"'
        return response
