"""CSV import jobs: stored upload, a Celery task that imports it once, a report on the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.errors import NotFound
from customers import import_jobs
from customers.csv_import import CsvFileInvalid
from customers.import_jobs import import_job_run, import_job_start
from customers.models import ImportJob
from customers.selectors import import_job_get
from customers.tasks import customer_import_task

pytestmark = pytest.mark.django_db

LEADS = (
    "phone_number,name,source\n"
    "+1 212 555 0101,Ava Patel,fair\n"
    "(415) 555-0102,Liam Garcia,web\n"
    "12,Bad Number,web\n"
    "212.555.0104,Mia Kim,fair\n"
)
E164_HINT = "Use the international format, e.g. +14155550123."


def start(agent, content: str | bytes = LEADS, *, user=None, name: str = "leads.csv") -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    return import_job_start(agent=agent, user=user, upload=SimpleUploadedFile(name, data))


def test_start_stores_the_upload_and_queues_the_task(agent_a, user_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = start(agent_a, user=user_a, name="spring leads.csv")
    assert job.status == "queued" and job.started_by == user_a and job.filename == "spring leads.csv"
    assert job.file.name == f"imports/{agent_a.pk}/{job.pk}.csv"
    assert default_storage.open(job.file.name).read() == LEADS.encode()
    assert len(callbacks) == 1  # the worker is told only once the job row is committed
    assert not agent_a.customers.exists()


def test_the_task_imports_the_file_and_keeps_the_report(agent_a):
    job = start(agent_a)
    stored = job.file.name
    assert customer_import_task.delay(str(job.pk)).get() == "done"
    job.refresh_from_db()
    assert (job.rows_total, job.rows_processed, job.created, job.updated, job.unchanged) == (4, 4, 3, 0, 0)
    assert job.error_count == 1 and job.errors == [[4, "'12' is not a valid phone number. " + E164_HINT]]
    assert job.ignored_columns == ["source"]
    assert job.started_at and job.finished_at and job.percent == 100
    assert agent_a.customers.count() == 3
    assert not job.file and not default_storage.exists(stored)  # a finished job keeps only its report


def test_a_redelivered_task_does_not_import_twice(agent_a):
    job = start(agent_a)
    customer_import_task.delay(str(job.pk))
    job.refresh_from_db()
    before = (job.status, job.created, job.unchanged, job.finished_at)
    agent_a.customers.all().delete()  # were it run again, it would create them again

    assert customer_import_task.delay(str(job.pk)).get() == "done"
    job.refresh_from_db()
    assert (job.status, job.created, job.unchanged, job.finished_at) == before
    assert not agent_a.customers.exists()


def test_a_job_another_worker_is_running_is_left_to_it(agent_a):
    job = start(agent_a)
    ImportJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now())
    assert customer_import_task.delay(str(job.pk)).get() == "running"
    assert not agent_a.customers.exists()
    assert ImportJob.objects.get(pk=job.pk).file  # still there for the worker that has it


def test_a_missing_job_is_nothing_to_do(agent_a):
    assert customer_import_task.delay("7b0e3c43-0000-4000-8000-000000000000").get() is None


def test_a_file_refused_by_the_worker_fails_the_job_with_its_reason_and_writes_nothing(agent_a):
    job = start(agent_a)
    job.file.save("upload.csv", ContentFile(b"\x00\x01binary"), save=True)  # replaced after the upload check
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "This is not a text file" in job.failure
    assert not agent_a.customers.exists() and not job.file and job.is_finished


def test_an_unexpected_error_fails_the_job_politely_and_loudly(agent_a, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_jobs, "customers_import", broken)
    job = start(agent_a)
    with pytest.raises(RuntimeError):
        import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "Upload the file again" in job.failure
    assert f"import_job_run(job_id={job.pk}) failed" in caplog.text


def test_the_listed_row_errors_are_bounded_but_counted(agent_a, monkeypatch):
    monkeypatch.setattr(import_jobs, "MAX_JOB_ERRORS", 2)
    job = start(agent_a, "phone_number\n1\n2\n3\n+12125550101\n")
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.error_count == 3 and [line for line, _ in job.errors] == [2, 3]
    assert job.created == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,email\nAva,a@x.test\n", "no phone_number"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a text file"),
        ("phone_number\n+12125550101\n".encode("utf-16-le"), "This is not a text file"),
    ],
)
def test_a_bad_file_is_refused_at_upload_and_nothing_is_stored(agent_a, content, message):
    with pytest.raises(CsvFileInvalid, match=message):
        start(agent_a, content)
    assert not ImportJob.objects.exists() and not agent_a.customers.exists()


def test_a_file_too_big_is_refused_at_upload(agent_a, monkeypatch):
    monkeypatch.setattr(import_jobs, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(CsvFileInvalid, match="the limit here is"):
        start(agent_a)
    assert not ImportJob.objects.exists()


def test_another_clients_job_is_not_found(agent_a, agent_b):
    job = start(agent_a)
    assert import_job_get(agent=agent_a, job_id=job.pk) == job
    for job_id in (job.pk, "not-a-uuid", "7b0e3c43-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound):
            import_job_get(agent=agent_b, job_id=job_id)


def test_a_running_job_whose_worker_went_quiet_is_stalled(agent_a):
    job = start(agent_a)
    job.status, job.heartbeat_at = "running", timezone.now() - timedelta(minutes=5)
    assert not job.is_stalled
    job.heartbeat_at = timezone.now() - timedelta(minutes=11)
    assert job.is_stalled


def test_only_the_latest_jobs_are_kept(agent_a, agent_b, monkeypatch):
    monkeypatch.setattr(import_jobs, "KEEP_JOBS", 3)
    other = start(agent_b)
    jobs = [start(agent_a) for _ in range(4)]
    kept = set(ImportJob.objects.filter(ai_agent=agent_a).values_list("pk", flat=True))
    assert kept == {j.pk for j in jobs[1:]}
    assert not default_storage.exists(jobs[0].file.name)  # its waiting upload went with it
    assert ImportJob.objects.filter(pk=other.pk).exists()
