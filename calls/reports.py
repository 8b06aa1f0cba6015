"""The daily report: each client gets an email at 09:00 its time about its agent's previous day.

It holds the previous local day's calls (by type and outcome), conversions, today's callbacks
due, the overdue ones, and the learned insights. A beat task runs every 15 minutes and asks
:func:`agents_due_for_report` which clients have passed 09:00 today without a report, so a
client is reported on at 09:00-09:15 its time, and a worker that was down at 09:00 catches up
on the next run the same day.

Sent once a day: the date of the last report is kept on the agent (``daily_report_sent_on``),
claimed under the agent's row lock *before* sending, so two runs at once send one email. If
sending fails, the claim is given back and the next run tries again; if the worker dies between
the claim and the send, that day's report is skipped rather than risk sending it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from agents.memory import best_pickup_hours, coerce_memory, learned_insights, top_objections
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession

logger = logging.getLogger(__name__)

REPORT_TIME = time(9, 0)
CALLBACKS_LISTED = 10
Outcome = CallSession.Outcome
ANSWERED_OUTCOMES = (
    Outcome.ANSWERED, Outcome.INTERESTED, Outcome.NOT_INTERESTED, Outcome.CONVERTED,
    Outcome.CALLBACK_REQUESTED, Outcome.DO_NOT_CALL,
)  # fmt: skip


def _zone(agent: AIAgent) -> ZoneInfo:
    return ZoneInfo(agent.client.timezone or "UTC")


def last_sent_on(agent: AIAgent) -> str:
    """The client-local day of the last report sent, ISO; "" for never."""
    sent = agent.daily_report_sent_on
    return sent.isoformat() if sent else ""


def report_due_on(*, agent: AIAgent, now: datetime) -> date | None:
    """The client's local date when its report is due now (09:00 passed, not sent today), else None."""
    local = now.astimezone(_zone(agent))
    if local.time() < REPORT_TIME or last_sent_on(agent) == local.date().isoformat():
        return None
    return local.date()


