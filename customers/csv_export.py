"""Export an agent's customers as a leads file the importer reads back unchanged.

Same columns as the import, so export -> edit in a spreadsheet -> import is a round trip:
re-importing an untouched export reports every row unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from agents.models import AIAgent
from customers.csv_import import COLUMNS, FORMULA_STARTS
from customers.models import CustomerProfile
from customers.selectors import CustomerFilters, customer_list

CHUNK_ROWS = 2000  # rows fetched per round trip of the single streaming query
BOM = "\ufeff"  # Excel reads UTF-8 only with it; the importer accepts it


class _Line:
    """A file-like target for ``csv.writer`` that hands back each written line."""

    def write(self, value: str) -> str:
        return value


def _defused(text: str) -> str:
    """Quote text a spreadsheet would run as a formula (CSV injection); names come from callers."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _notes_text(notes) -> str:
    if not isinstance(notes, list):
        return ""
    return "\n".join(n.get("text", "") for n in notes if isinstance(n, dict) and n.get("text"))


def customer_csv_row(customer: CustomerProfile) -> list[str]:
    return [
        customer.phone_number,
        _defused(customer.name),
        _defused(customer.email),
        customer.timezone,
        customer.interest_level,
        customer.call_preference_time,
        _defused(_notes_text(customer.conversation_notes)),
        "yes" if customer.is_do_not_call else "no",
    ]


def customers_csv_lines(*, agent: AIAgent, filters: CustomerFilters | None = None) -> Iterator[str]:
    """The CSV as an iterator of lines, for ``StreamingHttpResponse``.

    One query, read in chunks (a server-side cursor on PostgreSQL), so memory stays flat
    and the number of queries does not grow with the number of customers.
    """
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(COLUMNS)
    queryset = customer_list(agent=agent, filters=filters).only(
        "id", "phone_number", "name", "email", "timezone", "interest_level", "call_preference_time",
        "conversation_notes", "is_do_not_call",
    )  # fmt: skip
    for customer in queryset.iterator(chunk_size=CHUNK_ROWS):
        yield writer.writerow(customer_csv_row(customer))
