"""Import a leads file (CSV) into an agent's customers: upsert by phone number, row by row.

The API (size-limited upload), the ``import_customers`` command (any size, progress bar) and
the dashboard's import jobs all go through this one importer, so a file imports the same way
by every door. The rules a person relies on are in :func:`customers_import`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from itertools import islice
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from agents.models import AIAgent
from core.errors import DomainError, ValidationFailed
from core.phone import normalize_e164, timezone_for_number
from core.timezones import is_timezone_name
from customers.level_counts import customer_level_counts_sync
from customers.models import CustomerProfile
from customers.services import customer_note, customer_opt_out, notes_appended

COLUMNS = (
    "phone_number", "name", "email", "timezone", "interest_level", "call_preference_time", "notes", "do_not_call",
)  # fmt: skip
# do_not_call: "yes" opts the customer out; "no" or blank keeps what is stored. An import never
# clears an opt-out (an old file must not make a customer callable again): that is done on purpose,
# one customer at a time, on the dashboard or the API.
DO_NOT_CALL_YES = frozenset({"yes", "y", "true", "1"})
DO_NOT_CALL_NO = frozenset({"no", "n", "false", "0"})
COLUMN_ALIASES = {"phone": "phone_number", "phonenumber": "phone_number", "note": "notes"}
BATCH_SIZE = 500  # rows per transaction; 500 numbers fit SQLite's 999 query parameters
MAX_REPORTED_ERRORS = 1000  # the count keeps going; the list stops, so a broken file cannot exhaust memory
SAMPLE_BYTES = 64 * 1024
NOTE_SOURCE = "import"
# A spreadsheet runs a cell that starts like a formula; exports defuse those with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvFileInvalid(DomainError):
    """The file as a whole cannot be imported (no phone column, empty, not text)."""

    status = 422  # any bytes fit the schema's "binary"; that they must be CSV text is our rule
    code = "invalid_csv"


@dataclass(frozen=True)
class CsvRow:
    """One record of the file: its first line (header = 1) and its cells by column name.

    ``error`` is set when the reader already knows the row is unusable (too many cells,
    bytes that are not text), so the report can say so at the right line.
    """

    line: int
    values: dict[str, str]
    error: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True)
class ImportProgress:
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: int


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.error_count

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    def add_error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line=line, reason=reason))

    def progress(self) -> ImportProgress:
        return ImportProgress(
            rows=self.rows,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            errors=self.error_count,
        )


class RowInvalid(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- reading the file -------------------------------------------------------------------


def _detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without a BOM) unless the bytes say otherwise.

    Excel on Windows saves "CSV" in cp1252 and "Unicode text" in UTF-16 with a BOM; both
    are read rather than refused.
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end == len(sample) and exc.reason == "unexpected end of data":
            return "utf-8-sig"  # a character cut in half by the end of the sample
        decoded = sample.decode("utf-8", errors="replace")
        if any(ord(ch) > 127 and ch != "\ufffd" for ch in decoded):
            # Real UTF-8 text with a few broken bytes: read it as UTF-8 and let those rows
            # be reported, rather than turn every "é" in the file into "Ã©".
            return "utf-8-sig"
        return "cp1252"
    return "utf-8-sig"


def _column_name(raw: str) -> str:
    name = re.sub(r"[\s\-]+", "_", raw.strip().strip("\ufeff").lower())
    return COLUMN_ALIASES.get(name, name)


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _detect_delimiter(sample: str) -> str:
    """Comma, semicolon (European Excel), tab or pipe: the one that yields a phone column.

    ``csv.Sniffer`` guesses from the whole sample; its guess is kept only when the header
    split by it names a phone column, since a comma inside a quoted name can fool it.
    """
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    candidates = ",;\t|"
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=candidates).delimiter
    except csv.Error:
        sniffed = None
    for delimiter in ([sniffed] if sniffed else []) + list(candidates):
        if "phone_number" in {_column_name(cell) for cell in _split(header, delimiter)}:
            return delimiter
    return sniffed or ","


def read_customer_csv(stream: BinaryIO) -> tuple[list[str], Iterator[CsvRow]]:
    """Open a leads file: its ignored column names and a lazy iterator of its rows.

    ``stream`` is binary and seekable (an upload or an open file). The header is read here
    so a file without a phone column is refused before any row is looked at.
    """
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not sample.strip():
        raise CsvFileInvalid("The file is empty.")
    if b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CsvFileInvalid("This is not a text file. Export the spreadsheet as CSV (UTF-8) and upload that.")
    encoding = _detect_encoding(sample)
    delimiter = _detect_delimiter(sample.decode(encoding, errors="replace"))
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    # strict: a stray quote is reported on its line instead of silently merging rows.
    reader = csv.reader(text, delimiter=delimiter, strict=True)

    header: list[str] = []
    last_line = 0
    try:
        for record in reader:
            last_line = reader.line_num
            if any(cell.strip() for cell in record):
                header = [_column_name(cell) for cell in record]
                break
    except csv.Error as exc:
        text.detach()
        raise CsvFileInvalid(f"The header cannot be read as CSV ({exc}).") from None
    if "phone_number" not in header:
        text.detach()
        found = ", ".join(name for name in header if name) or "nothing"
        raise CsvFileInvalid(
            f"The header has no phone_number (or phone) column. Found: {found}. Columns we read: {', '.join(COLUMNS)}."
        )
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in COLUMNS:
            if name in positions:
                text.detach()
                raise CsvFileInvalid(
                    f"The header names {name} twice (columns {positions[name] + 1} and {index + 1}); keep one."
                )
            positions[name] = index
    ignored = [name for name in header if name and name not in COLUMNS]
    return ignored, _rows(reader, text, header_width=len(header), positions=positions, after_line=last_line)


def check_customer_csv(stream: BinaryIO) -> list[str]:
    """Refuse a file whose header cannot be imported (CsvFileInvalid); its ignored columns.

    Only the header and the first row are read, and ``stream`` is left open at its start.
    The row iterator is started before it is closed: an iterator never started would leave
    its text wrapper attached, and that wrapper closes the stream when it is collected.
    """
    ignored, rows = read_customer_csv(stream)
    try:
        next(rows, None)
    finally:
        rows.close()
    stream.seek(0)
    return ignored


def _rows(reader, text: io.TextIOWrapper, *, header_width: int, positions: dict[str, int], after_line: int):
    """The records after the header, skipping blank lines, each with its first line number.

    ``reader.line_num`` counts physical lines, so a quoted cell spanning lines still puts
    the next row at its true line. The text wrapper is detached at the end so the caller's
    stream stays open (an upload is closed by Django, a file by the command).
    """
    previous = after_line
    try:
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if reader.line_num == previous:
                    raise CsvFileInvalid(f"Line {previous + 1} cannot be read as CSV ({exc}).") from None
                yield CsvRow(line=previous + 1, values={}, error=_csv_problem(exc))
                previous = reader.line_num
                continue
            line, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            values = {name: (record[i].strip() if i < len(record) else "") for name, i in positions.items()}
            error = None
            if any(cell.strip() for cell in record[header_width:]):
                error = f"has {len(record)} values but the header has {header_width} columns"
            elif any("\ufffd" in cell for cell in record):
                error = "contains characters that could not be read; save the file as UTF-8"
            yield CsvRow(line=line, values=values, error=error)
    finally:
        text.detach()


def _csv_problem(exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return "a quote opened on this line is never closed, so the rest of the file was read as one cell"
    if "expected after" in str(exc):
        return "a quoted cell has text after its closing quote; quote the whole cell"
    return f"cannot be read as CSV ({exc})"


# --- checking a row ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """A valid row; None means "the cell was blank: keep what is stored"."""

    phone: str
    name: str | None
    email: str | None
    timezone: str | None
    interest_level: str | None
    call_preference_time: str | None
    note: str | None
    do_not_call: bool = False


def _cell(values: dict[str, str], name: str) -> str | None:
    value = values.get(name, "").strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        value = value[1:]  # undo the quote our export puts before formula-like text
    return value or None


def _parse(values: dict[str, str]) -> _Parsed:
    raw_phone = _cell(values, "phone_number")
    if raw_phone is None:
        raise RowInvalid("phone_number is empty")
    try:
        phone = normalize_e164(raw_phone)
    except ValidationFailed as exc:
        raise RowInvalid(exc.message) from None

    name = _cell(values, "name")
    if name is not None and len(name) > CustomerProfile._meta.get_field("name").max_length:
        raise RowInvalid("name is longer than 200 characters")

    email = _cell(values, "email")
    if email is not None:
        try:
            validate_email(email)
        except ValidationError:
            raise RowInvalid(f"'{email}' is not an email address") from None

    zone = _cell(values, "timezone")
    if zone is not None and not is_timezone_name(zone):
        raise RowInvalid(f"'{zone}' is not a known timezone (use an IANA name like America/New_York)")

    level = _cell(values, "interest_level")
    if level is not None:
        level = level.lower()
        if level not in CustomerProfile.InterestLevel.values:
            raise RowInvalid(f"'{level}' is not an interest level (cold, warm, hot, converted)")

    preference = _cell(values, "call_preference_time")
    if preference is not None:
        preference = preference.lower()
        preference = "" if preference == "any" else preference
        if preference not in CustomerProfile.PreferredTime.values:
            raise RowInvalid(f"'{preference}' is not a call preference time (morning, afternoon, evening or any)")

    opt_out = (_cell(values, "do_not_call") or "no").lower()
    if opt_out not in DO_NOT_CALL_YES | DO_NOT_CALL_NO:
        raise RowInvalid(f"'{opt_out}' is not a do_not_call value (yes or no)")

    return _Parsed(
        phone=phone,
        name=name,
        email=email,
        timezone=zone,
        interest_level=level,
        call_preference_time=preference,
        note=_cell(values, "notes"),
        do_not_call=opt_out in DO_NOT_CALL_YES,
    )


class _NumbersSeen:
    """The numbers earlier rows of this file had, and their lines, in about 16 bytes each.

    A number twice in one file is reported on its second line rather than silently applied
    twice (which would make a re-import write again). The file may be bigger than memory, so
    the numbers are not kept as strings: recent ones sit in a dict, older ones in sorted
    arrays of integers (E.164 without the '+' is an integer), merged like a binary counter
    so a lookup bisects at most log2(n / FLUSH_AT) arrays.
    """

    FLUSH_AT = 50_000

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}
        self._runs: list[tuple[array, array]] = []

    def first_line(self, phone: str, line: int) -> int | None:
        """The line the number was first on, or None (and remember ``line``) if it is new."""
        key = int(phone[1:])
        if key in self._recent:
            return self._recent[key]
        for keys, lines in self._runs:
            index = bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                return lines[index]
        self._recent[key] = line
        if len(self._recent) >= self.FLUSH_AT:
            self._flush()
        return None

    def _flush(self) -> None:
        items = sorted(self._recent.items())
        self._recent = {}
        run = (array("q", (k for k, _ in items)), array("q", (v for _, v in items)))
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            older = self._runs.pop()
            pairs = list(merge(zip(*older, strict=True), zip(*run, strict=True)))
            run = (array("q", (k for k, _ in pairs)), array("q", (v for _, v in pairs)))
        self._runs.append(run)


# --- writing ----------------------------------------------------------------------------


def _note_known(customer: CustomerProfile, note: str) -> bool:
    """A note already stored (alone, or as the export's joined notes) is not added again."""
    texts = [n.get("text", "") for n in customer.conversation_notes or [] if isinstance(n, dict)]
    return note in texts or note == "\n".join(texts)


def _apply(customer: CustomerProfile, row: _Parsed, now: datetime) -> set[str]:
    """Copy the row's non-blank cells onto ``customer``; the names of the fields that changed."""
    changed: set[str] = set()
    for name in ("name", "email", "timezone", "call_preference_time"):
        value = getattr(row, name)
        if value is not None and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.add(name)
    if row.interest_level is not None and customer.interest_level != row.interest_level:
        customer.interest_level = row.interest_level
        customer.is_converted = row.interest_level == CustomerProfile.InterestLevel.CONVERTED
        changed |= {"interest_level", "is_converted"}
    if row.note is not None and not _note_known(customer, row.note):
        note = customer_note(text=row.note, source=NOTE_SOURCE, at=now)
        customer.conversation_notes = notes_appended(customer.conversation_notes, note)
        changed.add("conversation_notes")
    return changed


def _new(agent: AIAgent, row: _Parsed, now: datetime) -> CustomerProfile:
    level = row.interest_level or CustomerProfile.InterestLevel.COLD
    return CustomerProfile(
        ai_agent=agent,
        phone_number=row.phone,
        name=row.name or "",
        email=row.email or "",
        timezone=row.timezone or timezone_for_number(row.phone),
        interest_level=level,
        is_converted=level == CustomerProfile.InterestLevel.CONVERTED,
        call_preference_time=row.call_preference_time or "",
        is_do_not_call=row.do_not_call,
        conversation_notes=[customer_note(text=row.note, source=NOTE_SOURCE, at=now)] if row.note else [],
        created_at=now,
        updated_at=now,
    )


@dataclass
class _BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _write_batch(agent: AIAgent, rows: list[_Parsed]) -> _BatchOutcome:
    """Upsert one batch in one transaction: 1 SELECT, then bulk INSERT and bulk UPDATE, then
    :func:`customer_opt_out` for each existing customer the file opts out (it cancels their callbacks).

    Rows that match what is stored are not written at all, so ``updated_at`` only moves
    when something really changed.
    """
    outcome = _BatchOutcome()
    now = dj_timezone.now()
    with transaction.atomic():
        existing = {
            c.phone_number: c
            for c in CustomerProfile.objects.filter(ai_agent=agent, phone_number__in=[r.phone for r in rows])
        }
        to_create: list[CustomerProfile] = []
        to_update: list[CustomerProfile] = []
        opting_out: list[CustomerProfile] = []
        fields: set[str] = set()
        for row in rows:
            customer = existing.get(row.phone)
            if customer is None:
                to_create.append(_new(agent, row, now))
                outcome.created += 1
                continue
            # Opting out also cancels the customer's callbacks: customer_opt_out does it, below.
            opts_out = row.do_not_call and not customer.is_do_not_call
            if opts_out:
                opting_out.append(customer)
            changed = _apply(customer, row, now)
            if changed:
                customer.updated_at = now
                to_update.append(customer)
                fields |= changed
            if changed or opts_out:
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        if to_create:
            CustomerProfile.objects.bulk_create(to_create)
        if to_update:
            CustomerProfile.objects.bulk_update(to_update, [*sorted(fields), "updated_at"])
        customer_level_counts_sync(customer_ids=[c.pk for c in (*to_create, *to_update)])
        for customer in opting_out:  # the few rows that opt someone out, one by one
            customer_opt_out(customer=customer, reason="Opted out in an imported file.")
    return outcome


def customers_import(
    *,
    agent: AIAgent,
    rows: Iterable[CsvRow],
    progress: Callable[[ImportProgress], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Upsert ``rows`` into ``agent``'s customers by phone number; a report of every row.

    Each batch is checked first (bad rows become errors with their line) and the good rows
    are written in one transaction, so a bad row never blocks a good one and a failure
    leaves no half-written batch. A batch that collides with a customer created at the same
    moment elsewhere (a caller ringing in) is retried once against the new state.
    ``progress`` is called after every batch.

    The rules a person relies on: every bad row is reported with its line (the header is line 1)
    and a reason; a row matches a customer by its E.164 number ("+1 (212) 555-0101" and
    "212.555.0101" are one person, and a number repeated in the file is refused on its second
    line); a blank cell leaves the stored value alone, so importing a
    file twice writes nothing; rows stream in batches with a fixed handful of queries each, so a
    file bigger than memory imports like a small one.
    """
    report = ImportReport()
    seen = _NumbersSeen()
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        good: list[_Parsed] = []
        lines: list[int] = []
        for row in batch:
            if row.error:
                report.add_error(row.line, row.error)
                continue
            try:
                parsed = _parse(row.values)
            except RowInvalid as exc:
                report.add_error(row.line, exc.reason)
                continue
            first = seen.first_line(parsed.phone, row.line)
            if first is not None:
                report.add_error(row.line, f"{parsed.phone} is already on line {first}; one row per number")
                continue
            good.append(parsed)
            lines.append(row.line)
        if good:
            try:
                outcome = _write_batch(agent, good)
            except IntegrityError:
                try:
                    outcome = _write_batch(agent, good)
                except IntegrityError:
                    for line in lines:
                        report.add_error(line, "could not be saved while the same numbers changed elsewhere; retry")
                    outcome = _BatchOutcome()
            report.created += outcome.created
            report.updated += outcome.updated
            report.unchanged += outcome.unchanged
        if progress:
            progress(report.progress())
    return report


def customers_import_csv(
    *,
    agent: AIAgent,
    stream: BinaryIO,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Read a leads file from ``stream`` and import it by the rules of :func:`customers_import`."""
    ignored, rows = read_customer_csv(stream)
    report = customers_import(agent=agent, rows=rows, progress=progress, batch_size=batch_size)
    report.ignored_columns = ignored
    return report