def agents_due_for_report(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    agents = AIAgent.objects.select_related("client").only("pk", "daily_report_sent_on", "client__timezone")
    return [agent.pk for agent in agents.order_by("pk") if report_due_on(agent=agent, now=now)]


@dataclass(frozen=True)
class CallbackLine:
    when_local: datetime
    when: str  # "14:30", client time (a template's date filter would show the server's zone)
    customer: str
    reason: str
    priority: int
    kind: str


@dataclass(frozen=True)
class DailyReport:
    client_name: str
    agent_name: str
    agent_status: str
    day: date  # the day reported on (yesterday, client time)
    today: date
    calls: int
    inbound: int
    outbound: int
    answered: int
    interested: int
    conversions: int
    outcomes: list[tuple[str, int]]  # (label, calls), most first
    callbacks_due: int
    callbacks: list[CallbackLine]  # the first few due today
    overdue: int
    top_objections: list[dict]
    best_hours: list[dict]
    insights: list[str]

    @property
    def answer_rate(self) -> float:
        return round(100 * self.answered / self.calls, 1) if self.calls else 0.0

    @property
    def conversion_rate(self) -> float:
        return round(100 * self.conversions / self.calls, 1) if self.calls else 0.0


def daily_report_build(*, agent: AIAgent, today: date) -> DailyReport:
    """The report for ``today`` (a client-local date): yesterday's calls, today's callbacks."""
    zone = _zone(agent)
    start_today = datetime.combine(today, time(0), tzinfo=zone)
    start_day = datetime.combine(today - timedelta(days=1), time(0), tzinfo=zone)
    start_tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    calls = CallSession.objects.filter(
        ai_agent=agent, started_at__gte=start_day, started_at__lt=start_today, is_simulation=False
    )
    totals = calls.aggregate(
        calls=Count("pk"),
        inbound=Count("pk", filter=Q(call_type=CallSession.CallType.INBOUND)),
        answered=Count("pk", filter=Q(outcome__in=ANSWERED_OUTCOMES)),
        interested=Count("pk", filter=Q(outcome__in=(Outcome.INTERESTED, Outcome.CONVERTED))),
        conversions=Count("pk", filter=Q(outcome=Outcome.CONVERTED)),
    )
    labels = dict(Outcome.choices)
    outcomes = [
        (labels.get(row["outcome"], row["outcome"] or "Not recorded"), row["n"])
        for row in calls.order_by().values("outcome").annotate(n=Count("pk")).order_by("-n", "outcome")
    ]
    scheduled = ScheduledCallback.objects.filter(ai_agent=agent, status=ScheduledCallback.Status.SCHEDULED)
    due_today = scheduled.filter(scheduled_datetime__gte=start_today, scheduled_datetime__lt=start_tomorrow)
    lines = [
        CallbackLine(
            when_local=cb.scheduled_datetime.astimezone(zone),
            when=f"{cb.scheduled_datetime.astimezone(zone):%H:%M}",
            customer=cb.customer_profile.name or cb.customer_profile.phone_number,
            reason=cb.reason,
            priority=cb.priority_level,
            kind=cb.get_kind_display(),
        )
        for cb in due_today.select_related("customer_profile").order_by("scheduled_datetime", "priority_level")[
            :CALLBACKS_LISTED
        ]
    ]
    memory = coerce_memory(agent.conversation_memory)
    return DailyReport(
        client_name=agent.client.name,
        agent_name=agent.name,
        agent_status=agent.get_status_display(),
        day=today - timedelta(days=1),
        today=today,
        calls=totals["calls"],
        inbound=totals["inbound"],
        outbound=totals["calls"] - totals["inbound"],
        answered=totals["answered"],
        interested=totals["interested"],
        conversions=totals["conversions"],
        outcomes=outcomes,
        callbacks_due=due_today.count(),
        callbacks=lines,
        overdue=scheduled.filter(scheduled_datetime__lt=timezone.now()).count(),
        top_objections=top_objections(memory, limit=3),
        best_hours=best_pickup_hours(memory),
        insights=memory.get("insights") or learned_insights(memory, today=today),
    )


def _recipients(agent: AIAgent) -> list[str]:
    return sorted(agent.client.users.filter(is_active=True).exclude(email="").values_list("email", flat=True))


def daily_report_message(*, report: DailyReport, to: list[str]) -> EmailMultiAlternatives:
    context = {"report": report, "dashboard_url": f"{settings.PUBLIC_BASE_URL}/"}
    subject = f"{report.client_name}: {report.agent_name}'s day, {dateformat.format(report.day, 'D j M Y')}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/daily_report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string("emails/daily_report.html", context), "text/html")
    return message


def _set_last_sent(agent_id: int, *, value: str, only_if: str | None = None) -> bool:
    """Write the sent date under the agent's row lock; with ``only_if``, only when it still holds that."""
    with transaction.atomic():
        locked = AIAgent.objects.select_for_update(of=("self",)).get(pk=agent_id)
        current = last_sent_on(locked)
        if only_if is not None and current != only_if:
            return False
        if only_if is None and current == value:
            return False  # someone else sent today's
        locked.daily_report_sent_on = date.fromisoformat(value) if value else None
        locked.save(update_fields=["daily_report_sent_on", "updated_at"])
    return True


def daily_report_send(*, agent_id: int, now: datetime | None = None) -> bool:
    """Send the client's report if it is due and not sent today; returns whether an email went out."""
    now = now or timezone.now()
    agent = AIAgent.objects.select_related("client").get(pk=agent_id)
    today = report_due_on(agent=agent, now=now)
    if today is None:
        return False
    previous = last_sent_on(agent)
    if not _set_last_sent(agent_id, value=today.isoformat()):
        return False
    to = _recipients(agent)
    if not to:
        logger.info("No one to send %s's daily report to", agent.client)
        return False
    try:
        daily_report_message(report=daily_report_build(agent=agent, today=today), to=to).send()
    except Exception:
        # Give the day back so the next run tries again (only if no one has moved it since).
        _set_last_sent(agent_id, value=previous, only_if=today.isoformat())
        raise
    return True
