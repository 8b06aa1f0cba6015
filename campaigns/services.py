"""Every write to a campaign: create, the status transitions, adding leads, approvals.

Status moves only along :data:`TRANSITIONS` (draft -> running -> paused -> completed /
cancelled), in :func:`campaign_transition`, with the campaign's row locked, so a pause and a
dispatcher binding a call serialise on it (a paused campaign places nothing).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import BinaryIO

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from agents.models import CALL_WINDOW_END, CALL_WINDOW_START, AIAgent
from campaigns.models import MAX_ATTEMPTS, MAX_LEADS, RETRYABLE, ApprovalDecision, Campaign, CampaignLead
from campaigns.scoring import call_history, lead_score
from core.errors import Conflict, ValidationFailed
from core.phone import normalize_e164
from customers.contactability import customer_zone
from customers.csv_import import CsvRow, ImportReport, customers_import, read_customer_csv
from customers.import_jobs import import_job_run, import_job_start
from customers.models import CustomerProfile, ImportJob

logger = logging.getLogger(__name__)

S = Campaign.Status
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.RUNNING, S.CANCELLED},
    S.RUNNING: {S.PAUSED, S.COMPLETED, S.CANCELLED},
    S.PAUSED: {S.RUNNING, S.CANCELLED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
}
ADD_BATCH = 1000


@dataclass(frozen=True)
class CampaignSpec:
    """What a client sets on a campaign; every value bounded by :func:`campaign_spec_check`."""

    name: str
    goal: str = ""
    days_of_week: Sequence[int] = (0, 1, 2, 3, 4)
    window_start: time = time(9, 0)
    window_end: time = time(20, 0)
    starts_on: date | None = None
    ends_on: date | None = None
    max_attempts: int = 3
    retry_spacing_minutes: int = 240
    retry_on: Sequence[str] = RETRYABLE
    max_concurrent: int = 5
    approval_mode: str = Campaign.ApprovalMode.NONE


def campaign_spec_check(spec: CampaignSpec) -> None:
    """Refuse what the rules do not allow, with the reason (the API and the form show it)."""
    if not spec.name.strip() or len(spec.name) > 120:
        raise ValidationFailed("Give the campaign a name of at most 120 characters.")
    if len(spec.goal) > 1000:
        raise ValidationFailed("The goal may be at most 1000 characters.")
    days = list(spec.days_of_week)
    if not days or len(days) > 7 or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ValidationFailed("Days of week are numbers 0 (Monday) to 6 (Sunday), at least one.")
    if not (CALL_WINDOW_START <= spec.window_start < spec.window_end <= CALL_WINDOW_END):
        raise ValidationFailed(
            "The calling window must lie within 08:00-21:00 (each lead's own time) and end after it starts."
        )
    if spec.starts_on and spec.ends_on and spec.starts_on > spec.ends_on:
        raise ValidationFailed("The end date is before the start date.")
    if not 1 <= spec.max_attempts <= MAX_ATTEMPTS:
        raise ValidationFailed(f"Attempts per lead: 1 to {MAX_ATTEMPTS}.")
    if not 5 <= spec.retry_spacing_minutes <= 10080:
        raise ValidationFailed("Retry spacing: 5 minutes to 7 days.")
    if any(o not in RETRYABLE for o in spec.retry_on):
        raise ValidationFailed(f"Outcomes that retry: {', '.join(RETRYABLE)}.")
    if not 1 <= spec.max_concurrent <= 500:
        raise ValidationFailed("Calls live at once: 1 to 500.")
    if spec.approval_mode not in Campaign.ApprovalMode.values:
        raise ValidationFailed(f"Approval mode: {', '.join(Campaign.ApprovalMode.values)}.")


def campaign_create(*, agent: AIAgent, spec: CampaignSpec, created_by: User | None = None) -> Campaign:
    campaign_spec_check(spec)
    return Campaign.objects.create(
        ai_agent=agent,
        name=spec.name.strip(),
        goal=spec.goal.strip(),
        days_of_week=sorted(set(spec.days_of_week)),
        window_start=spec.window_start,
        window_end=spec.window_end,
        starts_on=spec.starts_on,
        ends_on=spec.ends_on,
        max_attempts=spec.max_attempts,
        retry_spacing_minutes=spec.retry_spacing_minutes,
        retry_on=sorted(set(spec.retry_on)),
        max_concurrent=spec.max_concurrent,
        approval_mode=spec.approval_mode,
        approval=(
            Campaign.Approval.PENDING
            if spec.approval_mode == Campaign.ApprovalMode.CAMPAIGN
            else Campaign.Approval.NOT_NEEDED
        ),
        created_by=created_by,
    )


def campaign_transition(*, campaign: Campaign, to: str, now: datetime | None = None) -> Campaign:
    """Move the campaign to ``to`` if :data:`TRANSITIONS` allows it (else 409); the one door for status."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        if to not in TRANSITIONS[locked.status]:
            raise Conflict(
                f"A {locked.get_status_display().lower()} campaign cannot become {Campaign.Status(to).label.lower()}.",
                code="campaign_status",
            )
        if to == S.RUNNING and locked.started_at is None:
            if not locked.leads.exists():
                raise Conflict("Add leads before starting the campaign.", code="campaign_empty")
            locked.started_at = now
        locked.status = to
        if to in (S.COMPLETED, S.CANCELLED):
            locked.finished_at = now
        locked.save(update_fields=["status", "started_at", "finished_at", "updated_at"])
        if to == S.CANCELLED:
            # Leads not yet called stay as they are but are marked so; live calls finish.
            locked.leads.filter(state=CampaignLead.State.PENDING).update(
                state=CampaignLead.State.SKIPPED, skip_reason=CampaignLead.SkipReason.CANCELLED, updated_at=now
            )
    logger.info("Campaign %s: %s -> %s", campaign.pk, campaign.status, to)
    return locked


