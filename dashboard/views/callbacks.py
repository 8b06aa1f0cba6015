"""Callbacks: overdue and upcoming, most urgent first; reschedule and cancel (callbacks.services)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_GET, require_POST

from callbacks.selectors import callback_get
from callbacks.services import callback_cancel, callback_reschedule
from core.errors import DomainError
from dashboard.access import client_page, is_htmx, paginate
from dashboard.forms import RescheduleForm
from dashboard.view_models import callback_counts, callbacks_by_priority, callbacks_done


@client_page
@require_GET
def callback_list_page(request: HttpRequest) -> HttpResponse:
    agent = request.agent
    now = timezone.now()
    show_done = request.GET.get("show") == "done"
    context = {
        "counts": callback_counts(agent=agent, now=now),
        "now": now,
        "show_done": show_done,
    }
    if show_done:
        context["done"] = paginate(request, callbacks_done(agent=agent))
    else:
        context["overdue"] = paginate(request, callbacks_by_priority(agent=agent, overdue=True), param="overdue_page")
        context["upcoming"] = paginate(request, callbacks_by_priority(agent=agent, overdue=False))
    return render(request, "dashboard/callbacks/list.html", context)


def _row(request: HttpRequest, callback, *, form: RescheduleForm | None = None, note: str = "", error: str = ""):
    return render(
        request,
        "dashboard/partials/callback_row.html",
        {"cb": callback, "form": form, "note": note, "error": error, "now": timezone.now(), "open_form": bool(form)},
    )


@client_page
@require_POST
def callback_reschedule_view(request: HttpRequest, callback_id) -> HttpResponse:
    """Move a callback; the service moves it forward into a time the customer may be called."""
    callback = callback_get(agent=request.agent, callback_id=callback_id)
    form = RescheduleForm(request.POST)
    note = error = ""
    if form.is_valid():
        asked = form.cleaned_data["when"]
        try:
            callback = callback_reschedule(callback=callback, at=asked, priority=form.cleaned_data["priority"])
        except DomainError as exc:
            error = exc.message
        else:
            booked = timezone.localtime(callback.scheduled_datetime)
            note = f"Moved to {dateformat.format(booked, 'D j M, H:i')}."
            if abs((callback.scheduled_datetime - asked).total_seconds()) > 60:
                note += " That is the first time the customer may be called after the time you picked."
            form = None
    else:
        error = "; ".join(m for messages_ in form.errors.values() for m in messages_)
    if is_htmx(request):
        return _row(request, callback, form=form if error else None, note=note, error=error)
    (messages.error if error else messages.success)(request, error or note)
    return redirect("dashboard:callbacks")


@client_page
@require_POST
def callback_cancel_view(request: HttpRequest, callback_id) -> HttpResponse:
    callback = callback_get(agent=request.agent, callback_id=callback_id)
    note = error = ""
    try:
        callback = callback_cancel(callback=callback, reason="Cancelled from the dashboard.")
        note = "Cancelled."
    except DomainError as exc:
        error = exc.message
    if is_htmx(request):
        return _row(request, callback, note=note, error=error)
    (messages.error if error else messages.success)(request, error or note)
    return redirect("dashboard:callbacks")
