"""Campaigns: an agent works through a list of leads within the rules, paced and retried.

A lead's attempt is claimed with a conditional UPDATE (``claim_token``) and tied to its call in
the transaction that records the call (``current_call``), so no attempt is dialled twice or
lost (campaigns.dispatch).
"""

from __future__ import annotations

import uuid
from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from agents.models import CALL_WINDOW_END, CALL_WINDOW_START, AIAgent
from calls.models import CallSession
from customers.models import CustomerProfile

RETRYABLE = ("busy", "no_answer", "voicemail")
MAX_ATTEMPTS = 10
MAX_LEADS = 100_000


def default_days() -> list[int]:
    return [0, 1, 2, 3, 4]  # Monday to Friday (datetime.weekday())


def default_retry_on() -> list[str]:
    return list(RETRYABLE)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class ApprovalMode(models.TextChoices):
        NONE = "none", "No approval"
        CAMPAIGN = "campaign", "Approve the campaign"
        PER_CALL = "per_call", "Approve each lead"

    class Approval(models.TextChoices):
        NOT_NEEDED = "not_needed", "Not needed"
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="campaigns", db_index=False)
    name = models.CharField(max_length=120)
    goal = models.CharField(max_length=1000, blank=True, help_text="Goes into each call's context.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Calling window, read in each lead's own timezone, inside 08:00-21:00.
    days_of_week = models.JSONField(default=default_days, help_text="0 = Monday ... 6 = Sunday.")
    window_start = models.TimeField(default=time(9, 0))
    window_end = models.TimeField(default=time(20, 0))
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    # Retry policy.
    max_attempts = models.PositiveSmallIntegerField(default=3)
    retry_spacing_minutes = models.PositiveIntegerField(default=240)
    retry_on = models.JSONField(default=default_retry_on, help_text="Outcomes retried: busy, no_answer, voicemail.")
    # Pacing of this campaign, within the client's own limits (calls.pacing).
    max_concurrent = models.PositiveSmallIntegerField(default=5, help_text="Calls of this campaign live at once.")
    approval_mode = models.CharField(max_length=10, choices=ApprovalMode.choices, default=ApprovalMode.NONE)
    approval = models.CharField(max_length=10, choices=Approval.choices, default=Approval.NOT_NEEDED)
    # The time zones of its pending leads, so the dispatcher asks only for leads whose window is open.
    lead_zones = models.JSONField(default=list, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["ai_agent", "-created_at"], name="campaign_agent_created_idx"),
            models.Index(fields=["status"], condition=Q(status="running"), name="campaign_running_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(window_start__lt=F("window_end")), name="campaign_window_ordered"),
            models.CheckConstraint(
                condition=Q(window_start__gte=CALL_WINDOW_START, window_end__lte=CALL_WINDOW_END),
                name="campaign_window_8_21",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=MAX_ATTEMPTS), name="campaign_attempts_1_10"
            ),
            models.CheckConstraint(
                condition=Q(max_concurrent__gte=1, max_concurrent__lte=500), name="campaign_concurrent_1_500"
            ),
            models.CheckConstraint(
                condition=Q(retry_spacing_minutes__gte=5, retry_spacing_minutes__lte=10080),
                name="campaign_spacing_5m_7d",
            ),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__isnull=True) | Q(starts_on__lte=F("ends_on")),
                name="campaign_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def waits_for_approval(self) -> bool:
        return self.approval_mode == self.ApprovalMode.CAMPAIGN and self.approval != self.Approval.APPROVED


class CampaignLead(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        NONE = "", "-"
        DO_NOT_CALL = "do_not_call", "On the do-not-call list"
        TIMEZONE_UNKNOWN = "timezone_unknown", "Timezone unknown"
        CONVERTED = "converted", "Already converted"
        ATTEMPTS_USED_UP = "attempts_used_up", "Attempts used up"
        REJECTED = "rejected", "Rejected by an operator"
        NO_NUMBER = "no_number", "No number to call"
        CANCELLED = "cancelled", "Campaign cancelled"

    class Approval(models.TextChoices):
        NOT_NEEDED = "not_needed", "Not needed"
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="leads", db_index=False)
    customer = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="campaign_leads")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    outcome = models.CharField(max_length=20, blank=True, help_text="The last call's outcome.")
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True, default="")
    note = models.CharField(max_length=300, blank=True, help_text="Why it waits, or why it was skipped.")
    timezone = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=dj_timezone.now)
    score = models.FloatField(default=0)
    score_parts = models.JSONField(default=dict, blank=True)
    approval = models.CharField(max_length=12, choices=Approval.choices, default=Approval.NOT_NEEDED)
    # The claim of the current attempt and the call it placed (campaigns.dispatch).
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    current_call = models.ForeignKey(
        CallSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    last_call_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_lead_unique_customer"),
            models.CheckConstraint(condition=Q(attempts__lte=MAX_ATTEMPTS), name="campaign_lead_attempts_max"),
        ]
        indexes = [
            # The queue: the best-scored pending leads of a campaign first.
            models.Index(
                F("campaign"), F("score").desc(), F("id"), condition=Q(state="pending"), name="campaign_lead_queue_idx"
            ),
            models.Index(fields=["campaign", "state"], name="campaign_lead_state_idx"),
            models.Index(fields=["current_call"], condition=Q(state="in_progress"), name="campaign_lead_call_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.campaign_id}: {self.state}"


class ApprovalDecision(models.Model):
    """One operator decision on a campaign (lead empty) or on one lead: every decision is kept."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="decisions")
    lead = models.ForeignKey(CampaignLead, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=300, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.decision} {self.campaign_id}/{self.lead_id or '-'}"