def campaign_complete(*, campaign: Campaign, now: datetime | None = None) -> bool:
    """Nothing is left to call: complete it, unless another dispatcher (or a person) moved it first."""
    with transaction.atomic():
        if not Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk, status=S.RUNNING).exists():
            return False
        campaign_transition(campaign=campaign, to=S.COMPLETED, now=now)
    return True


# --- leads -------------------------------------------------------------------------------------


@dataclass
class LeadsAdded:
    added: int = 0
    already_in: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    import_report: ImportReport | None = None


def _skip_reason(customer: CustomerProfile) -> tuple[str, str]:
    """Why a lead is skipped from the start ("" when it is not), and the words for it."""
    if customer.is_do_not_call:
        return CampaignLead.SkipReason.DO_NOT_CALL, "The customer is on the do-not-call list."
    if not customer.phone_number:
        return CampaignLead.SkipReason.NO_NUMBER, "We have no number for this customer."
    if customer.is_converted:
        return CampaignLead.SkipReason.CONVERTED, "The customer has already converted."
    if customer_zone(customer) is None:
        return CampaignLead.SkipReason.TIMEZONE_UNKNOWN, "The customer's timezone is unknown; set it to call them."
    return "", ""


def campaign_leads_add(*, campaign: Campaign, customers: Iterable[CustomerProfile]) -> LeadsAdded:
    """Add customers as leads (once each), scored; DNC, converted and zone-less ones skipped with the reason."""
    if campaign.status in (S.COMPLETED, S.CANCELLED):
        raise Conflict("Leads cannot be added to a finished campaign.", code="campaign_status")
    result = LeadsAdded()
    agent = campaign.ai_agent
    now = timezone.now()
    per_call = campaign.approval_mode == Campaign.ApprovalMode.PER_CALL
    waiting, not_needed = CampaignLead.Approval.PENDING, CampaignLead.Approval.NOT_NEEDED
    iterator: Iterator[CustomerProfile] = iter(customers)
    while True:
        batch = [c for _, c in zip(range(ADD_BATCH), iterator, strict=False)]
        if not batch:
            break
        if any(c.ai_agent_id != agent.pk or c.is_simulated for c in batch):
            raise ValidationFailed("A lead must be a real customer of this campaign's agent.")
        with transaction.atomic():
            existing = set(
                CampaignLead.objects.filter(campaign=campaign, customer__in=batch).values_list("customer_id", flat=True)
            )
            total = CampaignLead.objects.filter(campaign=campaign).count()
            fresh = [c for c in batch if c.pk not in existing]
            if total + len(fresh) > MAX_LEADS:
                raise ValidationFailed(f"A campaign holds at most {MAX_LEADS} leads.")
            history = call_history(fresh)
            leads = []
            for customer in fresh:
                reason, note = _skip_reason(customer)
                score, parts = lead_score(
                    agent=agent, customer=customer, outcomes=history.get(customer.pk, []), attempts=0, now=now
                )
                leads.append(
                    CampaignLead(
                        campaign=campaign, customer=customer, timezone=customer.timezone, score=score,
                        score_parts=parts, next_attempt_at=now, note=note, skip_reason=reason,
                        state=CampaignLead.State.SKIPPED if reason else CampaignLead.State.PENDING,
                        approval=waiting if per_call and not reason else not_needed,
                    )
                )  # fmt: skip
                if reason:
                    result.skipped[reason] = result.skipped.get(reason, 0) + 1
            CampaignLead.objects.bulk_create(leads)
            zones = {lead.timezone for lead in leads if lead.state == CampaignLead.State.PENDING}
            locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
            if zones - set(locked.lead_zones):
                locked.lead_zones = sorted(set(locked.lead_zones) | zones)
                locked.save(update_fields=["lead_zones", "updated_at"])
                campaign.lead_zones = locked.lead_zones
        result.added += len(fresh)
        result.already_in += len(existing)
    return result


