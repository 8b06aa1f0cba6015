"""OpenAPI pieces shared by every API view, so the documented error shape is the real one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorBody = inline_serializer(
    name="ErrorBody",
    fields={
        "code": serializers.CharField(help_text="Machine-readable reason, e.g. not_found, invalid, call_not_allowed."),
        "message": serializers.CharField(help_text="A sentence a person can act on."),
        "fields": serializers.DictField(required=False, help_text="Per-field messages on validation errors."),
        "next_allowed_at": serializers.DateTimeField(
            required=False, allow_null=True, help_text="For refused calls: when a call would be allowed."
        ),
        "retry_after": serializers.IntegerField(
            required=False, help_text="On 502/503: seconds to wait before trying again (also the Retry-After header)."
        ),
        "twilio_code": serializers.IntegerField(
            required=False, allow_null=True, help_text="On phone-network errors: Twilio's error code, if it sent one."
        ),
    },
)
ErrorResponse = inline_serializer(name="ErrorResponse", fields={"error": ErrorBody})


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """``responses={**errors(400, 404)}`` documents those statuses with the shared error shape."""
    text = {
        400: "Invalid input.",
        401: "Not signed in.",
        403: "Not allowed.",
        404: "Not found (or another client's).",
        409: "Conflicts with the current state.",
        422: "Refused by a business rule.",
        502: "The phone network failed the request (retry_after when retrying may help).",
        503: "The phone network could not be reached; try again after retry_after seconds.",
    }
    return {s: OpenApiResponse(ErrorResponse, description=text.get(s, "Error.")) for s in statuses}
