"""Define the periodic tasks in code: ``python manage.py setup_periodic_tasks`` (idempotent).

django-celery-beat's database scheduler reads them from its tables, so staff can pause one or
change its interval in the admin (Periodic tasks). Running the command again (``make run`` does
on every start) creates what is missing and brings the task path and description up to date,
but keeps a schedule or the enabled flag staff changed there; ``--reset`` puts the defaults back.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every: int
    period: str
    description: str

    @property
    def expire_seconds(self) -> int:
        # A tick that waited longer than its interval in a queue (no worker running) is dropped;
        # the next tick does the same work, so a backlog of ticks is never worked off.
        seconds = self.every * {IntervalSchedule.SECONDS: 1, IntervalSchedule.MINUTES: 60}[self.period]
        return max(seconds * 2, 30)


PERIODIC_TASKS = (
    Periodic(
        "Place due callbacks", "calls.dispatch_due_callbacks", 15, IntervalSchedule.SECONDS,
        "Claim due callbacks and follow-ups (priority, then time) and place each call once.",
    ),
    Periodic(
        "Close calls left open", "calls.reconcile_stale_calls", 1, IntervalSchedule.MINUTES,
        "Close calls whose end was never reported: as Twilio says, or no-answer on the simulated phone.",
    ),
    Periodic(
        "Learn from call outcomes", "calls.learn_outcomes", 10, IntervalSchedule.MINUTES,
        "Fold new call outcomes into each agent's memory; refresh insights; move agents to optimizing.",
    ),
    Periodic(
        "Send daily reports", "calls.send_daily_reports", 15, IntervalSchedule.MINUTES,
        "Email each client its report once a day, after 09:00 in the client's timezone.",
    ),
    Periodic(
        "Work through running campaigns", "campaigns.dispatch", 15, IntervalSchedule.SECONDS,
        "Claim the best-scored leads that may be called now, within each campaign's and client's pacing.",
    ),
)  # fmt: skip


class Command(BaseCommand):
    help = "Create (or update) the periodic tasks django-celery-beat runs. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Put back the default schedules and enable every task."
        )

    @transaction.atomic
    def handle(self, *args, reset: bool = False, **options):
        for spec in PERIODIC_TASKS:
            schedule, _ = IntervalSchedule.objects.get_or_create(every=spec.every, period=spec.period)
            task, created = PeriodicTask.objects.get_or_create(
                name=spec.name,
                defaults={"task": spec.task, "interval": schedule, "description": spec.description,
                          "expire_seconds": spec.expire_seconds, "enabled": True},
            )  # fmt: skip
            changed = {"task": spec.task, "description": spec.description}
            if reset:
                changed |= {
                    "interval": schedule, "crontab": None, "solar": None, "clocked": None,
                    "expire_seconds": spec.expire_seconds, "enabled": True,
                }  # fmt: skip
            dirty = [name for name, value in changed.items() if getattr(task, name) != value]
            for name in dirty:
                setattr(task, name, changed[name])
            if dirty:
                task.save()
            verb = "created" if created else ("updated" if dirty else "unchanged")
            every = f"every {task.interval.every} {task.interval.period}" if task.interval else "custom schedule"
            state = "" if task.enabled else " (disabled)"
            self.stdout.write(f"{verb:>9}: {spec.name} -> {spec.task}, {every}{state}")
