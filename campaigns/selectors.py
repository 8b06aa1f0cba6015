"""Reads of campaigns, always through the agent: another client's campaign is "not found"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from agents.models import AIAgent
from calls.models import CallSession
from campaigns.models import ApprovalDecision, Campaign, CampaignLead
from core.errors import NotFound

L = CampaignLead.State
ANSWERED = ("answered", "interested", "not_interested", "converted", "callback_requested", "do_not_call")


def campaign_list(*, agent: AIAgent) -> QuerySet[Campaign]:
    return Campaign.objects.filter(ai_agent=agent).order_by("-created_at", "id")


def campaign_get(*, agent: AIAgent, campaign_id) -> Campaign:
    campaign = Campaign.objects.filter(ai_agent=agent, pk=campaign_id).select_related("ai_agent__client").first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def campaign_lead_get(*, agent: AIAgent, campaign_id, lead_id) -> CampaignLead:
    lead = (
        CampaignLead.objects.filter(campaign__ai_agent=agent, campaign_id=campaign_id, pk=lead_id)
        .select_related("campaign", "customer")
        .first()
    )
    if lead is None:
        raise NotFound("No such lead.")
    return lead


def campaign_leads(*, campaign: Campaign, state: str | None = None) -> QuerySet[CampaignLead]:
    qs = CampaignLead.objects.filter(campaign=campaign).select_related("customer")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-score", "id")


def approval_queue(*, agent: AIAgent) -> QuerySet[CampaignLead]:
    """Leads of this agent's live per-call campaigns that wait for an operator."""
    return (
        CampaignLead.objects.filter(
            campaign__ai_agent=agent,
            campaign__status__in=(Campaign.Status.DRAFT, Campaign.Status.RUNNING, Campaign.Status.PAUSED),
            approval=CampaignLead.Approval.PENDING,
            state=L.PENDING,
        )
        .select_related("campaign", "customer")
        .order_by("-score", "id")
    )


def campaigns_awaiting_approval(*, agent: AIAgent) -> QuerySet[Campaign]:
    return campaign_list(agent=agent).filter(
        approval=Campaign.Approval.PENDING, status__in=(Campaign.Status.DRAFT, Campaign.Status.RUNNING)
    )


def decisions(*, campaign: Campaign) -> QuerySet[ApprovalDecision]:
    return ApprovalDecision.objects.filter(campaign=campaign).select_related("lead__customer", "decided_by")


@dataclass(frozen=True)
class Progress:
    leads: int
    pending: int
    in_progress: int
    done: int
    skipped: int
    dialled: int  # attempts that placed a call
    answered: int
    converted: int
    callbacks_booked: int
    remaining: int
    pace_per_hour: float  # calls placed in the last 15 minutes, per hour
    estimated_finish: datetime | None
    skipped_by_reason: dict


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> Progress:
    """The live figures of a campaign: a few grouped counts over its leads and its calls."""
    now = now or timezone.now()
    states = dict(
        CampaignLead.objects.filter(campaign=campaign).values_list("state").annotate(n=Count("pk")).order_by()
    )
    reasons = dict(
        CampaignLead.objects.filter(campaign=campaign, state=L.SKIPPED)
        .values_list("skip_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    outcomes = CampaignLead.objects.filter(campaign=campaign).aggregate(
        dialled=Sum("attempts"),
        answered=Count("pk", filter=Q(outcome__in=ANSWERED)),
        converted=Count("pk", filter=Q(outcome="converted")),
        booked=Count("pk", filter=Q(outcome="callback_requested")),
    )
    recent = CampaignLead.objects.filter(campaign=campaign, last_call_at__gte=now - timedelta(minutes=15)).count()
    pace = recent * 4.0
    pending, in_progress = states.get(L.PENDING, 0), states.get(L.IN_PROGRESS, 0)
    remaining = pending + in_progress
    finish = now + timedelta(hours=remaining / pace) if pace and remaining else (now if not remaining else None)
    return Progress(
        leads=sum(states.values()),
        pending=pending,
        in_progress=in_progress,
        done=states.get(L.DONE, 0),
        skipped=states.get(L.SKIPPED, 0),
        dialled=outcomes["dialled"] or 0,
        answered=outcomes["answered"],
        converted=outcomes["converted"],
        callbacks_booked=outcomes["booked"],
        remaining=remaining,
        pace_per_hour=pace,
        estimated_finish=finish,
        skipped_by_reason={k or "-": v for k, v in reasons.items()},
    )


def campaign_outcomes_by_hour(*, campaign: Campaign, hours: int = 48) -> list[dict]:
    """Outcomes per hour of each lead's latest call (the chart), oldest first."""
    since = timezone.now() - timedelta(hours=hours)
    call_ids = CampaignLead.objects.filter(campaign=campaign).values("current_call")
    rows = (
        CallSession.objects.filter(pk__in=call_ids, started_at__gte=since)
        .annotate(hour=TruncHour("started_at"))
        .values("hour", "outcome")
        .annotate(n=Count("pk"))
        .order_by("hour")
    )
    table: dict = {}
    for row in rows:
        table.setdefault(row["hour"], {})[row["outcome"] or "live"] = row["n"]
    return [{"hour": hour, "outcomes": counts} for hour, counts in table.items()]
