"""CSV import in the browser, with a real progress bar: the file is imported in chunks.

The upload is kept in a job folder (``var/imports/<client id>/<job id>/``); each HTMX
request imports the next chunk of rows through ``customers.csv_import.customers_import``
(the same service the API and the ``import_customers`` command use, with its progress
callback), saves the running totals, and answers with the progress bar, which asks for the
next chunk until the file is done. Without JavaScript the upload imports every chunk in
the one request and shows the report.

Rules kept across chunks, as the service keeps them within one call:
- every bad row is reported with its line in the file (the header is line 1);
- a number on two lines of the file is refused on its second line, even when the two lines
  fall in different chunks (the numbers of earlier chunks are kept in the job folder);
- a chunk is imported by one request at a time (a file lock), so a repeated poll never
  imports rows twice.

The job folder is per client and named by a random id, so another client's job is simply
not found. A finished job keeps only its report; jobs older than a day are removed.
"""

from __future__ import annotations

import fcntl
import json
import math
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Client
from agents.models import AIAgent
from core.errors import DomainError, NotFound
from core.phone import normalize_e164
from customers.csv_import import (
    COLUMNS,
    FORMULA_STARTS,
    MAX_REPORTED_ERRORS,
    CsvFileInvalid,
    CsvRow,
    ImportProgress,
    customers_import,
    read_customer_csv,
)
from dashboard.access import client_page, is_htmx
from dashboard.forms import CsvUploadForm

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MIN_CHUNK_ROWS = 1000
TARGET_CHUNKS = 40  # each chunk re-reads the rows before it, so fewer, bigger chunks for big files
JOB_TTL_SECONDS = 24 * 3600


def import_root() -> Path:
    return Path(getattr(settings, "DASHBOARD_IMPORT_DIR", None) or settings.BASE_DIR / "var" / "imports")


def _repeat_reason(phone: str, first_line: int) -> str:
    return f"{phone} is already on line {first_line}; one row per number"


def _row_phone(row: CsvRow) -> str | None:
    """The row's number in E.164 as the importer reads it, or None when it is not a number."""
    raw = (row.values.get("phone_number") or "").strip()
    if len(raw) > 1 and raw[0] == "'" and raw[1] in FORMULA_STARTS:
        raw = raw[1:]
    if not raw:
        return None
    try:
        return normalize_e164(raw)
    except DomainError:
        return None