@dataclass(frozen=True)
class LeadFilter:
    interest_levels: Sequence[str] = ()
    include_contacted_since: datetime | None = None


def campaign_leads_add_by_filter(*, campaign: Campaign, lead_filter: LeadFilter) -> LeadsAdded:
    """Add the agent's real customers matching the filter (do-not-call ones are added as skipped, for the record)."""
    qs = CustomerProfile.objects.filter(ai_agent=campaign.ai_agent, is_simulated=False, is_anonymous=False)
    if lead_filter.interest_levels:
        qs = qs.filter(interest_level__in=lead_filter.interest_levels)
    if lead_filter.include_contacted_since is not None:
        qs = qs.filter(Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lt=lead_filter.include_contacted_since))
    return campaign_leads_add(campaign=campaign, customers=qs.order_by("pk").iterator(chunk_size=ADD_BATCH))


class _FilePhones:
    """The numbers of a leads file's rows, kept while the customers importer reads them.

    Only (line, number) is kept, not the row, so a long file costs little memory; a row the
    importer then refuses is dropped by its line, so bad rows join no campaign.
    """

    def __init__(self) -> None:
        self.by_line: dict[int, str] = {}

    def see(self, row: CsvRow) -> None:
        if row.error:
            return
        with contextlib.suppress(ValidationFailed):
            self.by_line[row.line] = normalize_e164(row.values.get("phone_number", "").strip())

    def watch(self, rows: Iterable[CsvRow]) -> Iterator[CsvRow]:
        for row in rows:
            self.see(row)
            yield row

    def leads_add(self, *, campaign: Campaign, report: ImportReport) -> LeadsAdded:
        bad_lines = {error.line for error in report.errors}
        phones = [phone for line, phone in self.by_line.items() if line not in bad_lines]
        if report.errors_truncated:
            # Bad rows past the reported ones are not known by line: their numbers may join if valid.
            logger.warning("Campaign %s: the file has more bad rows than the report lists", campaign.pk)
        customers = []
        for start in range(0, len(phones), ADD_BATCH):
            chunk = phones[start : start + ADD_BATCH]
            customers += list(CustomerProfile.objects.filter(ai_agent=campaign.ai_agent, phone_number__in=chunk))
        result = campaign_leads_add(campaign=campaign, customers=customers)
        result.import_report = report
        return result


