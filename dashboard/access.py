"""The one way a dashboard page reaches client data: ``@client_page``.

Every page is for a signed-in user of a client business and sees only that client's rows:

- the client comes from ``request.user`` (never from the URL or a form), and the agent is
  loaded once with it (``request.agent``, ``request.client``), so a page's selectors are
  always handed the tenant;
- a missing object and another client's object are the same 404: the selectors raise
  ``NotFound`` for both, and this decorator turns it into ``Http404``;
- a client without an agent is sent to the onboarding page, from every page, until it has one;
- times are shown in the client's timezone (activated for the request).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from agents.models import AIAgent
from core.errors import NotFound

PAGE_SIZE = 25


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def client_page(view: Callable | None = None, *, needs_agent: bool = True) -> Callable:
    """Decorate a page view: sign-in, tenant, agent (or onboarding), timezone, 404s."""

    def decorate(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.client_id:
                # Staff belong to no client: they run the platform from the admin.
                return redirect("admin:index")
            agent = AIAgent.objects.select_related("client").filter(client_id=user.client_id).first()
            if agent is None and needs_agent:
                return redirect("dashboard:onboarding")
            request.agent = agent
            request.client = agent.client if agent else user.client
            timezone.activate(_zone(request.client.timezone))
            try:
                return func(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from None
            finally:
                timezone.deactivate()

        return wrapper

    return decorate(view) if view is not None else decorate


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def paginate(request: HttpRequest, queryset, *, per_page: int = PAGE_SIZE, param: str = "page") -> Page:
    """One page of ``queryset``: a COUNT and one slice, whatever the number of rows.

    A page number past the end shows the last page rather than a 404 (filters shrink lists).
    """
    return Paginator(queryset, per_page).get_page(request.GET.get(param))


def client_zone(request: HttpRequest) -> ZoneInfo:
    return _zone(request.client.timezone)
