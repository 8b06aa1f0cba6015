"""What every log line carries besides its message: the request id and, in a webhook, the call sid.

The request id is django-guid's (``X-Request-ID`` from the load balancer when it is a UUID, else
generated; returned in the response). The call sid is bound by the Twilio webhook decorator once
the sid has been validated. Both travel in the headers of every Celery task published while
they are set (see salesagents/celery.py), so an operator follows one request or one call
through the web and worker logs with one grep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse
from django_guid import clear_guid, get_guid, set_guid
from django_guid.utils import generate_guid

_call_sid: ContextVar[str | None] = ContextVar("call_sid", default=None)


def bind_call_sid(call_sid: str) -> None:
    """Name the call in every log line for the rest of this request."""
    _call_sid.set(call_sid)


def log_context_headers() -> dict[str, str]:
    """What a published task carries so the worker's lines name the same request and call."""
    headers = {"request_id": get_guid(), "call_sid": _call_sid.get()}
    return {name: value for name, value in headers.items() if value}


def log_context_adopt(headers: Callable[[str], str | None]) -> None:
    """In a worker, before a task: the publisher's ids, or a fresh request id (a beat tick)."""
    set_guid(headers("request_id") or generate_guid())
    _call_sid.set(headers("call_sid"))


def log_context_forget() -> None:
    """In a worker, after a task: the next task on this process starts clean."""
    clear_guid()
    _call_sid.set(None)


class LogContextFilter(logging.Filter):
    """Adds ``request_id`` and ``call_sid`` to each record (None outside a request or a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_guid()
        record.call_sid = _call_sid.get()
        return True


class LogContextMiddleware:
    """Forgets the previous request's call sid: a server thread serves many requests in turn."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _call_sid.set(None)
        try:
            return self.get_response(request)
        finally:
            _call_sid.reset(token)
