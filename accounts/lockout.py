"""Brute-force protection for every sign-in door (django-axes; settings in README "Configuration").

Failures are counted per email *and* address together, in the database, so the count holds
across web processes and machines, one attacker cannot lock a real user out from elsewhere,
and a shared office address does not lock out everyone behind it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str | None:
    """The caller's address by the same rule as the API throttles (``NUM_PROXIES``).

    With no proxy configured X-Forwarded-For is ignored, so a client cannot pick its own address
    to dodge the lockout; behind N proxies the Nth address from the right is the client's.
    """
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(num_proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")


def login_username(request: HttpRequest, credentials: dict | None) -> str:
    """The email as every door normalises it, so 'Owner@X' and 'owner@x' count as one account."""
    # Axes hands the lockout check {"email": ...} (the user model's USERNAME_FIELD) and the
    # failure signal {"username": ...}; both must name the same account.
    credentials = {str(key): value for key, value in (credentials or {}).items()}
    raw = credentials.get("email") or credentials.get("username") or request.POST.get("username") or ""
    return str(raw).strip().lower()[:254]


def _cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """429 with a Retry-After: the API's JSON error shape on /api/, a page everywhere else."""
    minutes = max(1, _cool_off_seconds() // 60)
    message = f"Too many failed sign-ins for this account from your address. Try again in {minutes} minutes."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"error": {"code": "locked_out", "message": message}}, status=429)
    else:
        response = render(request, "dashboard/auth/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(_cool_off_seconds())
    return response
