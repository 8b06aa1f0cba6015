"""Promises to call a customer back at a time."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from agents.models import AIAgent
from customers.models import CustomerProfile


class ScheduledCallback(models.Model):
    """A callback (the customer asked) or a follow-up (the customer did not answer).

    Priority 1 is the most urgent; due callbacks are placed in priority, then time order.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELED = "canceled", "Canceled"
        FAILED = "failed", "Failed"
        MISSED = "missed", "Missed"

    class Kind(models.TextChoices):
        CALLBACK = "callback", "Callback"
        FOLLOWUP = "followup", "Follow-up"

    ACTIVE_STATUSES = (Status.SCHEDULED, Status.IN_PROGRESS)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="callbacks", db_index=False)
    customer_profile = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="callbacks")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CALLBACK)
    scheduled_datetime = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    priority_level = models.PositiveSmallIntegerField(default=3)
    expected_outcome = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # The call in which the customer asked for it (a string reference: calls sits above us).
    source_call = models.ForeignKey(
        "calls.CallSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="callbacks_booked"
    )
    # A claim is a lease: a worker that dies leaves it to expire and the callback is claimed again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    is_overdue = models.BooleanField(default=False)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_datetime"]
        verbose_name = "scheduled callback"
        constraints = [
            models.CheckConstraint(
                condition=Q(priority_level__gte=1, priority_level__lte=5), name="callback_priority_1_5"
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=10), name="callback_max_attempts_1_10"
            ),
            models.CheckConstraint(condition=Q(attempts__lte=F("max_attempts")), name="callback_attempts_lte_max"),
            models.CheckConstraint(
                condition=~Q(status="in_progress") | Q(lease_expires_at__isnull=False),
                name="callback_in_progress_has_lease",
            ),
        ]
        indexes = [
            # The dispatcher's query: due, scheduled callbacks in priority then time order.
            models.Index(
                fields=["priority_level", "scheduled_datetime"],
                condition=Q(status="scheduled"),
                name="callback_due_idx",
            ),
            models.Index(fields=["scheduled_datetime"], condition=Q(status="scheduled"), name="callback_due_time_idx"),
            models.Index(fields=["lease_expires_at"], condition=Q(status="in_progress"), name="callback_lease_idx"),
            models.Index(fields=["ai_agent", "status", "scheduled_datetime"], name="callback_agent_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.customer_profile_id} at {self.scheduled_datetime:%Y-%m-%d %H:%M}"
