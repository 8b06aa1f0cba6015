"""Place due callbacks now, in this process: ``python manage.py dispatch_callbacks``.

The beat task does this every 15 s through the workers; the command is for a one-off run (no
worker running, or to watch what the dispatcher does) and is safe next to running workers. It
runs the same tick and places each claim as the task would (``calls.dispatch.callback_place``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calls.dispatch import callbacks_dispatch_due


class Command(BaseCommand):
    help = "Claim due callbacks and follow-ups and place their calls now (in this process)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=50, help="Callbacks claimed per query.")
        parser.add_argument("--max", dest="max_claims", type=int, default=None, help="Stop after this many claims.")

    def handle(self, *args, batch: int, max_claims: int | None, **options):
        report = callbacks_dispatch_due(batch=max(1, batch), max_claims=max_claims)
        summary = report.as_dict()
        self.stdout.write(
            f"overdue flagged {summary['overdue_flagged']}, missed (no attempts left) {summary['exhausted']}, "
            f"reclaimed {summary['reclaimed']}, claimed {summary['claimed']}"
        )
        for result, count in sorted(summary["results"].items()):
            self.stdout.write(f"  {result}: {count}")
        for placement in report.placements:
            if placement.detail and options["verbosity"] > 1:
                self.stdout.write(f"  {placement.callback_id} {placement.result}: {placement.detail}")
