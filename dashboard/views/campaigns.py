"""Campaign pages: list and create (with a CSV upload), detail with live progress, approvals.

Thin: every read goes through ``campaigns.selectors`` and every write through
``campaigns.services``; the detail page's progress card polls itself with HTMX. A leads file
becomes a customers ``ImportJob`` run by a worker (it can take minutes); the detail page polls
the job with the customers import's progress bar, then says how many leads the campaign has.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.csv_export import campaign_results_csv_lines
from campaigns.dispatch import lead_wait_reason
from campaigns.models import CampaignLead
from campaigns.selectors import (
    approval_queue,
    campaign_get,
    campaign_lead_get,
    campaign_leads,
    campaign_list,
    campaign_outcomes_by_hour,
    campaign_progress,
    campaigns_awaiting_approval,
    decisions,
)
from campaigns.services import (
    LeadFilter,
    campaign_create,
    campaign_decide,
    campaign_leads_add_by_filter,
    campaign_leads_import_start,
    campaign_transition,
    lead_decide,
)
from core.errors import DomainError
from customers.models import ImportJob
from customers.selectors import import_job_get
from dashboard.access import client_page, is_htmx, paginate
from dashboard.forms_campaigns import CampaignForm, DecisionForm

ACTIONS = {"start": "running", "pause": "paused", "resume": "running", "cancel": "cancelled"}
OUTCOME_COLOURS = {
    "answered": "#2e90fa", "interested": "#12b76a", "converted": "#039855", "callback_requested": "#7a5af8",
    "not_interested": "#f79009", "no_answer": "#98a2b3", "voicemail": "#667085", "failed": "#f04438",
    "do_not_call": "#b42318", "live": "#d0d5dd",
}  # fmt: skip


@client_page
@require_http_methods(["GET", "POST"])
def campaign_list_page(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = None
        try:
            with transaction.atomic():
                campaign = campaign_create(agent=request.agent, spec=form.spec(), created_by=request.user)
            if form.cleaned_data["leads_file"]:
                job = campaign_leads_import_start(
                    campaign=campaign, user=request.user, upload=form.cleaned_data["leads_file"]
                )
            if form.cleaned_data["add_interest"]:
                added = campaign_leads_add_by_filter(
                    campaign=campaign, lead_filter=LeadFilter(interest_levels=form.cleaned_data["add_interest"])
                )
                messages.info(request, f"{added.added} customers added as leads.")
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            url = reverse("dashboard:campaign-detail", kwargs={"campaign_id": campaign.pk})
            return redirect(f"{url}?import={job.pk}" if job else url)
    page = paginate(request, campaign_list(agent=request.agent))
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "dashboard/campaigns/index.html",
        {"form": form, "page": page, "awaiting": campaigns_awaiting_approval(agent=request.agent).count()},
        status=status,
    )


def _chart(campaign) -> dict:
    rows = campaign_outcomes_by_hour(campaign=campaign)
    labels = [timezone.localtime(row["hour"]).strftime("%b %d %H:00") for row in rows]
    keys = sorted({key for row in rows for key in row["outcomes"]})
    return {
        "labels": labels,
        "datasets": [
            {
                "key": key,
                "label": key.replace("_", " ").capitalize(),
                "data": [row["outcomes"].get(key, 0) for row in rows],
                "backgroundColor": OUTCOME_COLOURS.get(key, "#98a2b3"),
            }
            for key in keys
        ],
    }


def _import_context(campaign, job: ImportJob) -> dict:
    return {
        "job": job,
        "campaign": campaign,
        "lead_count": campaign_leads(campaign=campaign).count() if job.status == ImportJob.Status.DONE else 0,
        "poll_url": reverse("dashboard:campaign-import-job", kwargs={"campaign_id": campaign.pk, "job_id": job.pk}),
    }


def _live(request: HttpRequest, campaign) -> dict:
    return {"campaign": campaign, "progress": campaign_progress(campaign=campaign), "chart": _chart(campaign)}


@client_page
@require_GET
def campaign_detail_page(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign = campaign_get(agent=request.agent, campaign_id=campaign_id)
    if is_htmx(request):
        return render(request, "dashboard/campaigns/partials/live.html", _live(request, campaign))
    now = timezone.now()
    state = request.GET.get("state", "")
    state = state if state in CampaignLead.State.values else ""  # anything else shows every lead
    page = paginate(request, campaign_leads(campaign=campaign, state=state or None))
    for lead in page.object_list:
        lead.waiting_because = lead_wait_reason(campaign, lead, now)
    job_id = request.GET.get("import")
    job = import_job_get(agent=request.agent, job_id=job_id) if job_id else None
    context = {
        **_live(request, campaign),
        **(_import_context(campaign, job) if job else {}),
        "import_job": job,
        "page": page,
        "decisions": decisions(campaign=campaign)[:20],
        "state": state,
    }
    return render(request, "dashboard/campaigns/detail.html", context)


@client_page
@require_GET
def campaign_import_job(request: HttpRequest, campaign_id, job_id) -> HttpResponse:
    """A leads file's progress: the partial for the detail page's poll, the detail page otherwise."""
    campaign = campaign_get(agent=request.agent, campaign_id=campaign_id)
    job = import_job_get(agent=request.agent, job_id=job_id)
    if is_htmx(request):
        return render(request, "dashboard/partials/import_progress.html", _import_context(campaign, job))
    url = reverse("dashboard:campaign-detail", kwargs={"campaign_id": campaign.pk})
    return redirect(f"{url}?import={job.pk}")


@client_page
@require_POST
def campaign_action(request: HttpRequest, campaign_id, action: str) -> HttpResponse:
    campaign = campaign_get(agent=request.agent, campaign_id=campaign_id)
    if action not in ACTIONS:
        messages.error(request, "Unknown action.")
    else:
        try:
            campaign_transition(campaign=campaign, to=ACTIONS[action])
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("dashboard:campaign-detail", campaign_id=campaign.pk)


@client_page
@require_POST
def campaign_decision(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign = campaign_get(agent=request.agent, campaign_id=campaign_id)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            campaign_decide(
                campaign=campaign, approve=form.cleaned_data["approve"], reason=form.cleaned_data["reason"],
                decided_by=request.user,
            )  # fmt: skip
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("dashboard:campaign-detail", campaign_id=campaign.pk)


@client_page
@require_POST
def campaign_lead_decision(request: HttpRequest, campaign_id, lead_id: int) -> HttpResponse:
    lead = campaign_lead_get(agent=request.agent, campaign_id=campaign_id, lead_id=lead_id)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            lead_decide(
                lead=lead, approve=form.cleaned_data["approve"], reason=form.cleaned_data["reason"],
                decided_by=request.user,
            )  # fmt: skip
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("dashboard:campaign-approvals")


@client_page
@require_GET
def campaign_approvals(request: HttpRequest) -> HttpResponse:
    context = {
        "page": paginate(request, approval_queue(agent=request.agent)),
        "campaigns": campaigns_awaiting_approval(agent=request.agent),
    }
    return render(request, "dashboard/campaigns/approvals.html", context)


@client_page
@require_GET
def campaign_export(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign = campaign_get(agent=request.agent, campaign_id=campaign_id)
    response = StreamingHttpResponse(
        campaign_results_csv_lines(campaign=campaign), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="campaign-results.csv"'
    return response
