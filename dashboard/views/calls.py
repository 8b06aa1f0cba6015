"""Calls: the filtered list, one call's transcript, and starting a call to a customer."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from calls.outbound import call_place, call_place_to_number
from calls.selectors import CallFilters, call_detail, call_list
from calls.telephony import telephony_domain_error, uses_simulated_phone
from core.errors import CallNotAllowed, DomainError, NotFound
from core.phone import normalize_e164, timezone_for_number
from customers.contactability import customer_zone
from customers.selectors import customer_get
from dashboard.access import client_page, client_zone, is_htmx, paginate
from dashboard.forms import CallFilterForm, StartCallForm
from dashboard.selectors import local_day_start
from dashboard.templatetags.dashboard_tags import action_chips
from integrations.twilio import TelephonyError


def call_filters(request: HttpRequest, form: CallFilterForm) -> CallFilters:
    """The list's filters; days are the client's (a day ends at its local midnight)."""
    if not form.is_valid():
        return CallFilters()
    d = form.cleaned_data
    zone = client_zone(request)
    return CallFilters(
        call_type=d.get("call_type") or None,
        status=d.get("status") or None,
        outcome=d.get("outcome") or None,
        date_from=local_day_start(d["date_from"], zone) if d.get("date_from") else None,
        date_to=local_day_start(d["date_to"] + timedelta(days=1), zone) if d.get("date_to") else None,
        search=d.get("search") or "",
    )


@client_page
@require_GET
def call_list_page(request: HttpRequest) -> HttpResponse:
    form = CallFilterForm(request.GET or None)
    page = paginate(request, call_list(agent=request.agent, filters=call_filters(request, form)))
    return render(
        request,
        "dashboard/calls/list.html",
        {
            "form": form,
            "page": page,
            "start_form": StartCallForm(),
            "filtered": bool(request.GET.dict().keys() - {"page"}),
        },
    )


@client_page
@require_GET
def call_detail_page(request: HttpRequest, call_id) -> HttpResponse:
    call = call_detail(agent=request.agent, call_id=call_id)
    turns = list(call.turns.all())
    latencies = [t.latency_ms for t in turns if t.latency_ms is not None]
    return render(
        request,
        "dashboard/calls/detail.html",
        {
            "call": call,
            "customer": call.customer_profile,
            "turns": turns,
            "booked": list(call.callbacks_booked.all()),
            # What the agent did on the call (callback booked, do-not-call set, objections...).
            "actions_taken": [
                chip for turn in turns for chip in action_chips(turn.actions) if chip["kind"] != "end_call"
            ],
            "latency_avg": round(sum(latencies) / len(latencies)) if latencies else None,
            "latency_max": max(latencies) if latencies else None,
            "sentiment": call.sentiment_analysis or {},
        },
    )


def _number_zone(raw: str) -> ZoneInfo | None:
    name = timezone_for_number(normalize_e164(raw))
    return ZoneInfo(name) if name else None


@client_page
@require_POST
def call_start(request: HttpRequest) -> HttpResponse:
    """Place an outbound call (calls.outbound.call_place); a refusal says why and when it may be placed."""
    agent = request.agent
    form = StartCallForm(request.POST)
    context: dict = {"form": form, "simulated": uses_simulated_phone(request.client)}
    if form.is_valid():
        d = form.cleaned_data
        customer = None
        try:
            if d.get("customer_id"):
                customer = customer_get(agent=agent, customer_id=d["customer_id"])
                call = call_place(agent=agent, customer=customer, context=d.get("context") or "")
            else:
                call = call_place_to_number(agent=agent, phone_number=d["phone_number"], context=d.get("context") or "")
            customer = context["customer"] = call.customer_profile
        except CallNotAllowed as refused:
            # A new number refused was not kept: its zone is the one it would have been given.
            zone = customer_zone(customer) if customer else _number_zone(d["phone_number"])
            context["refusal"] = {
                "reason": refused.message,
                "next_allowed_at": refused.next_allowed_at,
                "customer_local": refused.next_allowed_at.astimezone(zone)
                if refused.next_allowed_at and zone
                else None,
                "customer_zone": zone.key if zone else "",
            }
        except NotFound:
            raise  # another client's customer: the same 404 as a missing one
        except TelephonyError as exc:
            # The client's words for it, never the transport's (hosts, ports, tracebacks).
            context["error"] = telephony_domain_error(exc).message
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["call"] = call
            if not is_htmx(request):
                messages.success(request, f"Calling {customer.name or customer.phone_number}…")
                return redirect("dashboard:call-detail", call_id=call.pk)
    if is_htmx(request):
        return render(request, "dashboard/partials/start_call_result.html", context)
    # Without JavaScript: say what happened on the page the person came from.
    problem = context.get("refusal", {}).get("reason") or context.get("error") or "Enter the number to call."
    messages.error(request, problem)
    back = request.POST.get("next") or ""
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(back if back and safe else reverse("dashboard:calls"))
