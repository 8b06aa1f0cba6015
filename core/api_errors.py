"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"?, ...}}``."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from core.errors import RULE_CODES, DomainError

logger = logging.getLogger(__name__)
# Seconds a client should wait before retrying while the database is unreachable.
UNAVAILABLE_RETRY_AFTER = "5"


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
    return str(detail)


def _leaf_codes(codes) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_leaf_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_leaf_codes(v) for v in codes)) if codes else set()
    return {codes}


def api_exception_handler(exc, context):
    """Render every error in one shape so a frontend needs one code path for all of them."""
    if isinstance(exc, DATABASE_DOWN):
        return _database_unavailable(exc, context)
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": exc.message, **exc.details}
        headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
        return Response({"error": body}, status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": _first_message(exc.detail), "fields": exc.detail}
        response.status_code = status.HTTP_400_BAD_REQUEST
        codes = _leaf_codes(exc.get_codes())
        if codes and codes <= RULE_CODES:
            # Well-formed (the schema allows it) but refused by a rule the schema cannot state.
            body["code"] = "validation_failed"
            response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = {"code": code, "message": _first_message(detail)}
    response.data = {"error": body}
    return response


DATABASE_DOWN = (OperationalError, InterfaceError)
UNAVAILABLE = {"code": "unavailable", "message": "The service is briefly unavailable. Please retry in a few seconds."}


def _database_unavailable(exc: Exception, context) -> Response:
    """The database is down or dropped the connection: a retryable 503 in the API's shape, not an HTML 500."""
    request = context.get("request")
    logger.error("Database unavailable for %s %s: %s", request.method, request.path, exc)
    set_rollback()
    return Response(
        {"error": UNAVAILABLE},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
    )


def not_found(request, exception=None):
    """``handler404``: under /api/ a URL that matches no route (a malformed id in the path, say)
    answers in the API's error shape, not with the HTML page meant for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return defaults.page_not_found(request, exception)
