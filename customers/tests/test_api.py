"""Customers API: every endpoint's happy path, validation, 401, and cross-tenant 404 with no side effect."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers import api as customers_api
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST_PATHS = ["/api/customers/", "/api/dashboard/ai-agent/customers/"]
MISSING = "00000000-0000-4000-8000-000000000000"
LONG_EMAIL = "dana@" + ".".join(["b" * 60] * 5) + ".com"
HUGE_PREFERENCES = {"contact": "x" * 5000}
MANY_PREFERENCES = {f"k{n}": "v" for n in range(51)}


def _error(response, status: int, message: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    if message is not None:
        assert message in body["message"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def _snapshot(agent) -> list[tuple]:
    """Everything of a tenant's customers a cross-tenant request could change."""
    return list(
        CustomerProfile.objects.filter(ai_agent=agent)
        .order_by("pk")
        .values_list("pk", "phone_number", "name", "email", "interest_level", "is_do_not_call", "updated_at")
    )


@pytest.fixture
def anon():
    return APIClient()


# --- list (and the seed's dashboard path) -----------------------------------------------


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_filters_like_the_seed_asks(api_a, agent_a, path):
    hot = CustomerFactory(ai_agent=agent_a, interest_level="hot", name="Hot Ava")
    CustomerFactory(ai_agent=agent_a, interest_level="converted", is_converted=True)
    CustomerFactory(ai_agent=agent_a, interest_level="cold")

    response = api_a.get(path, {"interest_level": "hot", "converted": "false"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == str(hot.pk)
    assert (row["name"], row["interest_level"], row["is_converted"], row["is_do_not_call"]) == (
        "Hot Ava",
        "hot",
        False,
        False,
    )


def test_the_list_searches_orders_and_pages(api_a, agent_a):
    CustomerFactory(ai_agent=agent_a, name="Zed", phone_number="+12125550199")
    CustomerFactory(ai_agent=agent_a, name="Amy", email="amy@example.com")
    CustomerFactory(ai_agent=agent_a, name="Bob", is_do_not_call=True)

    assert [r["name"] for r in api_a.get("/api/customers/", {"search": "(212) 555-0199"}).json()["results"]] == ["Zed"]
    assert [r["name"] for r in api_a.get("/api/customers/", {"search": "amy@"}).json()["results"]] == ["Amy"]
    assert [r["name"] for r in api_a.get("/api/customers/", {"do_not_call": "true"}).json()["results"]] == ["Bob"]
    page = api_a.get("/api/customers/", {"ordering": "name", "page_size": 2}).json()
    assert [r["name"] for r in page["results"]] == ["Amy", "Bob"]
    assert page["count"] == 3
    assert "page=2" in page["next"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interest_level": "lukewarm"}, 'interest_level: "lukewarm" is not a valid choice.'),
        ({"converted": "maybe"}, "converted: Must be a valid boolean."),
        ({"ordering": "password"}, 'ordering: "password" is not a valid choice.'),
    ],
)
def test_the_list_refuses_bad_filters_with_a_message(api_a, agent_a, params, message):
    _error(api_a.get("/api/customers/", params), 400, message, code="invalid")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_needs_a_signed_in_client(anon, path):
    _error(anon.get(path), 401, code="not_authenticated")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_another_clients_list_shows_none_of_our_customers(api_b, agent_a, agent_b, path):
    CustomerFactory.create_batch(3, ai_agent=agent_a)
    theirs = CustomerFactory(ai_agent=agent_b)

    body = api_b.get(path).json()

    assert [r["id"] for r in body["results"]] == [str(theirs.pk)]


def test_a_client_without_an_agent_is_told_how_to_create_one(api_a):
    _error(api_a.get("/api/customers/"), 404, "POST /api/agents/ai/setup/", code="agent_not_found")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_costs_the_same_queries_for_1_and_200_rows(api_a, agent_a, path):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_a.get(path, {"page_size": 200})
        assert response.status_code == 200
        return len(captured.captured_queries)

    CustomerFactory(ai_agent=agent_a)
    one = queries()
    CustomerFactory.create_batch(199, ai_agent=agent_a)
    assert queries() == one


# --- create -------------------------------------------------------------------------------


def test_create_normalises_the_number_and_answers_with_the_detail(api_a, agent_a):
    response = api_a.post(
        "/api/customers/",
        {"phone_number": "(212) 555-0101", "name": "Ava", "email": "ava@example.com", "interest_level": "warm",
         "note": "Met at the fair"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["phone_number"], body["timezone"], body["interest_level"]) == (
        "+12125550101",
        "America/New_York",
        "warm",
    )
    assert [n["text"] for n in body["notes"]] == ["Met at the fair"]
    assert set(body["may_call_now"]) == {"allowed", "code", "reason", "next_allowed_at", "local_time", "checked_at"}
    assert CustomerProfile.objects.get(ai_agent=agent_a).pk.hex == body["id"].replace("-", "")


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        # 422: the schema allows the text, a rule it cannot state refuses it (docs/adr/0009).
        ({"phone_number": "call me"}, 422, "phone_number: 'call me' is not a phone number"),
        ({"phone_number": "+1555"}, 422, "phone_number: '+1555' is not a valid phone number"),
        ({"phone_number": "+12125550101", "timezone": "Mars/Olympus"}, 422, "timezone: 'Mars/Olympus' is not a known"),
        ({"phone_number": "+12125550101", "email": "nope"}, 400, "email: Enter a valid email address."),
        ({}, 400, "phone_number: This field is required."),
        # Longer than the email column (254), yet a valid address: a 500 on PostgreSQL before.
        ({"phone_number": "+12125550101", "email": LONG_EMAIL}, 400, "email: Ensure this field has no more than 254"),
        ({"phone_number": "+12125550101", "preferences": HUGE_PREFERENCES}, 400, "preferences: At most 4000"),
        ({"phone_number": "+12125550101", "preferences": MANY_PREFERENCES}, 400, "preferences: At most 50 entries"),
    ],
)
def test_create_refuses_bad_input_with_a_message(api_a, agent_a, payload, status, message):
    code = "invalid" if status == 400 else "validation_failed"
    body = _error(api_a.post("/api/customers/", payload, format="json"), status, message, code=code)
    assert body["fields"]
    assert not CustomerProfile.objects.exists()


