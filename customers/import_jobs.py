"""CSV import jobs: the upload is stored, a Celery worker imports it, the page polls the row.

A job, not the web request: a leads file can take minutes and any web machine may answer the
next poll, so the state lives in ``ImportJob`` and the file in default storage, never on one
machine's disk. Rows go through ``customers.csv_import.customers_import``, the importer every
door uses; the job's rules (refusals at upload, one read before writing, the claim) are ADR 0015's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from agents.models import AIAgent
from customers.csv_import import (
    BATCH_SIZE,
    CsvFileInvalid,
    CsvRow,
    ImportProgress,
    ImportReport,
    check_customer_csv,
    customers_import,
    read_customer_csv,
)
from customers.models import ImportJob

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_JOB_ERRORS = 500  # rows listed on the job; the count keeps going
KEEP_JOBS = 20  # per agent; older jobs (and any file they still hold) are deleted
FILENAME_MAX = ImportJob._meta.get_field("filename").max_length


def import_job_start(
    *, agent: AIAgent, user: User | None, upload: UploadedFile, enqueue: Callable[[str], None] | None = None
) -> ImportJob:
    """Check the upload, store it and queue its import; CsvFileInvalid (nothing stored) when refused.

    ``enqueue(job_id)`` queues the task that runs the job (after commit); by default the customers
    import. An app above (campaigns) passes its own task, which adds its work to the same job.
    """
    if upload.size > MAX_UPLOAD_BYTES:
        limit_mb = MAX_UPLOAD_BYTES // 1024 // 1024
        raise CsvFileInvalid(
            f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit here is {limit_mb} MB. "
            "Split it, or import it with `manage.py import_customers`."
        )
    check_customer_csv(upload)  # a file without a phone column is refused now, not by the worker
    job = ImportJob(ai_agent=agent, started_by=user, filename=(upload.name or "upload.csv")[:FILENAME_MAX])
    job.file.save("upload.csv", upload, save=False)
    with transaction.atomic():
        _prune_old_jobs(agent)
        job.save(force_insert=True)
    if enqueue is None:
        from customers.tasks import customer_import_task

        enqueue = customer_import_task.delay
    job_id = str(job.pk)
    transaction.on_commit(lambda: enqueue(job_id))
    return job


def import_job_run(
    *,
    job_id,
    on_row: Callable[[CsvRow], None] | None = None,
    on_imported: Callable[[ImportJob, ImportReport], None] | None = None,
) -> ImportJob | None:
    """Import a queued job's file; a job already claimed (running, done, failed) is left alone.

    ``on_row`` sees every row the importer reads; ``on_imported`` runs after the rows are in and
    before the job is marked done, so a page that sees "done" sees the caller's work done too.
    """
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    job = ImportJob.objects.select_related("ai_agent").filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    try:
        _run(job, on_row=on_row, on_imported=on_imported)
    except CsvFileInvalid as exc:
        _finish(job, status=ImportJob.Status.FAILED, failure=exc.message)
    except Exception:
        logger.exception("import_job_run(job_id=%s) failed", job.pk)
        _finish(
            job,
            status=ImportJob.Status.FAILED,
            failure="The import stopped on an unexpected error; we have been told. Upload the file again "
            "to finish it: rows already imported are left as they are.",
        )
        raise
    job.refresh_from_db()
    return job


def _watched(rows: Iterable[CsvRow], on_row: Callable[[CsvRow], None]) -> Iterator[CsvRow]:
    for row in rows:
        on_row(row)
        yield row


def _run(
    job: ImportJob,
    *,
    on_row: Callable[[CsvRow], None] | None = None,
    on_imported: Callable[[ImportJob, ImportReport], None] | None = None,
) -> None:
    with job.file.open("rb") as stream:
        # First pass, read only: count the rows, and refuse a file that breaks further down
        # before any of it is written.
        _, rows = read_customer_csv(stream)
        total = sum(1 for _ in rows)
        ImportJob.objects.filter(pk=job.pk).update(rows_total=total)
        stream.seek(0)
        ignored, rows = read_customer_csv(stream)
        if on_row is not None:
            rows = _watched(rows, on_row)

        def progress(p: ImportProgress) -> None:
            ImportJob.objects.filter(pk=job.pk).update(
                rows_processed=p.rows,
                created=p.created,
                updated=p.updated,
                unchanged=p.unchanged,
                error_count=p.errors,
                heartbeat_at=timezone.now(),
            )

        report = customers_import(agent=job.ai_agent, rows=rows, progress=progress, batch_size=BATCH_SIZE)
    ImportJob.objects.filter(pk=job.pk).update(
        rows_processed=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        error_count=report.error_count,
        errors=[[e.line, e.reason] for e in report.errors[:MAX_JOB_ERRORS]],
        ignored_columns=ignored,
    )
    if on_imported is not None:
        on_imported(job, report)
    _finish(job, status=ImportJob.Status.DONE)


def _finish(job: ImportJob, *, status: str, failure: str = "") -> None:
    """Record the end and delete the stored upload: a finished job keeps only its report."""
    if job.file:
        job.file.delete(save=False)
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, failure=failure[:2000], file="", finished_at=timezone.now()
    )


def _prune_old_jobs(agent: AIAgent) -> None:
    old = list(ImportJob.objects.filter(ai_agent=agent).order_by("-created_at")[KEEP_JOBS - 1 :])
    for job in old:
        if job.file:
            job.file.delete(save=False)
    ImportJob.objects.filter(pk__in=[job.pk for job in old]).delete()
