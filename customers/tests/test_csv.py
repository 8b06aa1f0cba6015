"""CSV import and export: per-line errors, idempotent upsert, encodings, streaming command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import csv_import
from customers.csv_export import customers_csv_lines
from customers.csv_import import CsvFileInvalid, customers_import_csv
from customers.models import CustomerProfile
from customers.selectors import CustomerFilters
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "phone_number,name,email,timezone,interest_level,call_preference_time,notes\n"


def _import(agent, text: str | bytes, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return customers_import_csv(agent=agent, stream=io.BytesIO(data), **kwargs)


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_bad_row_is_reported_with_its_line_and_reason_and_the_rest_is_imported(agent_a):
    report = _import(
        agent_a,
        HEADER
        + "+1 (212) 555-0101,Ava Patel,ava@example.com,,hot,morning,Wants a quote\n"
        + "not-a-number,Liam,,,,,\n"
        + "212.555.0102,Mia,mia@,,,,\n"
        + "+12125550103,Noah,,Mars/Olympus,,,\n"
        + "+12125550104,Zoe,,,lukewarm,,\n"
        + "+12125550105,Ethan,,,,,\n",
    )

    assert (report.created, report.updated, report.unchanged, report.error_count) == (2, 0, 0, 4)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "'not-a-number' is not a phone number. Use the international format, e.g. +14155550123."),
        (4, "'mia@' is not an email address"),
        (5, "'Mars/Olympus' is not a known timezone (use an IANA name like America/New_York)"),
        (6, "'lukewarm' is not an interest level (cold, warm, hot, converted)"),
    ]
    ava = CustomerProfile.objects.get(ai_agent=agent_a, phone_number="+12125550101")
    assert (ava.name, ava.email, ava.interest_level, ava.call_preference_time) == (
        "Ava Patel",
        "ava@example.com",
        "hot",
        "morning",
    )
    assert ava.timezone == "America/New_York"  # the number pins it down
    assert [n["text"] for n in ava.conversation_notes] == ["Wants a quote"]
    assert CustomerProfile.objects.filter(ai_agent=agent_a).count() == 2


def test_reimporting_the_same_file_changes_nothing_and_writes_nothing(agent_a):
    text = HEADER + "+12125550101,Ava,ava@example.com,Europe/London,converted,evening,Called twice\n"
    text += "+12125550102,Liam,,,,,\n"
    _import(agent_a, text)
    before = {c.pk: c.updated_at for c in CustomerProfile.objects.filter(ai_agent=agent_a)}

    with time_machine.travel(timezone.now() + timedelta(hours=1)), CaptureQueriesContext(connection) as queries:
        report = _import(agent_a, text)

    assert (report.created, report.updated, report.unchanged, report.error_count) == (0, 0, 2, 0)
    assert _writes(queries.captured_queries) == []
    assert {c.pk: c.updated_at for c in CustomerProfile.objects.filter(ai_agent=agent_a)} == before
    ava = CustomerProfile.objects.get(phone_number="+12125550101")
    assert ava.is_converted and len(ava.conversation_notes) == 1


def test_a_changed_row_updates_only_what_it_names_and_blank_cells_keep_values(agent_a):
    customer = CustomerFactory(
        ai_agent=agent_a, phone_number="+12125550101", name="Ava", email="ava@example.com", total_calls=4
    )
    report = _import(agent_a, "phone,interest_level,email\n(212) 555-0101,warm,\n")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.interest_level, customer.total_calls) == (
        "Ava",
        "ava@example.com",
        "warm",
        4,
    )


def test_utf8_bom_semicolons_and_blank_lines_are_read_and_line_numbers_stay_true(agent_a):
    text = "\ufeffPhone Number;Name;Email\r\n\r\n+12125550101;Zoë Müller;zoe@example.com\r\n\r\n;Nobody;\r\n"
    report = _import(agent_a, text)

    assert report.created == 1
    assert [(e.line, e.reason) for e in report.errors] == [(5, "phone_number is empty")]
    assert CustomerProfile.objects.get(ai_agent=agent_a).name == "Zoë Müller"


def test_a_windows_spreadsheet_file_in_cp1252_is_read(agent_a):
    report = _import(agent_a, "phone,name\n+12125550101,José Peña\n".encode("cp1252"))

    assert report.created == 1
    assert CustomerProfile.objects.get(ai_agent=agent_a).name == "José Peña"


def test_quoted_cells_with_commas_and_line_breaks_keep_the_next_rows_line(agent_a):
    text = HEADER + '+12125550101,"Patel, Ava",,,,,"line one\nline two"\n+12125550102,,,,nope,,\n'
    report = _import(agent_a, text)

    assert report.created == 1
    assert [(e.line, e.reason) for e in report.errors] == [
        (4, "'nope' is not an interest level (cold, warm, hot, converted)")
    ]
    assert CustomerProfile.objects.get(ai_agent=agent_a).name == "Patel, Ava"


def test_a_stray_quote_is_reported_on_its_line_not_merged_into_other_rows(agent_a):
    text = 'phone,name\n+12125550101,"Ava" Patel\n+12125550102,Liam\n+12125550103,"Mia\n+12125550104,Noah\n'
    report = _import(agent_a, text)

    assert report.created == 1
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "a quoted cell has text after its closing quote; quote the whole cell"),
        (4, "a quote opened on this line is never closed, so the rest of the file was read as one cell"),
    ]


def test_broken_bytes_in_a_utf8_file_fail_only_their_row(agent_a):
    data = "phone,name\n+12125550101,Zoë\n".encode() + b"+12125550102,Bad\xff\n"
    report = _import(agent_a, data)

    assert CustomerProfile.objects.get(ai_agent=agent_a).name == "Zoë"
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "contains characters that could not be read; save the file as UTF-8")
    ]


def test_a_row_with_more_values_than_the_header_is_refused(agent_a):
    report = _import(agent_a, "phone,name\n+12125550101,Ava,surprise\n+12125550102,Liam,\n")

    assert report.created == 1  # a trailing empty cell (Excel's habit) is fine
    assert [(e.line, e.reason) for e in report.errors] == [(2, "has 3 values but the header has 2 columns")]


def test_a_number_twice_in_one_file_is_reported_on_its_second_line(agent_a, monkeypatch):
    monkeypatch.setattr(csv_import._NumbersSeen, "FLUSH_AT", 2)  # exercise the sorted arrays too
    rows = [f"+1212555{n:04d},Person {n}\n" for n in range(101, 108)]
    text = "phone,name\n" + "".join(rows) + "(212) 555-0102,Again\n"
    report = _import(agent_a, text, batch_size=3)

    assert report.created == 7
    assert [(e.line, e.reason) for e in report.errors] == [(9, "+12125550102 is already on line 3; one row per number")]
    assert CustomerProfile.objects.get(phone_number="+12125550102").name == "Person 102"


def test_a_file_without_a_phone_column_is_refused_as_a_whole(agent_a):
    with pytest.raises(CsvFileInvalid, match=r"no phone_number \(or phone\) column\. Found: name, email"):
        _import(agent_a, "name,email\nAva,ava@example.com\n")
    with pytest.raises(CsvFileInvalid, match="empty"):
        _import(agent_a, "\n\n")
    with pytest.raises(CsvFileInvalid, match="not a text file"):
        _import(agent_a, b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert not CustomerProfile.objects.exists()


def test_unknown_columns_are_listed_as_ignored(agent_a):
    report = _import(agent_a, "phone,company\n+12125550101,Acme\n")

    assert report.created == 1
    assert report.ignored_columns == ["company"]


def test_queries_per_batch_do_not_grow_with_rows(agent_a):
    def count(first: int, rows: int) -> int:
        text = "phone,name\n" + "".join(f"+1212555{n:04d},P{n}\n" for n in range(first, first + rows))
        with CaptureQueriesContext(connection) as queries:
            report = _import(agent_a, text, batch_size=100)
        assert report.created == rows
        return len(queries.captured_queries)

    assert count(1000, 3) == count(2000, 40)


def test_each_batch_is_reported_to_the_progress_callback(agent_a):
    seen = []
    text = "phone\n" + "".join(f"+1212555{n:04d}\n" for n in range(1000, 1025))
    _import(agent_a, text, batch_size=10, progress=seen.append)

    assert [p.rows for p in seen] == [10, 20, 25]
    assert seen[-1].created == 25


def test_an_export_reimports_with_no_change(agent_a, agent_b):
    CustomerFactory(
        ai_agent=agent_a,
        phone_number="+12125550101",
        name='=HYPERLINK("http://evil")',
        email="ava@example.com",
        interest_level="hot",
        conversation_notes=[{"text": "first"}, {"text": "second"}],
    )
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550102", name="Liam", timezone="")
    CustomerFactory(ai_agent=agent_b, phone_number="+12125550103", name="Not yours")

    exported = "".join(customers_csv_lines(agent=agent_a))
    assert exported.startswith("\ufeffphone_number,name,email,timezone,interest_level,call_preference_time,notes")
    assert "'=HYPERLINK" in exported  # a spreadsheet must not run it
    assert "Not yours" not in exported

    report = _import(agent_a, exported)
    assert (report.created, report.updated, report.unchanged, report.error_count) == (0, 0, 2, 0)


def test_the_export_follows_the_list_filters_in_one_query(agent_a, django_assert_num_queries):
    CustomerFactory.create_batch(3, ai_agent=agent_a, interest_level="hot")
    CustomerFactory.create_batch(2, ai_agent=agent_a, interest_level="cold")

    with django_assert_num_queries(1):
        lines = list(customers_csv_lines(agent=agent_a, filters=CustomerFilters(interest_level="hot")))
    assert len(lines) == 1 + 3


# --- the management command ----------------------------------------------------------------


def test_the_command_imports_a_large_file_with_a_progress_bar(agent_a, tmp_path):
    path = tmp_path / "leads.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(5000):
            out.write(f"+1212555{n:04d},Lead {n},lead{n}@example.com,,warm,afternoon,Imported lead {n}\n")
        out.write("+1555,Broken,,,,,\n")
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("import_customers", str(path), "--client", "acme-solar", "--batch-size", "1000", stdout=stdout,
                 stderr=stderr)  # fmt: skip

    assert CustomerProfile.objects.filter(ai_agent=agent_a).count() == 5000
    assert "Created 5000, updated 0, unchanged 0, errors 1." in stdout.getvalue()
    progress = stderr.getvalue()
    assert "leads.csv: 100%" in progress
    assert "rows=" in progress
    assert "line 5002: '+1555' is not a valid phone number" in progress

    stdout = io.StringIO()
    call_command("import_customers", str(path), "--client", "acme-solar", stdout=stdout, stderr=io.StringIO())
    assert "Created 0, updated 0, unchanged 5000, errors 1." in stdout.getvalue()


def test_the_command_explains_what_is_wrong(agent_a, client_b, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("name\nAva\n")
    with pytest.raises(CommandError, match="No client with the slug 'nope'"):
        call_command("import_customers", str(path), "--client", "nope")
    with pytest.raises(CommandError, match="no AI agent yet"):
        call_command("import_customers", str(path), "--client", client_b.slug)
    with pytest.raises(CommandError, match="is not a file"):
        call_command("import_customers", str(tmp_path / "missing.csv"), "--client", "acme-solar")
    with pytest.raises(CommandError, match="no phone_number"):
        call_command("import_customers", str(path), "--client", "acme-solar")


def test_export_then_import_keeps_every_opt_out(api_a, agent_a):
    """The export carries do_not_call, so a backup restored (or a list moved) never calls an opt-out."""
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Ava", is_do_not_call=True)
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550102", name="Liam")
    exported = b"".join(api_a.get("/api/customers/export/").streaming_content)
    assert exported.decode("utf-8-sig").splitlines()[0].endswith(",do_not_call")

    CustomerProfile.objects.filter(ai_agent=agent_a).delete()
    upload = io.BytesIO(exported)
    upload.name = "customers.csv"
    report = api_a.post("/api/customers/import/", {"file": upload}, format="multipart").json()

    assert (report["created"], report["error_count"], report["ignored_columns"]) == (2, 0, [])
    opted_out = dict(CustomerProfile.objects.filter(ai_agent=agent_a).values_list("phone_number", "is_do_not_call"))
    assert opted_out == {"+12125550101": True, "+12125550102": False}


def test_an_import_marks_opt_outs_and_never_clears_one(agent_a):
    """'yes' opts a customer out; 'no' or a blank cell leaves an opt-out alone (it is undone on purpose only)."""
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", is_do_not_call=True)
    report = _import(
        agent_a,
        "phone_number,do_not_call\n+12125550101,no\n+12125550102,Yes\n+12125550103,\n+12125550104,maybe\n",
    )
    assert (report.created, report.unchanged, report.error_count) == (2, 1, 1)
    assert "'maybe' is not a do_not_call value (yes or no)" in report.errors[0].reason
    opted_out = dict(CustomerProfile.objects.filter(ai_agent=agent_a).values_list("phone_number", "is_do_not_call"))
    assert opted_out == {"+12125550101": True, "+12125550102": True, "+12125550103": False}
