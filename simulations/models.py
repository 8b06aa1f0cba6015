"""A persona simulation run: the agent against simulated customers, and its scorecard."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from agents.models import AIAgent


class SimulationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="simulation_runs", db_index=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    personas = models.JSONField(default=list, help_text="The persona keys to play, in order.")
    completed = models.PositiveSmallIntegerField(default=0, help_text="How many personas have been played.")
    # {"personas": [{"key", "name", "call_id", "goals": [{"key", "label", "reached"}], ...}], "summary": {...}}
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "persona simulation"
        indexes = [models.Index(fields=["ai_agent", "-created_at"], name="simulation_agent_time_idx")]

    def __str__(self) -> str:
        return f"Simulation {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def total(self) -> int:
        return len(self.personas)
