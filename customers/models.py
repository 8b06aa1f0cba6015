"""The people an agent talks to, one profile per agent and phone number."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from agents.models import AIAgent
from core.timezones import validate_timezone_name
from core.validators import validate_e164


class CustomerProfile(models.Model):
    class InterestLevel(models.TextChoices):
        COLD = "cold", "Cold"
        WARM = "warm", "Warm"
        HOT = "hot", "Hot"
        CONVERTED = "converted", "Converted"

    class PreferredTime(models.TextChoices):
        ANY = "", "Any time"
        MORNING = "morning", "Morning"
        AFTERNOON = "afternoon", "Afternoon"
        EVENING = "evening", "Evening"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="customers", db_index=False)
    # Empty only for a caller who withheld their number (is_anonymous): such a customer is
    # never dialled and never merged with another, one profile per call.
    phone_number = models.CharField(max_length=16, blank=True, validators=[validate_e164])
    is_anonymous = models.BooleanField(
        default=False, help_text="Called in with a withheld number and has not given one."
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    # Derived from the number when it is unambiguous; empty means "unknown", never a guess.
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone_name])
    interest_level = models.CharField(max_length=10, choices=InterestLevel.choices, default=InterestLevel.COLD)
    call_preference_time = models.CharField(max_length=10, choices=PreferredTime.choices, blank=True, default="")
    total_calls = models.PositiveIntegerField(default=0)
    successful_calls = models.PositiveIntegerField(default=0)
    conversation_notes = models.JSONField(default=list, blank=True)  # services.customer_note: at, text, source[, call]
    preferences = models.JSONField(default=dict, blank=True)
    objections = models.JSONField(default=list, blank=True)  # services.customer_record_objection: key, text, at, call
    is_do_not_call = models.BooleanField(default=False)
    is_converted = models.BooleanField(default=False)
    # A persona of a simulation run: never listed, counted, dialled or learned from.
    is_simulated = models.BooleanField(default=False, editable=False)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    # The CustomerLevelCount bucket this customer is counted in ("warm:0"; "" = not counted):
    # the counter service moves it from there to where it belongs now (customers.level_counts).
    dashboard_counted = models.CharField(max_length=16, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "customer"
        constraints = [
            models.UniqueConstraint(
                fields=["ai_agent", "phone_number"],
                condition=~Q(phone_number=""),
                name="customer_unique_phone_per_agent",
            ),
            models.CheckConstraint(
                condition=Q(is_anonymous=True, phone_number="") | (Q(is_anonymous=False) & ~Q(phone_number="")),
                name="customer_number_unless_anonymous",
            ),
            models.CheckConstraint(
                condition=Q(successful_calls__lte=F("total_calls")), name="customer_successful_lte_total"
            ),
            # is_converted is the flag the seed API filters on; it must agree with the level.
            models.CheckConstraint(
                condition=Q(is_converted=True, interest_level="converted")
                | (Q(is_converted=False) & ~Q(interest_level="converted")),
                name="customer_converted_matches_level",
            ),
        ]
        indexes = [
            models.Index(fields=["ai_agent", "-created_at"], name="customer_agent_created_idx"),
            # Real customers only (every read of them leaves simulated ones out), so the dashboard's
            # counts per level and do-not-call come from this index alone, without reading a row.
            models.Index(
                fields=["ai_agent", "interest_level", "is_do_not_call"],
                condition=Q(is_simulated=False),
                name="customer_real_interest_idx",
            ),
            # The few simulated customers, found without scanning the real ones, so callback reads
            # can leave them out without joining every customer.
            models.Index(fields=["ai_agent", "id"], condition=Q(is_simulated=True), name="customer_simulated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'Unknown'} {self.phone_display}"

    @property
    def phone_display(self) -> str:
        """The number as pages show it; an anonymous caller's profile says so instead of a blank."""
        return self.phone_number or "Number withheld"


IMPORT_STALLED_AFTER = timedelta(minutes=10)  # the worker writes after every batch of 500 rows


def _import_upload_path(job: ImportJob, filename: str) -> str:
    # The client's name for the file is kept in ``filename``; the stored name is only ours.
    return f"imports/{job.ai_agent_id}/{job.id}.csv"


class ImportJob(models.Model):
    """One leads file being imported by a worker; the dashboard polls this row for progress.

    The upload sits in Django's default storage (not the web machine's disk), so any worker
    can read it; it is deleted once the job is done or failed.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="import_jobs", db_index=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(upload_to=_import_upload_path, max_length=255, blank=True)
    filename = models.CharField(max_length=255, blank=True, help_text="The name the file had on the client's computer.")
    rows_total = models.PositiveIntegerField(null=True, blank=True, help_text="Known once the file has been read.")
    rows_processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[[line, reason], ...]: the first rows refused.")
    ignored_columns = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why the whole file was refused, for a failed job.")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Moved by the worker after every batch.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "customer import"
        indexes = [models.Index(fields=["ai_agent", "-created_at"], name="import_job_agent_time_idx")]

    def __str__(self) -> str:
        return f"Import {self.filename or self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_stalled(self) -> bool:
        """Running, but its worker stopped writing (lost with its machine): the page says so."""
        if self.status != self.Status.RUNNING or self.heartbeat_at is None:
            return False
        return self.heartbeat_at < dj_timezone.now() - IMPORT_STALLED_AFTER

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, 100 * self.rows_processed // self.rows_total)


class CustomerLevelCount(models.Model):
    """How many real customers an agent has per interest level and do-not-call flag.

    Kept by ``customers.level_counts`` in the transaction of every write that creates a
    customer, moves their level or do-not-call flag, or deletes them, so the dashboard reads
    at most eight rows instead of counting a hundred thousand customers.
    """

    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="level_counts", db_index=False)
    interest_level = models.CharField(max_length=10, choices=CustomerProfile.InterestLevel.choices)
    is_do_not_call = models.BooleanField(default=False)
    customers = models.IntegerField(default=0)

    class Meta:
        verbose_name = "customers per level"
        verbose_name_plural = "customers per level"
        constraints = [
            models.UniqueConstraint(
                fields=["ai_agent", "interest_level", "is_do_not_call"], name="customer_level_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ai_agent_id} {self.interest_level}{' dnc' if self.is_do_not_call else ''}: {self.customers}"
