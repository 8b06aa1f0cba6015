"""The client's AI agent and the training sessions that teach it."""

from __future__ import annotations

import uuid
from datetime import time

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Client
from core.validators import validate_e164

LEARNING_THRESHOLD = 20  # % of training needed before the agent may take calls
ACTIVE_THRESHOLD = 80
# Customers are called between these times, their local time (customers.contactability applies it;
# it lives here so the agent's learned "best hours" recommend only hours it may call at).
CALL_WINDOW_START = time(8, 0)
CALL_WINDOW_END = time(21, 0)


class AIAgent(models.Model):
    """One per client. Starts blank (status training, level 0) and is taught by the client."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        LEARNING = "learning", "Learning"
        ACTIVE = "active", "Active"
        OPTIMIZING = "optimizing", "Optimizing"
        PAUSED = "paused", "Paused"

    class Personality(models.TextChoices):
        FRIENDLY = "friendly", "Friendly"
        PROFESSIONAL = "professional", "Professional"
        CONSULTATIVE = "consultative", "Consultative"
        ENTHUSIASTIC = "enthusiastic", "Enthusiastic"
        EMPATHETIC = "empathetic", "Empathetic"

    class VoiceMode(models.TextChoices):
        # Each turn a <Gather> round trip through the turn webhook: works on every Twilio account.
        GATHER = "gather", "Gather (webhook per turn)"
        # Twilio ConversationRelay: a WebSocket per call, replies streamed as they are written.
        RELAY = "relay", "ConversationRelay (streaming)"

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="agent")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    personality_type = models.CharField(max_length=20, choices=Personality.choices, default=Personality.FRIENDLY)
    voice_model = models.CharField(max_length=60, default="Polly.Joanna-Neural")
    language = models.CharField(max_length=10, default="en-US")
    voice_mode = models.CharField(
        max_length=10, choices=VoiceMode.choices, default=VoiceMode.GATHER,
        help_text="How calls talk: a webhook per turn, or a ConversationRelay socket (needs it enabled on Twilio).",
    )  # fmt: skip
    phone_number = models.CharField(
        max_length=16, null=True, blank=True, unique=True, validators=[validate_e164],
        help_text="The agent's own number (E.164); inbound calls to it reach this agent.",
    )  # fmt: skip
    working_hours_start = models.TimeField(default=time(9, 0))
    working_hours_end = models.TimeField(default=time(18, 0))
    business_info = models.JSONField(default=dict, blank=True)
    sales_goals = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TRAINING)
    training_level = models.PositiveSmallIntegerField(default=0)
    calls_handled = models.PositiveIntegerField(default=0)
    successful_conversions = models.PositiveIntegerField(default=0)
    conversation_memory = models.JSONField(default=dict, blank=True)
    # Everything the trainings taught, compiled once per training so a call turn reads one row.
    knowledge = models.JSONField(default=dict, blank=True, editable=False)
    customer_preferences = models.JSONField(default=dict, blank=True)

    # Follow-up rules for calls that were not answered.
    voicemail_message = models.TextField(blank=True)
    followup_delay_minutes = models.PositiveIntegerField(default=240)
    followup_max_attempts = models.PositiveSmallIntegerField(default=3)

    # Learning watermark: outcomes of calls up to this point are folded into the memory.
    learned_through = models.DateTimeField(null=True, blank=True)
    # The client-local day of the last daily report sent (calls.reports): bookkeeping, not learning,
    # so it lives beside the memory rather than in it.
    daily_report_sent_on = models.DateField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "AI agent"
        constraints = [
            models.CheckConstraint(condition=Q(training_level__lte=100), name="agent_training_level_0_100"),
            models.CheckConstraint(
                condition=Q(working_hours_start__lt=F("working_hours_end")), name="agent_working_hours_ordered"
            ),
            models.CheckConstraint(condition=Q(followup_max_attempts__lte=10), name="agent_followup_attempts_max_10"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client})"

    @property
    def conversion_rate(self) -> float:
        return round(100 * self.successful_conversions / self.calls_handled, 1) if self.calls_handled else 0.0

    @property
    def can_take_calls(self) -> bool:
        return not self.calls_blocked_reason

    @property
    def calls_blocked_reason(self) -> str:
        """Why the agent takes no calls yet, in words for its owner ("" when it does)."""
        if self.training_level < LEARNING_THRESHOLD:
            return (
                f"{self.name} is trained to {self.training_level}%; it needs {LEARNING_THRESHOLD}% "
                "to take calls. Add training material first."
            )
        if self.status == self.Status.PAUSED:
            return f"{self.name} is paused and takes no calls. Resume it to test it."
        return ""


class AIAgentTraining(models.Model):
    """One training session: material the client gave the agent at one time."""

    class TrainingType(models.TextChoices):
        SCRIPT = "script", "Sales script"
        PRODUCT = "product", "Product details"
        OBJECTION_HANDLING = "objection_handling", "Objection handling"
        COMPANY_INFO = "company_info", "Company information"
        FAQ = "faq", "FAQ"
        TECHNIQUES = "techniques", "Sales techniques"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="trainings")
    training_type = models.CharField(max_length=20, choices=TrainingType.choices)
    # {"script": str, "objection_responses": {key: answer}, "sales_techniques": [...], "faq": {q: a}}
    training_data = models.JSONField(default=dict, blank=True)
    client_instructions = models.TextField(blank=True)
    sales_goals = models.JSONField(default=dict, blank=True)
    product_info = models.JSONField(default=dict, blank=True)  # features, pricing, benefits
    completion_percentage = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "training session"
        indexes = [models.Index(fields=["ai_agent", "-created_at"], name="training_agent_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(completion_percentage__lte=100), name="training_completion_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.get_training_type_display()} @ {self.created_at:%Y-%m-%d %H:%M}"
