"""Domain errors. Services raise these; the API layer turns them into one JSON error shape."""

from __future__ import annotations

from datetime import datetime

# The code a serializer ValidationError carries when the input has the documented shape but a
# rule the OpenAPI document cannot express refuses it (an unknown timezone, a date range that
# ends before it starts): the API answers 422, not 400, so "400" always means "see the schema".
REFUSED_BY_RULE = "refused_by_rule"
# DRF's own codes for text a JSON string may hold but we cannot store (PostgreSQL refuses NUL
# and lone surrogates): the schema cannot exclude them, so they are refused the same way.
RULE_CODES = frozenset({REFUSED_BY_RULE, "null_characters_not_allowed", "surrogate_characters_not_allowed"})


class DomainError(Exception):
    """A rule of the business refused the request. ``status`` is the HTTP status the API uses."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFound(DomainError):
    """The object does not exist *or belongs to another client*: callers cannot tell which."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class CallNotAllowed(DomainError):
    """A call may not be placed now; ``next_allowed_at`` says when it may, if ever."""

    status = 409
    code = "call_not_allowed"

    def __init__(self, message: str, *, next_allowed_at: datetime | None = None, code: str | None = None):
        details = {"next_allowed_at": next_allowed_at.isoformat() if next_allowed_at else None}
        super().__init__(message, code=code, details=details)
        self.next_allowed_at = next_allowed_at


class ServiceUnavailable(DomainError):
    """An outside service (the phone network) could not be reached or is overloaded: try again later.

    ``retry_after`` (seconds) goes into the body and the ``Retry-After`` header.
    """

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, details: dict | None = None):
        super().__init__(message, code=code, details={**(details or {}), "retry_after": retry_after})
        self.retry_after = retry_after


class UpstreamFailed(ServiceUnavailable):
    """An outside service answered with its own server error (5xx): ours is fine, retrying may help."""

    status = 502
    code = "upstream_error"


class UpstreamRefused(DomainError):
    """An outside service refused a request for a reason the client cannot fix (e.g. our credentials)."""

    status = 502
    code = "upstream_refused"
