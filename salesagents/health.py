"""Readiness for load balancers and compose: the database and the Celery broker, each timed.

200 when both answer; 503 naming the one that failed, so an operator reads the cause from the
probe itself. Each check is bounded (the broker by a short connect time-out) so a dead
dependency makes the probe fail fast instead of hanging the load balancer's request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from salesagents.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _broker() -> dict:
    with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
        return {"transport": conn.transport_cls}


def _check(name: str, probe: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = {"status": "ok", **probe()}
    except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy"; the probe must answer, not 500
        logger.error("Health check: %s is unavailable (%s: %s)", name, exc.__class__.__name__, exc)
        result = {"status": "error", "error": exc.__class__.__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


@require_GET
def health(request):
    checks = {"database": _check("database", _database), "broker": _check("broker", _broker)}
    failed = sorted(name for name, check in checks.items() if check["status"] != "ok")
    body = {"status": "degraded" if failed else "ok", "failed": failed, **checks}
    return JsonResponse(body, status=503 if failed else 200)
