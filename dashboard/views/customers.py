"""Customers: the filtered list, one customer's history, the do-not-call switch, and the CSV export."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customers.csv_export import customers_csv_lines
from customers.selectors import CustomerFilters, customer_contactability, customer_get, customer_list
from customers.services import customer_opt_in, customer_opt_out
from dashboard.access import client_page, paginate
from dashboard.forms import CustomerFilterForm, StartCallForm, yes_no
from dashboard.view_models import customer_history


def customer_filters(form: CustomerFilterForm) -> CustomerFilters:
    if not form.is_valid():
        return CustomerFilters()
    d = form.cleaned_data
    return CustomerFilters(
        interest_level=d.get("interest_level") or None,
        converted=yes_no(d.get("converted")),
        do_not_call=yes_no(d.get("dnc")),
        search=d.get("search") or "",
        ordering=d.get("ordering") or "-created_at",
    )


@client_page
@require_GET
def customer_list_page(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET or None)
    customers = customer_list(agent=request.agent, filters=customer_filters(form)).defer(
        "conversation_notes", "objections", "preferences"
    )
    export_query = request.GET.copy()
    export_query.pop("page", None)
    return render(
        request,
        "dashboard/customers/list.html",
        {
            "form": form,
            "page": paginate(request, customers),
            "export_query": export_query.urlencode(),
            "filtered": bool(request.GET.dict().keys() - {"page", "ordering"}),
        },
    )


@client_page
@require_GET
def customer_detail_page(request: HttpRequest, customer_id) -> HttpResponse:
    agent = request.agent
    customer = customer_get(agent=agent, customer_id=customer_id)
    history = customer_history(agent=agent, customer=customer)
    notes = [n for n in customer.conversation_notes or [] if isinstance(n, dict)]
    objections = [o for o in customer.objections or [] if isinstance(o, dict)]
    return render(
        request,
        "dashboard/customers/detail.html",
        {
            "customer": customer,
            "history": history,
            "notes": list(reversed(notes)),
            "objections": list(reversed(objections)),
            "preferences": customer.preferences if isinstance(customer.preferences, dict) else {},
            "may_call": customer_contactability(agent=agent, customer=customer),
            "start_form": StartCallForm(initial={"customer_id": customer.pk}),
            "now": timezone.now(),
        },
    )


@client_page
@require_POST
def customer_do_not_call(request: HttpRequest, customer_id) -> HttpResponse:
    """Put the customer on the do-not-call list (cancelling their callbacks) or take them off it."""
    customer = customer_get(agent=request.agent, customer_id=customer_id)
    on = request.POST.get("do_not_call") == "1"
    if on:
        cancelled = customer_opt_out(customer=customer).callbacks_cancelled
        messages.success(
            request,
            f"On the do-not-call list; {cancelled} open callback{'s' if cancelled != 1 else ''} cancelled."
            if cancelled
            else "On the do-not-call list: the agent will never call this customer.",
        )
    else:
        customer_opt_in(customer=customer)
        messages.success(request, "Taken off the do-not-call list. Cancelled callbacks stay cancelled.")
    return redirect("dashboard:customer-detail", customer_id=customer.pk)


@client_page
@require_GET
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    """The (filtered) list as the import's CSV, streamed: one query, flat memory."""
    filters = customer_filters(CustomerFilterForm(request.GET or None))
    response = StreamingHttpResponse(
        customers_csv_lines(agent=request.agent, filters=filters), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response
