"""Liveness with the database's state, for load balancers and `make run`'s smoke check."""

from __future__ import annotations

import time

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = {"status": "ok", "vendor": connection.vendor}
        status = 200
    except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy", reported as such
        database = {"status": "error", "error": exc.__class__.__name__}
        status = 503
    database["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return JsonResponse({"status": "ok" if status == 200 else "degraded", "database": database}, status=status)