@dataclass
class ImportJob:
    folder: Path
    state: dict[str, Any]

    # --- files ---------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def upload_path(self) -> Path:
        return self.folder / "upload.csv"

    @property
    def seen_path(self) -> Path:
        return self.folder / "numbers.txt"

    def save(self) -> None:
        tmp = self.folder / "state.json.tmp"
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.folder / "state.json")

    @contextmanager
    def lock(self) -> Iterator[bool]:
        """Held while a chunk is imported; yields False when another request holds it."""
        with open(self.folder / "lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- creating and finding ------------------------------------------------------------------

    @classmethod
    def create(cls, *, client: Client, agent: AIAgent, upload: UploadedFile) -> ImportJob:
        """Store the upload and check its header (a file without a phone column is refused now)."""
        if upload.size > MAX_UPLOAD_BYTES:
            limit_mb = MAX_UPLOAD_BYTES // 1024 // 1024
            raise CsvFileInvalid(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit here is {limit_mb} MB. "
                "Split it, or import it with `manage.py import_customers`."
            )
        _prune(client)
        job_id = uuid.uuid4().hex
        folder = import_root() / str(client.pk) / job_id
        folder.mkdir(parents=True)
        job = cls(folder=folder, state={})
        newlines = 0
        with open(job.upload_path, "wb") as out:
            for piece in upload.chunks():
                out.write(piece)
                newlines += piece.count(b"\n")
        try:
            with open(job.upload_path, "rb") as stream:
                ignored, rows = read_customer_csv(stream)
                rows.close()
        except CsvFileInvalid:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        total_lines = max(newlines, 1) + 1
        job.state = {
            "id": job_id, "agent_id": agent.pk, "filename": upload.name or "upload.csv", "size": upload.size,
            "total_lines": total_lines, "chunk_rows": max(MIN_CHUNK_ROWS, math.ceil(total_lines / TARGET_CHUNKS)),
            "last_line": 1, "rows": 0, "created": 0, "updated": 0, "unchanged": 0, "error_count": 0, "errors": [],
            "ignored_columns": ignored, "done": False, "failed": "", "started_at": timezone.now().isoformat(),
            "finished_at": None, "chunks": 0,
        }  # fmt: skip
        job.seen_path.touch()
        job.save()
        return job

    @classmethod
    def get(cls, *, client: Client, job_id: str) -> ImportJob:
        """The client's job; another client's job and a missing one are the same NotFound."""
        try:
            job_id = uuid.UUID(str(job_id)).hex
        except ValueError:
            raise NotFound("Import not found.") from None
        folder = import_root() / str(client.pk) / job_id
        try:
            state = json.loads((folder / "state.json").read_text())
        except (FileNotFoundError, ValueError):
            raise NotFound("Import not found.") from None
        return cls(folder=folder, state=state)

    # --- importing -----------------------------------------------------------------------------

    @property
    def percent(self) -> int:
        if self.state["done"]:
            return 100
        return min(99, int(100 * self.state["last_line"] / max(self.state["total_lines"], 1)))

    def _seen(self) -> dict[str, int]:
        seen: dict[str, int] = {}
        with open(self.seen_path) as handle:
            for line in handle:
                phone, _, first = line.rstrip("\n").partition(" ")
                seen.setdefault(phone, int(first))
        return seen

    def _flag_repeats(self, rows: Iterable[CsvRow], seen: dict[str, int]) -> list[CsvRow]:
        flagged = []
        for row in rows:
            phone = None if row.error else _row_phone(row)
            if phone is not None and phone in seen:
                row = CsvRow(line=row.line, values=row.values, error=_repeat_reason(phone, seen[phone]))
            flagged.append(row)
        return flagged

    def step(self, *, agent: AIAgent) -> None:
        """Import the next chunk of rows (or nothing, when another request is doing it)."""
        if self.state["done"]:
            return
        with self.lock() as mine:
            if not mine:
                return
            fresh = ImportJob.get(client=agent.client, job_id=self.id)  # another request may have moved on
            self.state = fresh.state
            if self.state["done"]:
                return
            try:
                self._import_chunk(agent)
            except CsvFileInvalid as exc:
                self._finish(failed=exc.message)
            self.save()

    def _import_chunk(self, agent: AIAgent) -> None:
        state = self.state
        with open(self.upload_path, "rb") as stream:
            _, rows = read_customer_csv(stream)
            try:
                pending = (row for row in rows if row.line > state["last_line"])
                chunk = list(islice(pending, state["chunk_rows"]))
            finally:
                rows.close()
        seen = self._seen()
        before = {key: state[key] for key in ("rows", "created", "updated", "unchanged", "error_count")}

        def progress(p: ImportProgress) -> None:
            for key, value in (("rows", p.rows), ("created", p.created), ("updated", p.updated),
                               ("unchanged", p.unchanged), ("error_count", p.errors)):  # fmt: skip
                state[key] = before[key] + value

        report = customers_import(agent=agent, rows=self._flag_repeats(chunk, seen), progress=progress)
        room = MAX_REPORTED_ERRORS - len(state["errors"])
        state["errors"].extend([e.line, e.reason] for e in report.errors[: max(room, 0)])
        failed_lines = {e.line for e in report.errors}
        with open(self.seen_path, "a") as handle:
            for row in chunk:
                phone = None if row.error or row.line in failed_lines else _row_phone(row)
                if phone is not None and phone not in seen:
                    seen[phone] = row.line
                    handle.write(f"{phone} {row.line}\n")
        state["chunks"] += 1
        if chunk:
            state["last_line"] = chunk[-1].line
        if len(chunk) < state["chunk_rows"]:
            self._finish()

    def _finish(self, *, failed: str = "") -> None:
        self.state.update(done=True, failed=failed, finished_at=timezone.now().isoformat())
        self.upload_path.unlink(missing_ok=True)
        self.seen_path.unlink(missing_ok=True)

    def run_to_end(self, *, agent: AIAgent) -> None:
        while not self.state["done"]:
            self.step(agent=agent)


def _prune(client: Client) -> None:
    folder = import_root() / str(client.pk)
    if not folder.is_dir():
        return
    cutoff = time.time() - JOB_TTL_SECONDS
    for job in folder.iterdir():
        if job.is_dir() and job.stat().st_mtime < cutoff:
            shutil.rmtree(job, ignore_errors=True)


# --- pages ---------------------------------------------------------------------------------------


def _progress(request: HttpRequest, job: ImportJob) -> HttpResponse:
    return render(request, "dashboard/partials/import_progress.html", {"job": job, "state": job.state})


@client_page
@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    job = None
    if request.method == "POST" and form.is_valid():
        try:
            job = ImportJob.create(client=request.client, agent=request.agent, upload=form.cleaned_data["file"])
        except CsvFileInvalid as exc:
            form.add_error("file", exc.message)
        else:
            if is_htmx(request):
                job.step(agent=request.agent)
                return _progress(request, job)
            job.run_to_end(agent=request.agent)
            messages.success(request, "Import finished.")
            return redirect(f"{reverse('dashboard:customer-import')}?job={job.id}")
    if request.method == "POST" and is_htmx(request):
        response = render(request, "dashboard/partials/import_form.html", {"form": form})
        response["HX-Retarget"] = "#import-form"
        response["HX-Reswap"] = "outerHTML"
        return response
    if request.GET.get("job"):
        job = ImportJob.get(client=request.client, job_id=request.GET["job"])
    return render(
        request,
        "dashboard/customers/import.html",
        {"form": form, "job": job, "state": job.state if job else None, "columns": COLUMNS},
    )


@client_page
@require_POST
def customer_import_step(request: HttpRequest, job_id) -> HttpResponse:
    job = ImportJob.get(client=request.client, job_id=job_id)
    job.step(agent=request.agent)
    return _progress(request, job)
