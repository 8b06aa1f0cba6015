"""Callbacks API: every endpoint's happy path, validation, 401, and cross-tenant 404 with no side effect."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
TUESDAY_NOON = datetime(2025, 6, 3, 12, 0, tzinfo=NEW_YORK)
LIST_PATHS = ["/api/callbacks/", "/api/dashboard/ai-agent/callbacks/"]
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _tuesday_noon():
    with time_machine.travel(TUESDAY_NOON, tick=False):
        yield


@pytest.fixture
def anon():
    return APIClient()


def _error(response, status: int, message: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    if message is not None:
        assert message in body["message"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _snapshot(agent) -> list[tuple]:
    return list(
        ScheduledCallback.objects.filter(ai_agent=agent)
        .order_by("pk")
        .values_list("pk", "status", "scheduled_datetime", "priority_level", "last_error", "updated_at")
    )


# --- list (and the seed's dashboard path) -----------------------------------------------


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_finds_overdue_scheduled_callbacks_like_the_seed_asks(api_a, agent_a, path):
    customer = CustomerFactory(ai_agent=agent_a, name="Ava", phone_number="+12125550101")
    late = CallbackFactory(customer_profile=customer, scheduled_datetime=TUESDAY_NOON - timedelta(hours=1))
    CallbackFactory(customer_profile=customer, scheduled_datetime=TUESDAY_NOON + timedelta(hours=1))
    CallbackFactory(customer_profile=customer, scheduled_datetime=TUESDAY_NOON - timedelta(hours=2), status="completed")

    response = api_a.get(path, {"status": "scheduled", "overdue": "true"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == str(late.pk)
    assert row["is_overdue"] is True
    assert row["customer"] == {"id": str(customer.pk), "name": "Ava", "phone_number": "+12125550101"}


def test_the_list_filters_by_date_priority_kind_and_customer(api_a, agent_a):
    ava, liam = CustomerFactory(ai_agent=agent_a), CustomerFactory(ai_agent=agent_a)
    tomorrow = CallbackFactory(customer_profile=ava, scheduled_datetime=TUESDAY_NOON + timedelta(days=1))
    CallbackFactory(customer_profile=ava, scheduled_datetime=TUESDAY_NOON + timedelta(days=3))
    urgent = CallbackFactory(customer_profile=liam, priority_level=1, kind="followup")

    def ids(params) -> list[str]:
        return [r["id"] for r in api_a.get("/api/callbacks/", params).json()["results"]]

    window = {"date_from": "2025-06-04T00:00:00-04:00", "date_to": "2025-06-05T00:00:00-04:00"}
    assert ids(window) == [str(tomorrow.pk)]
    assert ids({"priority": 1}) == [str(urgent.pk)]
    assert ids({"kind": "followup"}) == [str(urgent.pk)]
    assert ids({"customer": str(liam.pk)}) == [str(urgent.pk)]
    assert len(ids({"overdue": "false"})) == 3  # none is past its time


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"priority": 9}, 400, "priority: Ensure this value is less than or equal to 5."),
        ({"status": "lost"}, 400, 'status: "lost" is not a valid choice.'),
        (
            {"date_from": "2025-06-05T00:00:00Z", "date_to": "2025-06-04T00:00:00Z"},
            422,
            "date_to must be after date_from",
        ),
        ({"customer": "nope"}, 400, "customer: Must be a valid UUID."),
    ],
)
def test_the_list_refuses_bad_filters_with_a_message(api_a, agent_a, params, status, message):
    code = "invalid" if status == 400 else "validation_failed"
    _error(api_a.get("/api/callbacks/", params), status, message, code=code)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_needs_a_signed_in_client(anon, path):
    _error(anon.get(path), 401, code="not_authenticated")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_another_clients_list_shows_none_of_our_callbacks(api_b, agent_a, agent_b, path):
    ours = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    theirs = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_b))

    assert [r["id"] for r in api_b.get(path).json()["results"]] == [str(theirs.pk)]
    # Naming our customer does not help either.
    assert api_b.get(path, {"customer": str(ours.customer_profile_id)}).json()["results"] == []


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_list_costs_the_same_queries_for_1_and_200_rows(api_a, agent_a, path):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_a.get(path, {"page_size": 200})
        assert response.status_code == 200
        return len(captured.captured_queries)

    CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    one = queries()
    for _ in range(199):
        CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    assert queries() == one


# --- book ----------------------------------------------------------------------------------


def _book(api, customer, **overrides):
    payload = {
        "customer_id": str(customer.pk),
        "scheduled_datetime": "2025-06-04T14:00:00-04:00",
        "reason": "Discuss pricing options",
        "priority_level": 2,
        "expected_outcome": "Quote accepted",
        **overrides,
    }
    return api.post("/api/callbacks/", payload, format="json")


def test_booking_inside_the_hours_keeps_the_time(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)

    response = _book(api_a, customer)

    assert response.status_code == 201, response.content
    body = response.json()
    assert _when(body["scheduled_datetime"]) == datetime(2025, 6, 4, 14, 0, tzinfo=NEW_YORK)
    assert (body["moved"], body["moved_reason"], body["priority_level"], body["status"]) == (
        False,
        None,
        2,
        "scheduled",
    )
    assert ScheduledCallback.objects.get(pk=body["id"]).expected_outcome == "Quote accepted"


def test_booking_at_23_00_answers_with_the_time_actually_booked_and_why(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)

    body = _book(api_a, customer, scheduled_datetime="2025-06-04T23:00:00-04:00").json()

    assert _when(body["requested_datetime"]) == datetime(2025, 6, 4, 23, 0, tzinfo=NEW_YORK)
    assert _when(body["scheduled_datetime"]) == datetime(2025, 6, 5, 9, 0, tzinfo=NEW_YORK)
    assert body["moved"] is True
    assert "is outside the calling hours" in body["moved_reason"]


def test_booking_a_do_not_call_customer_is_a_409_with_the_reason(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a, is_do_not_call=True)
    _error(_book(api_a, customer), 409, "The customer is on the do-not-call list.", code="do_not_call")
    assert not ScheduledCallback.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"scheduled_datetime": "2025-06-04T14:00:00"}, 400, "scheduled_datetime: Give the time with its UTC offset"),
        ({"scheduled_datetime": "tomorrow"}, 400, "scheduled_datetime: Datetime has wrong format."),
        (
            {"scheduled_datetime": "2031-01-01T10:00:00Z"},
            422,
            "scheduled_datetime: A callback can be booked at most a year",
        ),
        ({"priority_level": 6}, 400, "priority_level: Ensure this value is less than or equal to 5."),
        ({"customer_id": "someone"}, 400, "customer_id: Must be a valid UUID."),
    ],
)
def test_booking_refuses_bad_input_with_a_message(api_a, agent_a, overrides, status, message):
    customer = CustomerFactory(ai_agent=agent_a)
    code = "invalid" if status == 400 else "validation_failed"
    _error(_book(api_a, customer, **overrides), status, message, code=code)
    assert not ScheduledCallback.objects.exists()


def test_booking_needs_a_signed_in_client(anon, agent_a):
    _error(_book(anon, CustomerFactory(ai_agent=agent_a)), 401)
    assert not ScheduledCallback.objects.exists()


def test_booking_for_another_clients_customer_is_not_found_and_writes_nothing(api_b, agent_a, agent_b):
    ours = CustomerFactory(ai_agent=agent_a)
    _error(_book(api_b, ours), 404, "Customer not found.", code="not_found")
    _error(_book(api_b, ours, customer_id=MISSING), 404, "Customer not found.", code="not_found")
    assert not ScheduledCallback.objects.exists()


# --- one callback ------------------------------------------------------------------------


def test_detail_shows_the_callback(api_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a), reason="Pricing")
    body = api_a.get(f"/api/callbacks/{callback.pk}/").json()
    assert (body["id"], body["reason"], body["is_overdue"], body["source_call_id"]) == (
        str(callback.pk),
        "Pricing",
        False,
        None,
    )


def test_detail_needs_a_signed_in_client(anon, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    _error(anon.get(f"/api/callbacks/{callback.pk}/"), 401)


def test_another_clients_callback_is_not_found_like_a_missing_one(api_b, agent_a, agent_b):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    theirs = _error(api_b.get(f"/api/callbacks/{callback.pk}/"), 404)
    missing = _error(api_b.get(f"/api/callbacks/{MISSING}/"), 404)
    assert theirs == missing == {"code": "not_found", "message": "Callback not found."}


def test_reschedule_moves_it_into_allowed_hours(api_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))

    response = api_a.post(
        f"/api/callbacks/{callback.pk}/reschedule/",
        {"scheduled_datetime": "2025-06-05T07:00:00-04:00", "priority_level": 1},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert _when(body["scheduled_datetime"]) == datetime(2025, 6, 5, 9, 0, tzinfo=NEW_YORK)
    assert (body["moved"], body["priority_level"]) == (True, 1)
    callback.refresh_from_db()
    assert callback.scheduled_datetime == datetime(2025, 6, 5, 9, 0, tzinfo=NEW_YORK)


def test_reschedule_refuses_bad_input_and_closed_callbacks(api_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    path = f"/api/callbacks/{callback.pk}/reschedule/"
    _error(api_a.post(path, {}, format="json"), 400, "scheduled_datetime: This field is required.")
    _error(api_a.post(path, {"scheduled_datetime": "2025-06-05T10:00:00"}, format="json"), 400, "UTC offset")

    ScheduledCallback.objects.filter(pk=callback.pk).update(status="completed")
    response = api_a.post(path, {"scheduled_datetime": "2025-06-05T10:00:00Z"}, format="json")
    _error(response, 409, "The callback is completed; only a scheduled one can be moved.", code="conflict")


def test_reschedule_needs_a_signed_in_client(anon, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    before = _snapshot(agent_a)
    path = f"/api/callbacks/{callback.pk}/reschedule/"
    _error(anon.post(path, {"scheduled_datetime": "2025-06-05T14:00:00Z"}, format="json"), 401)
    assert _snapshot(agent_a) == before


def test_another_client_cannot_reschedule_our_callback(api_b, agent_a, agent_b):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    before = _snapshot(agent_a)
    path = f"/api/callbacks/{callback.pk}/reschedule/"
    _error(api_b.post(path, {"scheduled_datetime": "2025-06-05T14:00:00Z"}, format="json"), 404, "Callback not found.")
    assert _snapshot(agent_a) == before


def test_cancel_keeps_the_reason(api_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))

    response = api_a.post(f"/api/callbacks/{callback.pk}/cancel/", {"reason": "Bought elsewhere"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["last_error"]) == ("canceled", "Bought elsewhere")


def test_cancel_refuses_bad_input_and_a_second_cancel(api_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    path = f"/api/callbacks/{callback.pk}/cancel/"
    _error(
        api_a.post(path, {"reason": "x" * 301}, format="json"), 400, "reason: Ensure this field has no more than 300"
    )
    assert api_a.post(path, {}, format="json").status_code == 200
    _error(api_a.post(path, {}, format="json"), 409, "The callback is canceled; only a scheduled one can be cancelled.")


def test_cancel_needs_a_signed_in_client(anon, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    _error(anon.post(f"/api/callbacks/{callback.pk}/cancel/", {}, format="json"), 401)
    callback.refresh_from_db()
    assert callback.status == "scheduled"


def test_another_client_cannot_cancel_our_callback(api_b, agent_a, agent_b):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    before = _snapshot(agent_a)
    _error(api_b.post(f"/api/callbacks/{callback.pk}/cancel/", {}, format="json"), 404, "Callback not found.")
    assert _snapshot(agent_a) == before


# --- a customer's do-not-call switch (customers API; tested here, where its cancelled callbacks are seen) ---


def test_marking_do_not_call_cancels_the_open_callbacks(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CallbackFactory.create_batch(2, customer_profile=customer)
    CallbackFactory(customer_profile=customer, status="completed")

    response = api_a.post(
        f"/api/customers/{customer.pk}/do-not-call/", {"do_not_call": True, "reason": "Asked by email"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["callbacks_cancelled"] == 2
    assert body["customer"]["is_do_not_call"] is True
    assert body["customer"]["may_call_now"]["code"] == "do_not_call"
    cancelled = ScheduledCallback.objects.filter(customer_profile=customer, status="canceled")
    assert [c.last_error for c in cancelled] == ["Asked by email"] * 2

    undo = api_a.post(f"/api/customers/{customer.pk}/do-not-call/", {"do_not_call": False}, format="json")
    assert (undo.json()["customer"]["is_do_not_call"], undo.json()["callbacks_cancelled"]) == (False, 0)


def test_do_not_call_needs_the_flag(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    response = api_a.post(f"/api/customers/{customer.pk}/do-not-call/", {}, format="json")
    _error(response, 400, "do_not_call: This field is required.")
    customer.refresh_from_db()
    assert customer.is_do_not_call is False


def test_do_not_call_needs_a_signed_in_client(anon, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    _error(anon.post(f"/api/customers/{customer.pk}/do-not-call/", {"do_not_call": True}, format="json"), 401)
    customer.refresh_from_db()
    assert customer.is_do_not_call is False


def test_another_client_cannot_mark_our_customer_do_not_call(api_b, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a)
    callback = CallbackFactory(customer_profile=customer)
    before = _snapshot(agent_a)

    response = api_b.post(f"/api/customers/{customer.pk}/do-not-call/", {"do_not_call": True}, format="json")

    _error(response, 404, "Customer not found.")
    assert _snapshot(agent_a) == before
    customer.refresh_from_db()
    assert customer.is_do_not_call is False
    callback.refresh_from_db()
    assert callback.status == "scheduled"
