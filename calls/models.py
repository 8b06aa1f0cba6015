"""Call sessions and the turns of their conversation.

Foreign keys that lead a composite index or unique constraint get no index of their own
(``db_index=False``): the composite serves their lookups, and every index is paid for on
each insert of these hot rows.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from customers.models import CustomerProfile


def cascade_uncounted(collector, field, sub_objs, using) -> None:
    """CASCADE, first taking the calls out of the dashboard's day counts (``calls.day_counts``).

    A deleted customer's calls go with them, whoever deletes the customer (the customers
    app cannot call up into this one), so the counts follow the rows in the same transaction.
    """
    from calls.day_counts import call_day_counts_forget  # it imports this module

    call_day_counts_forget(calls=sub_objs)
    models.CASCADE(collector, field, sub_objs, using)


class CallSession(models.Model):
    class CallType(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        SCHEDULED = "scheduled", "Scheduled callback"
        FOLLOWUP = "followup", "Follow-up"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RINGING = "ringing", "Ringing"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no_answer", "No answer"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Outcome(models.TextChoices):
        ANSWERED = "answered", "Answered"
        INTERESTED = "interested", "Interested"
        NOT_INTERESTED = "not_interested", "Not interested"
        CONVERTED = "converted", "Converted"
        CALLBACK_REQUESTED = "callback_requested", "Callback requested"
        VOICEMAIL = "voicemail", "Voicemail"
        DO_NOT_CALL = "do_not_call", "Do not call"
        NO_ANSWER = "no_answer", "No answer"
        FAILED = "failed", "Failed"

    FINAL_STATUSES = (Status.COMPLETED, Status.BUSY, Status.NO_ANSWER, Status.FAILED, Status.CANCELED)
    # Being dialled or talking: the customer may not be dialled again until the call is final.
    LIVE_STATUSES = (Status.QUEUED, Status.RINGING, Status.IN_PROGRESS)
    # A person answered: the call counts as a pick-up for the memory and the dashboard.
    PICKED_UP_OUTCOMES = frozenset(
        {
            Outcome.ANSWERED,
            Outcome.INTERESTED,
            Outcome.NOT_INTERESTED,
            Outcome.CONVERTED,
            Outcome.CALLBACK_REQUESTED,
            Outcome.DO_NOT_CALL,
        }
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="calls", db_index=False)
    customer_profile = models.ForeignKey(
        CustomerProfile, on_delete=cascade_uncounted, related_name="calls", db_index=False
    )
    callback = models.ForeignKey(
        ScheduledCallback,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        help_text="The scheduled callback or follow-up that caused this call.",
    )
    call_type = models.CharField(max_length=10, choices=CallType.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    context = models.TextField(blank=True, help_text="Why the call was placed.")
    conversation_transcript = models.TextField(blank=True)
    sentiment_analysis = models.JSONField(default=dict, blank=True)
    customer_response = models.TextField(blank=True)
    conversation_notes = models.TextField(blank=True)
    followup_scheduled = models.BooleanField(default=False)
    followup_datetime = models.DateTimeField(null=True, blank=True)
    # Unique by a constraint (call_unique_twilio_sid), not ``unique=True``: on PostgreSQL that
    # would add a second, pattern-matching index nobody queries, updated by every dial's SID.
    twilio_call_sid = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - NULLs never collide
    # Twilio's SequenceNumber of the last status event applied; older events are ignored.
    status_sequence = models.IntegerField(default=-1)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_duration = models.PositiveIntegerField(null=True, blank=True)
    answered_by = models.CharField(max_length=30, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    customer_satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    llm_fallbacks = models.PositiveSmallIntegerField(default=0)
    outcome_learned = models.BooleanField(default=False)
    # A persona simulation's call (its customer is simulated too): kept for its transcript,
    # left out of every real statistic, list and learning.
    is_simulation = models.BooleanField(default=False, editable=False)
    # What this call adds to the CallDayCount bucket it is counted in ({} = not counted): the
    # counter service takes exactly this back out when the call changes (calls.day_counts).
    dashboard_counted = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "call"
        constraints = [
            models.UniqueConstraint(fields=["twilio_call_sid"], name="call_unique_twilio_sid"),
            models.CheckConstraint(
                condition=Q(customer_satisfaction__isnull=True)
                | Q(customer_satisfaction__gte=1, customer_satisfaction__lte=5),
                name="call_satisfaction_1_5",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="call_ends_after_start",
            ),
            # One outbound call at a time per customer, whatever places it (start-call, the
            # dispatcher's workers): a second live one cannot be inserted. Inbound calls are not
            # counted: a customer who calls in is always answered (calls.outbound).
            models.UniqueConstraint(
                fields=["customer_profile"],
                condition=Q(status__in=["queued", "ringing", "in_progress"]) & ~Q(call_type="inbound"),
                name="call_one_live_outbound_per_customer",
            ),
        ]
        indexes = [
            models.Index(fields=["ai_agent", "-started_at"], name="call_agent_time_idx"),
            models.Index(fields=["customer_profile", "-started_at"], name="call_customer_time_idx"),
            models.Index(fields=["ai_agent", "updated_at"], name="call_agent_updated_idx"),
            # The dashboard's recent-window figures (performance, calls per day) read only these
            # columns of real calls: on PostgreSQL they come from the index alone (an index-only
            # scan), so a window of a busy agent costs index pages, not a heap page per call.
            models.Index(
                fields=["ai_agent", "started_at"],
                include=[
                    "outcome",
                    "status",
                    "call_type",
                    "answered_at",
                    "answered_by",
                    "duration_seconds",
                    "llm_fallbacks",
                ],
                condition=Q(is_simulation=False),
                name="call_agent_recent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_call_type_display()} call {self.twilio_call_sid or self.id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class CallTurn(models.Model):
    """One thing said on a call. ``sequence`` orders the turns and keys replayed webhooks."""

    class Speaker(models.TextChoices):
        AGENT = "agent", "Agent"
        CALLER = "caller", "Caller"
        SYSTEM = "system", "System"

    call = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="turns", db_index=False)
    sequence = models.PositiveIntegerField()
    speaker = models.CharField(max_length=10, choices=Speaker.choices)
    text = models.TextField(blank=True)
    spoken_at = models.DateTimeField(default=timezone.now)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time to produce this agent turn.")
    provider = models.CharField(max_length=20, blank=True)
    actions = models.JSONField(default=list, blank=True)
    # ConversationRelay turns: from the caller's final prompt to the first and to the last text
    # token sent (the caller starts hearing the reply at the first); null on <Gather> turns.
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    last_token_ms = models.PositiveIntegerField(null=True, blank=True)
    # The caller spoke over this agent turn: ``text`` is cut to what they heard.
    interrupted = models.BooleanField(default=False)

    class Meta:
        ordering = ["call", "sequence"]
        verbose_name = "transcript turn"
        constraints = [models.UniqueConstraint(fields=["call", "sequence"], name="turn_unique_sequence")]

    def __str__(self) -> str:
        return f"{self.speaker}: {self.text[:60]}"


class OutboundDayCount(models.Model):
    """Outbound calls a client placed on one day (its own timezone): the daily limit's counter.

    Taken with one conditional upsert per placement (for all the clients of a set), so
    concurrent dispatchers can never exceed the limit, and no call has to count the day's calls.
    """

    client = models.ForeignKey("accounts.Client", on_delete=models.CASCADE, related_name="outbound_days")
    day = models.DateField()
    placed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name = "outbound calls per day"
        verbose_name_plural = "outbound calls per day"
        constraints = [models.UniqueConstraint(fields=["client", "day"], name="outbound_day_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day}: {self.placed}"


class CallDayCount(models.Model):
    """An agent's real calls of one client-local day with one outcome ("" while none is known).

    Kept by ``calls.day_counts`` in the transaction of every write that creates a call or
    changes what is counted here, so the dashboard's recent figures and calls-per-day chart
    read a few dozen rows instead of a month of calls.
    """

    ai_agent = models.ForeignKey(AIAgent, on_delete=models.CASCADE, related_name="day_counts", db_index=False)
    day = models.DateField()
    outcome = models.CharField(max_length=20, choices=CallSession.Outcome.choices, blank=True)
    calls = models.IntegerField(default=0)
    picked_up = models.IntegerField(default=0)  # a person answered (calls.day_counts.picked_up)
    outbound = models.IntegerField(default=0)  # placed by us: counts against the daily limit
    failed = models.IntegerField(default=0)  # status or outcome failed
    duration_calls = models.IntegerField(default=0)  # calls with a duration, and their seconds:
    duration_seconds = models.BigIntegerField(default=0)  # the average call length

    class Meta:
        ordering = ["-day", "outcome"]
        verbose_name = "calls per day"
        verbose_name_plural = "calls per day"
        constraints = [models.UniqueConstraint(fields=["ai_agent", "day", "outcome"], name="call_day_count_unique")]

    def __str__(self) -> str:
        return f"{self.ai_agent_id} {self.day} {self.outcome or '-'}: {self.calls}"
