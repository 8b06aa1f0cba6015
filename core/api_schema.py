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


_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_COMMON_TEXT = {
    400: "Invalid input: the message names the parameter or field, and how to fix it.",
    401: "Not signed in, or the token is not valid.",
    403: "Signed in, but not as a user of a client business.",
    404: "Not found (or another client's); also a malformed id in the path.",
    415: "The body is not in a media type this operation accepts.",
    422: "Well-formed, but refused by a rule the schema cannot state; the message says which.",
    429: "Too many requests; retry after the seconds in Retry-After.",
}


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents the errors the framework
    itself can answer, so no view has to remember them (and a new one cannot forget them).

    429 everywhere (throttling runs on every API view), 401 and 403 where a signed-in client user
    is required, 404 where the path has parameters (a malformed id does not match the route), 400
    and 422 (a rule the schema cannot state) where there are query parameters or a body, 415 where
    there is a body. What a view raises itself (409, 503...) it documents with ``errors()``.
    """
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            parameters = operation.get("parameters", [])
            statuses = {429}
            if {} not in operation.get("security", [{}]):
                statuses |= {401, 403}
            if "{" in path:
                statuses.add(404)
            if any(p.get("in") == "query" for p in parameters) or "requestBody" in operation:
                statuses |= {400, 422}
            if "requestBody" in operation:
                statuses.add(415)
            responses = operation.setdefault("responses", {})
            for code in sorted(statuses):
                responses.setdefault(
                    str(code),
                    {"content": {"application/json": {"schema": _ERROR_REF}}, "description": _COMMON_TEXT[code]},
                )
    return result
