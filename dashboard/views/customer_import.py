"""CSV import in the browser: upload, then watch the job's progress bar until its report.

The upload becomes an ``ImportJob`` (``customers.import_jobs``) imported by a Celery worker;
the page polls the job row with HTMX, so any web machine can answer and none keeps a file.
Without JavaScript the page shows the job as it stands, with a link to look again.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from customers.csv_import import COLUMNS, CsvFileInvalid
from customers.import_jobs import import_job_start
from customers.models import ImportJob
from customers.selectors import import_job_get
from dashboard.access import client_page, is_htmx
from dashboard.forms import CsvUploadForm


def _page(request: HttpRequest, form: CsvUploadForm, job: ImportJob | None) -> HttpResponse:
    return render(request, "dashboard/customers/import.html", {"form": form, "job": job, "columns": COLUMNS})


def _progress(request: HttpRequest, job: ImportJob) -> HttpResponse:
    return render(request, "dashboard/partials/import_progress.html", {"job": job})


@client_page
@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_start(agent=request.agent, user=request.user, upload=form.cleaned_data["file"])
        except CsvFileInvalid as exc:
            form.add_error("file", exc.message)
        else:
            if is_htmx(request):
                return _progress(request, job)
            return redirect(f"{reverse('dashboard:customer-import')}?job={job.pk}")
    if request.method == "POST" and is_htmx(request):
        response = render(request, "dashboard/partials/import_form.html", {"form": form})
        response["HX-Retarget"] = "#import-form"
        response["HX-Reswap"] = "outerHTML"
        return response
    job = import_job_get(agent=request.agent, job_id=request.GET["job"]) if request.GET.get("job") else None
    return _page(request, form, job)


@client_page
@require_GET
def customer_import_job(request: HttpRequest, job_id) -> HttpResponse:
    """The job's progress: the partial for the page's poll, the whole page otherwise."""
    job = import_job_get(agent=request.agent, job_id=job_id)
    if is_htmx(request):
        return _progress(request, job)
    return _page(request, CsvUploadForm(), job)