def test_create_with_a_number_already_on_the_list_is_a_conflict(api_a, agent_a):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101")
    response = api_a.post("/api/customers/", {"phone_number": "212-555-0101"}, format="json")
    _error(response, 409, "A customer with the number +12125550101 already exists.", code="customer_exists")


def test_create_needs_a_signed_in_client(anon):
    _error(anon.post("/api/customers/", {"phone_number": "+12125550101"}, format="json"), 401)
    assert not CustomerProfile.objects.exists()


def test_another_client_may_have_the_same_number_without_learning_ours_exists(api_b, agent_a, agent_b):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Ours")
    before = _snapshot(agent_a)

    response = api_b.post("/api/customers/", {"phone_number": "+12125550101", "name": "Theirs"}, format="json")

    assert response.status_code == 201
    assert _snapshot(agent_a) == before


# --- read, update, delete one --------------------------------------------------------------


def test_detail_has_objections_notes_counters_and_may_call_now(api_a, agent_a):
    customer = CustomerFactory(
        ai_agent=agent_a,
        timezone="America/New_York",
        total_calls=3,
        successful_calls=1,
        preferences={"contact": "mornings"},
        objections=[{"key": "price", "text": "Too expensive", "at": "2025-06-01T10:00:00+00:00"}, "garbage"],
        conversation_notes=[{"text": "Wants a quote", "at": "2025-06-01T10:00:00+00:00", "call": None}],
    )

    with time_machine.travel(datetime(2025, 6, 3, 23, 0, tzinfo=ZoneInfo("America/New_York")), tick=False):
        response = api_a.get(f"/api/customers/{customer.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["total_calls"], body["successful_calls"], body["timezone"]) == (3, 1, "America/New_York")
    assert body["preferences"] == {"contact": "mornings"}
    assert [o["key"] for o in body["objections"]] == ["price"]
    assert body["notes"][0]["text"] == "Wants a quote"
    may = body["may_call_now"]
    assert may["allowed"] is False and may["code"] == "outside_calling_hours"
    assert "It is 23:00 for the customer" in may["reason"]
    assert datetime.fromisoformat(may["next_allowed_at"]) == datetime(
        2025, 6, 4, 9, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_may_call_now_local_time_is_the_customers_clock(api_a, agent_a):
    """'Their time now' reads 14:00 in Los Angeles, with its offset, not 22:00Z."""
    customer = CustomerFactory(ai_agent=agent_a, timezone="America/Los_Angeles")
    with time_machine.travel(datetime(2025, 6, 3, 21, 0, tzinfo=UTC), tick=False):
        may = api_a.get(f"/api/customers/{customer.pk}/").json()["may_call_now"]
    assert may["local_time"] == "2025-06-03T14:00:00-07:00"
    assert datetime.fromisoformat(may["checked_at"]) == datetime(2025, 6, 3, 21, 0, tzinfo=UTC)


def test_detail_says_why_a_do_not_call_customer_is_never_called(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a, is_do_not_call=True)
    may = api_a.get(f"/api/customers/{customer.pk}/").json()["may_call_now"]
    assert (may["allowed"], may["code"], may["next_allowed_at"]) == (False, "do_not_call", None)


def test_detail_needs_a_signed_in_client(anon, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    _error(anon.get(f"/api/customers/{customer.pk}/"), 401)


def test_another_clients_customer_is_not_found_like_a_missing_one(api_b, agent_a, agent_b):
    ours = CustomerFactory(ai_agent=agent_a)
    theirs = _error(api_b.get(f"/api/customers/{ours.pk}/"), 404, code="not_found")
    missing = _error(api_b.get(f"/api/customers/{MISSING}/"), 404, code="not_found")
    assert theirs == missing == {"code": "not_found", "message": "Customer not found."}


def test_update_changes_only_what_is_sent(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a, name="Ava", email="ava@example.com")

    response = api_a.patch(
        f"/api/customers/{customer.pk}/", {"interest_level": "converted", "note": "Signed"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["email"], body["interest_level"], body["is_converted"]) == (
        "Ava",
        "ava@example.com",
        "converted",
        True,
    )
    assert [n["text"] for n in body["notes"]] == ["Signed"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"phone_number": "call me"}, 422, "phone_number: 'call me' is not a phone number"),
        ({"interest_level": "boiling"}, 400, 'interest_level: "boiling" is not a valid choice.'),
        ({"do_not_call": True}, 400, "do_not_call: Use POST /api/customers/<id>/do-not-call/"),
        ({"email": LONG_EMAIL}, 400, "email: Ensure this field has no more than 254"),
        ({"preferences": HUGE_PREFERENCES}, 400, "preferences: At most 4000 characters"),
    ],
)
def test_update_refuses_bad_input_with_a_message(api_a, agent_a, payload, status, message):
    customer = CustomerFactory(ai_agent=agent_a)
    before = _snapshot(agent_a)
    _error(api_a.patch(f"/api/customers/{customer.pk}/", payload, format="json"), status, message)
    assert _snapshot(agent_a) == before


def test_update_to_a_number_another_customer_has_is_a_conflict(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    other = CustomerFactory(ai_agent=agent_a)
    response = api_a.patch(f"/api/customers/{customer.pk}/", {"phone_number": other.phone_number}, format="json")
    _error(response, 409, "Another customer already has that phone number.")


def test_update_needs_a_signed_in_client(anon, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    before = _snapshot(agent_a)
    _error(anon.patch(f"/api/customers/{customer.pk}/", {"name": "Hacked"}, format="json"), 401)
    assert _snapshot(agent_a) == before


def test_another_client_cannot_update_our_customer(api_b, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a)
    before = _snapshot(agent_a)
    _error(api_b.patch(f"/api/customers/{customer.pk}/", {"name": "Hacked"}, format="json"), 404, "Customer not found.")
    assert _snapshot(agent_a) == before


def test_delete_removes_the_customer(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    response = api_a.delete(f"/api/customers/{customer.pk}/")
    assert response.status_code == 204
    assert not CustomerProfile.objects.filter(pk=customer.pk).exists()
    _error(api_a.delete(f"/api/customers/{customer.pk}/"), 404, "Customer not found.")


def test_delete_needs_a_signed_in_client(anon, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    _error(anon.delete(f"/api/customers/{customer.pk}/"), 401)
    assert CustomerProfile.objects.filter(pk=customer.pk).exists()


def test_another_client_cannot_delete_our_customer(api_b, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a)
    before = _snapshot(agent_a)
    _error(api_b.delete(f"/api/customers/{customer.pk}/"), 404, "Customer not found.")
    assert _snapshot(agent_a) == before


# --- CSV import ------------------------------------------------------------------------------


def _upload(text: str, name: str = "leads.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_import_reports_each_bad_line_and_imports_the_rest(api_a, agent_a):
    text = "phone,name,interest_level\n+12125550101,Ava,hot\nnope,Liam,\n+12125550102,Mia,\n"

    response = api_a.post("/api/customers/import/", {"file": _upload(text)}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "error_count": 1,
        "errors": [
            {"line": 3, "reason": "'nope' is not a phone number. Use the international format, e.g. +14155550123."}
        ],
        "errors_truncated": False,
        "ignored_columns": [],
    }
    again = api_a.post("/api/customers/import/", {"file": _upload(text)}, format="multipart").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_import_reads_an_upload_django_spooled_to_disk(api_a, agent_a, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # bigger uploads go to a temporary file
    text = "\ufeffphone;name\n" + "".join(f"+1212555{n:04d};Someone {n}\n" for n in range(50))

    response = api_a.post("/api/customers/import/", {"file": _upload(text)}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 50


def test_import_refuses_a_file_over_the_limit_with_a_clear_400(api_a, agent_a, monkeypatch):
    monkeypatch.setattr(customers_api, "API_IMPORT_MAX_BYTES", 40)
    text = "phone,name\n" + "".join(f"+1212555{n:04d},Someone\n" for n in range(10))

    response = api_a.post("/api/customers/import/", {"file": _upload(text)}, format="multipart")

    _error(response, 400, "uploads are limited to", code="invalid")
    assert "manage.py import_customers" in response.json()["error"]["message"]
    assert not CustomerProfile.objects.exists()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({}, 400, "file: No file was submitted."),
        (
            {"file": _upload("name,email\nAva,a@example.com\n")},
            422,
            "The header has no phone_number (or phone) column.",
        ),
    ],
)
def test_import_refuses_a_missing_or_unreadable_file(api_a, agent_a, data, status, message):
    _error(api_a.post("/api/customers/import/", data, format="multipart"), status, message)


def test_import_needs_a_signed_in_client(anon):
    response = anon.post("/api/customers/import/", {"file": _upload("phone\n+12125550101\n")}, format="multipart")
    _error(response, 401)
    assert not CustomerProfile.objects.exists()


def test_an_import_by_another_client_never_touches_our_customers(api_b, agent_a, agent_b):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Ours")
    before = _snapshot(agent_a)

    response = api_b.post("/api/customers/import/", {"file": _upload("phone,name\n+12125550101,Theirs\n")},
                          format="multipart")  # fmt: skip

    assert response.json()["created"] == 1
    assert _snapshot(agent_a) == before


# --- CSV export ------------------------------------------------------------------------------


def _rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_the_filtered_list_as_csv(api_a, agent_a):
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550101", name="Hot", interest_level="hot")
    CustomerFactory(ai_agent=agent_a, phone_number="+12125550102", name="Cold", interest_level="cold")

    response = api_a.get("/api/customers/export/", {"interest_level": "hot"}, HTTP_ACCEPT="text/csv")

    assert 'filename="customers.csv"' in response["Content-Disposition"]
    assert _rows(response) == [
        {"phone_number": "+12125550101", "name": "Hot", "email": "", "timezone": "America/New_York",
         "interest_level": "hot", "call_preference_time": "", "notes": "", "do_not_call": "no"}
    ]  # fmt: skip


def test_export_refuses_a_bad_filter_in_json(api_a, agent_a):
    response = api_a.get("/api/customers/export/", {"converted": "perhaps"}, HTTP_ACCEPT="text/csv")
    _error(response, 400, "converted: Must be a valid boolean.")


def test_export_needs_a_signed_in_client(anon):
    _error(anon.get("/api/customers/export/"), 401)


def test_another_clients_export_has_none_of_our_customers(api_b, agent_a, agent_b):
    CustomerFactory.create_batch(2, ai_agent=agent_a)
    theirs = CustomerFactory(ai_agent=agent_b)
    assert [r["phone_number"] for r in _rows(api_b.get("/api/customers/export/"))] == [theirs.phone_number]


def test_export_costs_the_same_queries_for_1_and_200_rows(api_a, agent_a):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rows = _rows(api_a.get("/api/customers/export/"))
        return len(captured.captured_queries), len(rows)

    CustomerFactory(ai_agent=agent_a)
    one, count = queries()
    assert count == 1
    CustomerFactory.create_batch(199, ai_agent=agent_a)
    assert queries() == (one, 200)


def test_export_errors_are_json_even_when_csv_is_asked_for(anon):
    response = anon.get("/api/customers/export/", HTTP_ACCEPT="text/csv")
    assert response["Content-Type"] == "application/json"
    _error(response, 401, code="not_authenticated")


def test_import_takes_a_multipart_upload_only(api_a, agent_a):
    response = api_a.post("/api/customers/import/", {"file": "phone\n+12125550101\n"}, format="json")
    _error(response, 415, 'Unsupported media type "application/json"')


def test_staff_use_the_admin_not_the_client_api(staff_user):
    staff = APIClient()
    staff.force_authenticate(staff_user)
    _error(staff.get("/api/customers/"), 403, "This endpoint is for users of a client business.")


def test_a_note_added_through_the_api_joins_a_full_list_in_the_shared_shape(api_a, agent_a):
    from customers.services import MAX_NOTES

    old = [{"at": "2025-01-01T00:00:00+00:00", "text": f"note {n}", "source": "import"} for n in range(MAX_NOTES)]
    customer = CustomerFactory(ai_agent=agent_a, conversation_notes=old)

    response = api_a.patch(f"/api/customers/{customer.pk}/", {"note": "  Asked for a quote "}, format="json")

    assert response.status_code == 200, response.content
    notes = response.json()["notes"]
    assert len(notes) == MAX_NOTES and notes[0]["text"] == "note 1"
    assert (notes[-1]["text"], notes[-1]["source"], notes[-1]["call"]) == ("Asked for a quote", "api", None)