def campaign_leads_import_csv(*, campaign: Campaign, stream: BinaryIO) -> LeadsAdded:
    """A leads file: imported into the customers by the customers importer, then its good rows added as leads.

    Bad rows are in the returned report with their line and reason and join no campaign.
    Synchronous (the API's door); the dashboard runs the same steps as a job, below.
    """
    ignored, rows = read_customer_csv(stream)
    phones = _FilePhones()
    report = customers_import(agent=campaign.ai_agent, rows=phones.watch(rows))
    report.ignored_columns = ignored
    return phones.leads_add(campaign=campaign, report=report)


def campaign_leads_import_start(*, campaign: Campaign, user: User | None, upload: UploadedFile) -> ImportJob:
    """Store a leads file as a customers ``ImportJob`` whose task also adds its good rows as leads.

    CsvFileInvalid (nothing stored) when the file is refused at upload.
    """
    from campaigns.tasks import campaign_leads_import_task  # the tasks module imports the services

    campaign_id = str(campaign.pk)
    return import_job_start(
        agent=campaign.ai_agent,
        user=user,
        upload=upload,
        enqueue=lambda job_id: campaign_leads_import_task.delay(job_id, campaign_id),
    )


def campaign_leads_import_run(*, job_id: str, campaign_id: str) -> ImportJob | None:
    """Run a leads file's job: customers imported, then the good rows added as leads before "done".

    Idempotent as ``import_job_run`` is: a job already claimed is not run again.
    """
    campaign = Campaign.objects.select_related("ai_agent").get(pk=campaign_id)
    phones = _FilePhones()

    def add_leads(job: ImportJob, report: ImportReport) -> None:
        if job.ai_agent_id != campaign.ai_agent_id:
            raise ValueError(f"campaign_leads_import_run: job {job.pk} is not campaign {campaign.pk}'s agent's")
        phones.leads_add(campaign=campaign, report=report)

    return import_job_run(job_id=job_id, on_row=phones.see, on_imported=add_leads)


# --- approvals ---------------------------------------------------------------------------------


def campaign_decide(*, campaign: Campaign, approve: bool, reason: str = "", decided_by: User | None = None) -> Campaign:
    """The operator's decision on a campaign that waits for approval; recorded, and a rejection cancels it."""
    reason = reason.strip()[:300]
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        if locked.approval != Campaign.Approval.PENDING:
            raise Conflict("This campaign is not waiting for approval.", code="not_pending")
        if not approve and not reason:
            raise ValidationFailed("Say why the campaign is rejected.")
        ApprovalDecision.objects.create(
            campaign=locked, decision="approved" if approve else "rejected", reason=reason, decided_by=decided_by
        )
        locked.approval = Campaign.Approval.APPROVED if approve else Campaign.Approval.REJECTED
        locked.save(update_fields=["approval", "updated_at"])
    if not approve and locked.status not in (S.COMPLETED, S.CANCELLED):
        locked = campaign_transition(campaign=locked, to=S.CANCELLED)
    return locked


def lead_decide(*, lead: CampaignLead, approve: bool, reason: str = "", decided_by: User | None = None) -> CampaignLead:
    """The operator's decision on one lead of a per-call campaign; recorded; a rejected lead is skipped."""
    reason = reason.strip()[:300]
    if not approve and not reason:
        raise ValidationFailed("Say why the call is rejected.")
    with transaction.atomic():
        locked = CampaignLead.objects.select_for_update().get(pk=lead.pk)
        if locked.approval != CampaignLead.Approval.PENDING:
            raise Conflict("This lead is not waiting for approval.", code="not_pending")
        ApprovalDecision.objects.create(
            campaign_id=locked.campaign_id, lead=locked, decision="approved" if approve else "rejected",
            reason=reason, decided_by=decided_by,
        )  # fmt: skip
        locked.approval = CampaignLead.Approval.APPROVED if approve else CampaignLead.Approval.REJECTED
        fields = ["approval", "updated_at"]
        if not approve and locked.state == CampaignLead.State.PENDING:
            locked.state, locked.skip_reason, locked.note = (
                CampaignLead.State.SKIPPED, CampaignLead.SkipReason.REJECTED, f"Rejected: {reason}"
            )  # fmt: skip
            fields += ["state", "skip_reason", "note"]
        locked.save(update_fields=fields)
    return locked
