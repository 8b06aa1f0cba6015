"""The people an agent talks to, one profile per agent and phone number."""

from __future__ import annotations

import uuid

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
    conversation_notes = models.JSONField(default=list, blank=True)  # [{"at": iso, "text": str, "call": id}]
    preferences = models.JSONField(default=dict, blank=True)
    objections = models.JSONField(default=list, blank=True)  # [{"key": str, "text": str, "at": iso}]
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
