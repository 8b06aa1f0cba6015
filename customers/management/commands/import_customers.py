"""``manage.py import_customers --client <slug> leads.csv``: import a leads file of any size.

The API refuses uploads over 5 MB; this reads the file from disk as a stream, in batches,
with a progress bar over the bytes read, so a file of gigabytes needs no more memory than
a small one. The rules (upsert by number, blank cells keep values, per-line errors) are the
API's, because both call :func:`customers.csv_import.customers_import_csv`.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Client
from agents.selectors import agent_for_client
from core.errors import DomainError
from customers.csv_import import BATCH_SIZE, ImportProgress, customers_import_csv

SHOWN_ERRORS = 50


class _ToOutput:
    """Lets tqdm draw on the command's stderr (Django's wrapper would end every redraw with a newline)."""

    def __init__(self, output):
        self._output = output

    def write(self, text: str) -> None:
        self._output.write(text, ending="")

    def flush(self) -> None:
        self._output.flush()


class Command(BaseCommand):
    help = "Import customers (leads) from a CSV file into a client's agent: upsert by phone number."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="CSV file: phone_number (or phone), name, email, timezone, ...")
        parser.add_argument("--client", required=True, help="The client's slug.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per transaction.")

    def handle(self, *args, path: Path, client: str, batch_size: int, verbosity: int, **options):
        tenant = Client.objects.filter(slug=client).first()
        if tenant is None:
            raise CommandError(f"No client with the slug '{client}'.")
        try:
            agent = agent_for_client(client=tenant)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        with (
            path.open("rb") as stream,
            tqdm(
                total=path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc=path.name,
                file=_ToOutput(self.stderr),
                disable=verbosity == 0,
                mininterval=0.5,
            ) as bar,
        ):

            def progress(done: ImportProgress) -> None:
                bar.update(stream.tell() - bar.n)
                bar.set_postfix(rows=done.rows, errors=done.errors, refresh=False)

            try:
                report = customers_import_csv(agent=agent, stream=stream, progress=progress, batch_size=batch_size)
            except DomainError as exc:
                raise CommandError(exc.message) from None
            bar.update(bar.total - bar.n)

        for error in report.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"line {error.line}: {error.reason}")
        if report.error_count > SHOWN_ERRORS:
            self.stderr.write(f"... and {report.error_count - SHOWN_ERRORS} more bad rows.")
        if report.ignored_columns:
            self.stderr.write(f"Ignored columns: {', '.join(report.ignored_columns)}")
        self.stdout.write(
            f"Created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
            f"errors {report.error_count}.",
            self.style.SUCCESS if not report.error_count else self.style.WARNING,
        )
