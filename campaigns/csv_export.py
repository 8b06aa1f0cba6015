"""A campaign's per-lead results as CSV, streamed (one query read in chunks, flat memory)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from campaigns.models import Campaign, CampaignLead

CHUNK_ROWS = 2000
BOM = "\ufeff"  # Excel reads UTF-8 only with it
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "phone_number", "name", "state", "outcome", "skip_reason", "attempts", "score", "last_call_at", "note",
)  # fmt: skip


FIELDS = (
    "state", "outcome", "skip_reason", "attempts", "score", "last_call_at", "note",
    "customer__phone_number", "customer__name",
)  # fmt: skip


FIELDS = (
    "state", "outcome", "skip_reason", "attempts", "score", "last_call_at", "note",
    "customer__phone_number", "customer__name",
)  # fmt: skip


class _Line:
    def write(self, value: str) -> str:
        return value


def _defused(text: str) -> str:
    """Quote text a spreadsheet would run as a formula (CSV injection): names and notes come from outside."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def campaign_results_csv_lines(*, campaign: Campaign) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(COLUMNS)
    leads = (
        CampaignLead.objects.filter(campaign=campaign).select_related("customer").only(*FIELDS).order_by("-score", "id")
    )
    for lead in leads.iterator(chunk_size=CHUNK_ROWS):
        yield writer.writerow(
            [
                lead.customer.phone_number,
                _defused(lead.customer.name),
                lead.state,
                lead.outcome,
                lead.skip_reason,
                lead.attempts,
                lead.score,
                lead.last_call_at.isoformat() if lead.last_call_at else "",
                _defused(lead.note),
            ]
        )
