"""Django-level answers for failures that reach no view's own handling."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.api_errors import DATABASE_DOWN, UNAVAILABLE, UNAVAILABLE_RETRY_AFTER

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """While the database is unreachable a page answers a plain 503 ("retry shortly"), not an HTML 500.

    The API's views answer their JSON 503 themselves (core.api_errors); this covers the dashboard
    and any /api/ path that fails outside DRF's handling.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.error("Database unavailable for %s %s: %s", request.method, request.path, exception)
        headers = {"Retry-After": UNAVAILABLE_RETRY_AFTER}
        if request.path.startswith("/api/"):
            return JsonResponse({"error": UNAVAILABLE}, status=503, headers=headers)
        return HttpResponse(
            UNAVAILABLE["message"], status=503, content_type="text/plain; charset=utf-8", headers=headers
        )
