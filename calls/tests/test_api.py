"""The calls API: list, detail with transcript, and recording an outcome; tenancy and query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory, UserFactory
from agents.selectors import NO_AGENT_MESSAGE
from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.models import CallSession, CallTurn
from calls.outcomes import PAST_CALLBACK
from calls.tests.factories import CallFactory, CallTurnFactory
from customers.tests.factories import CustomerFactory

NOW = datetime(2025, 10, 1, 15, 0, tzinfo=UTC)  # Wednesday 11:00 in New York
LIST = "/api/calls/"
OUTCOME = "/api/agents/ai/call-outcome/"


def detail(call_id) -> str:
    return f"/api/calls/{call_id}/"


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def dana(agent_a):
    return CustomerFactory(ai_agent=agent_a, name="Dana Reyes", phone_number="+12125550101")


@pytest.fixture
def omar(agent_a):
    return CustomerFactory(ai_agent=agent_a, name="Omar Haddad", phone_number="+13125550188")


@pytest.fixture
def call_a(dana):
    call = CallFactory(
        customer_profile=dana,
        started_at=NOW - timedelta(hours=2),
        duration_seconds=95,
        outcome="interested",
        sentiment_analysis={"label": "positive", "score": 0.6, "positive": ["great"], "timeline": [0.6]},
        recording_url="https://api.twilio.com/recordings/RE1",
    )
    CallTurnFactory(
        call=call, sequence=0, speaker="agent", text="Hi, this is Sarah.", latency_ms=420, provider="scripted"
    )
    CallTurnFactory(call=call, sequence=1, speaker="caller", text="It sounds great, but pricey.")
    CallTurnFactory(
        call=call,
        sequence=2,
        speaker="agent",
        text="With $0 down...",
        latency_ms=380,
        provider="openai",
        actions=[{"type": "answered_objection", "key": "price_too_high"}],
    )
    return call


@pytest.fixture
def b_call(agent_b):
    return CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b, phone_number="+442071838799"))


def error(response) -> dict:
    return response.json()["error"]


# --- GET /api/calls/ ------------------------------------------------------------------------------


def test_list_newest_first_with_customer_duration_sentiment_and_turns(api_a, call_a, omar):
    older = CallFactory(customer_profile=omar, started_at=NOW - timedelta(days=1), call_type="inbound")

    response = api_a.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first == {
        "id": str(call_a.pk),
        "call_type": "outbound",
        "status": "completed",
        "outcome": "interested",
        "customer_id": str(call_a.customer_profile_id),
        "customer_name": "Dana Reyes",
        "customer_phone": "+12125550101",
        "started_at": "2025-10-01T13:00:00Z",
        "ended_at": None,
        "duration_seconds": 95,
        "sentiment_label": "positive",
        "turn_count": 3,
        "customer_satisfaction": None,
        "followup_scheduled": False,
    }
    assert (second["id"], second["turn_count"], second["sentiment_label"]) == (str(older.pk), 0, None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("outcome=interested", ["a"]),
        ("outcome=no_answer", ["old"]),
        ("call_type=inbound", ["old"]),
        ("status=no_answer", ["old"]),
        ("search=dana", ["a"]),
        ("search=(312) 555-0188", ["old"]),  # typed as people write it; stored as E.164
        ("search=5550188", ["old"]),
        ("date_from=2025-10-01T00:00:00Z", ["a"]),
        ("date_to=2025-10-01T00:00:00Z", ["old"]),
        ("date_from=2025-09-29T00:00:00Z&date_to=2025-10-02T00:00:00Z", ["a", "old"]),
    ],
)
def test_list_filters(api_a, call_a, omar, query, expected):
    old = CallFactory(
        customer_profile=omar,
        started_at=NOW - timedelta(days=2),
        call_type="inbound",
        status="no_answer",
        outcome="no_answer",
    )
    names = {str(call_a.pk): "a", str(old.pk): "old"}

    response = api_a.get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert [names[r["id"]] for r in response.json()["results"]] == expected


def test_list_filters_by_customer(api_a, call_a, omar):
    CallFactory(customer_profile=omar)

    response = api_a.get(LIST, {"customer": str(call_a.customer_profile_id)})

    assert [r["id"] for r in response.json()["results"]] == [str(call_a.pk)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("outcome=maybe", 'outcome: "maybe" is not a valid choice.'),
        ("call_type=carrier-pigeon", 'call_type: "carrier-pigeon" is not a valid choice.'),
        ("customer=not-a-uuid", "customer: Must be a valid UUID."),
        ("date_from=yesterday", "date_from: Datetime has wrong format."),
        ("date_from=2025-10-02T00:00:00Z&date_to=2025-10-01T00:00:00Z", "date_to: date_to must be after date_from."),
    ],
)
def test_list_rejects_bad_filters_with_a_message(api_a, agent_a, query, message):
    response = api_a.get(f"{LIST}?{query}")

    # A range ending before it starts fits the schema; a rule refuses it (docs/adr/0009).
    rule = message.startswith("date_to: date_to must be after")
    assert response.status_code == (422 if rule else 400)
    assert error(response)["code"] == ("validation_failed" if rule else "invalid")
    assert error(response)["message"].startswith(message)


def test_list_pages(api_a, dana):
    CallFactory.create_batch(3, customer_profile=dana)

    response = api_a.get(LIST, {"page_size": 2, "page": 2})

    assert response.status_code == 200
    assert (response.json()["count"], len(response.json()["results"])) == (3, 1)


def test_list_needs_sign_in(agent_a, call_a):
    response = APIClient().get(LIST)

    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


def test_list_without_an_agent_says_how_to_create_one(db):
    api = APIClient()
    api.force_authenticate(UserFactory(client=ClientFactory()))

    response = api.get(LIST)

    assert response.status_code == 404
    assert error(response)["message"] == NO_AGENT_MESSAGE


def test_list_shows_nothing_of_another_client(api_b, agent_b, call_a, b_call):
    response = api_b.get(LIST)

    assert [r["id"] for r in response.json()["results"]] == [str(b_call.pk)]
    response = api_b.get(LIST, {"customer": str(call_a.customer_profile_id)})
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def _queries(api, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured)


def test_list_query_count_does_not_grow_with_rows(api_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    call = CallFactory(customer_profile=customer)
    CallTurnFactory(call=call, sequence=0)
    one = _queries(api_a, f"{LIST}?page_size=200")

    for i in range(199):
        other = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a), started_at=NOW - timedelta(minutes=i))
        CallTurn.objects.bulk_create([CallTurn(call=other, sequence=s, speaker="agent") for s in range(2)])
    many = _queries(api_a, f"{LIST}?page_size=200")

    assert api_a.get(f"{LIST}?page_size=200").json()["count"] == 200
    assert many == one


# --- GET /api/calls/<id>/ -------------------------------------------------------------------------


def test_detail_has_turns_in_order_sentiment_and_callbacks(api_a, call_a, dana):
    cause = CallbackFactory(customer_profile=dana, status="completed", reason="Asked for a call back")
    call_a.callback = cause
    call_a.save()
    booked = CallbackFactory(customer_profile=dana, source_call=call_a, reason="Discuss pricing options")

    response = api_a.get(detail(call_a.pk))

    assert response.status_code == 200
    body = response.json()
    assert [(t["sequence"], t["speaker"]) for t in body["turns"]] == [(0, "agent"), (1, "caller"), (2, "agent")]
    assert body["turns"][2] == {
        "sequence": 2,
        "speaker": "agent",
        "text": "With $0 down...",
        "spoken_at": "2025-10-01T15:00:00Z",
        "latency_ms": 380,
        "provider": "openai",
        "actions": [{"type": "answered_objection", "key": "price_too_high"}],
    }
    assert body["sentiment"] == {
        "label": "positive",
        "score": 0.6,
        "positive": ["great"],
        "negative": [],
        "timeline": [0.6],
    }
    assert body["recording_url"] == "https://api.twilio.com/recordings/RE1"
    assert body["customer"] == {
        "id": str(dana.pk),
        "name": "Dana Reyes",
        "phone_number": "+12125550101",
        "interest_level": "cold",
        "is_do_not_call": False,
    }
    assert body["caused_by_callback"]["id"] == str(cause.pk)
    assert [c["id"] for c in body["callbacks_booked"]] == [str(booked.pk)]
    assert body["callbacks_booked"][0]["reason"] == "Discuss pricing options"


def test_detail_tolerates_odd_stored_json(api_a, dana):
    call = CallFactory(customer_profile=dana, sentiment_analysis={"label": "ecstatic", "score": "high"})
    CallTurnFactory(call=call, sequence=0, actions={"not": "a list"})

    response = api_a.get(detail(call.pk))

    assert response.status_code == 200
    assert response.json()["sentiment"]["label"] is None
    assert response.json()["sentiment"]["score"] is None
    assert response.json()["turns"][0]["actions"] == []
    assert response.json()["caused_by_callback"] is None


def test_detail_query_count_does_not_grow_with_turns(api_a, call_a, dana):
    one = _queries(api_a, detail(call_a.pk))
    CallTurn.objects.bulk_create([CallTurn(call=call_a, sequence=s, speaker="caller") for s in range(3, 60)])
    CallbackFactory.create_batch(5, customer_profile=dana, source_call=call_a)

    assert _queries(api_a, detail(call_a.pk)) == one


@pytest.mark.parametrize("call_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_detail_of_an_unknown_call_is_a_json_404(api_a, agent_a, call_id):
    response = api_a.get(detail(call_id))

    assert response.status_code == 404
    assert error(response) == {"code": "call_not_found", "message": "Call not found."}


def test_detail_of_another_clients_call_is_not_found(api_b, agent_b, call_a):
    response = api_b.get(detail(call_a.pk))

    assert response.status_code == 404
    assert error(response)["message"] == "Call not found."


def test_detail_needs_sign_in(call_a):
    assert APIClient().get(detail(call_a.pk)).status_code == 401


# --- POST /api/agents/ai/call-outcome/ ------------------------------------------------------------

SEED_BODY = {
    "outcome": "interested",
    "customer_response": "Customer showed interest but concerned about price",
    "conversation_notes": "Customer likes features but budget concern. Wants callback tomorrow afternoon.",
    "callback_requested": True,
    "callback_datetime": "2025-10-02T18:00:00Z",
    "callback_reason": "Discuss pricing options",
    "customer_satisfaction": 4,
}


def test_outcome_with_the_seed_body(api_a, agent_a, dana):
    call = CallFactory(customer_profile=dana, started_at=NOW - timedelta(hours=1))

    response = api_a.post(OUTCOME, {"call_id": str(call.pk), **SEED_BODY}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["call"]["outcome"] == "interested"
    assert body["call"]["customer_satisfaction"] == 4
    assert body["call"]["followup_scheduled"] is True
    assert body["call"]["followup_datetime"] == "2025-10-02T18:00:00Z"
    assert body["customer"]["interest_level"] == "warm"
    assert body["customer"]["call_preference_time"] == "afternoon"
    assert (body["customer"]["total_calls"], body["customer"]["successful_calls"]) == (1, 1)
    assert body["agent"] == {"calls_handled": 1, "successful_conversions": 0, "conversion_rate": 0.0}
    assert body["callback"]["requested_datetime"] == "2025-10-02T18:00:00Z"
    assert body["callback"]["scheduled_datetime"] == "2025-10-02T18:00:00Z"
    assert body["callback"]["moved"] is False
    assert body["callback"]["reason"] == "Discuss pricing options"
    assert (body["counted"], body["changed"], body["learned"]) == (True, True, True)
    dana.refresh_from_db()
    assert [o["key"] for o in dana.objections] == ["price_too_high"]
    assert [n["text"] for n in dana.conversation_notes] == [SEED_BODY["conversation_notes"]]
    assert ScheduledCallback.objects.filter(source_call=call, status="scheduled").count() == 1


def test_outcome_counts_a_call_with_no_outcome_yet(api_a, agent_a, dana):
    call = CallFactory(customer_profile=dana, started_at=NOW - timedelta(hours=1))

    body = api_a.post(OUTCOME, {"call_id": str(call.pk), "outcome": "converted"}, format="json").json()
    again = api_a.post(OUTCOME, {"call_id": str(call.pk), "outcome": "converted"}, format="json").json()

    assert body["agent"] == {"calls_handled": 1, "successful_conversions": 1, "conversion_rate": 100.0}
    assert (body["customer"]["total_calls"], body["customer"]["is_converted"]) == (1, True)
    assert (body["counted"], again["counted"], again["changed"]) == (True, False, False)
    assert again["agent"] == body["agent"]
    assert again["customer"]["total_calls"] == 1


def test_outcome_reports_a_moved_callback(api_a, call_a):
    body = {"call_id": str(call_a.pk), **SEED_BODY, "callback_datetime": "2025-10-02T03:00:00Z"}  # 23:00 New York

    response = api_a.post(OUTCOME, body, format="json")

    assert response.status_code == 200
    assert response.json()["callback"]["scheduled_datetime"] == "2025-10-02T13:00:00Z"
    assert response.json()["callback"]["moved"] is True


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": "maybe"}, 'outcome: "maybe" is not a valid choice.'),
        ({"customer_satisfaction": 6}, "customer_satisfaction: Ensure this value is less than or equal to 5."),
        ({"customer_satisfaction": 0}, "customer_satisfaction: Ensure this value is greater than or equal to 1."),
        ({"callback_datetime": None}, "callback_datetime: callback_datetime is required when callback_requested"),
        ({"callback_datetime": "tomorrow"}, "callback_datetime: Datetime has wrong format."),
        ({"callback_requested": False}, "callback_requested: Set callback_requested to true"),
        ({"outcome": "do_not_call"}, "callback_requested: A customer who asked not to be called"),
        ({"call_id": "123"}, "call_id: Must be a valid UUID."),
    ],
)
def test_outcome_rejects_bad_input_with_a_message(api_a, call_a, changes, message):
    response = api_a.post(OUTCOME, {"call_id": str(call_a.pk), **SEED_BODY, **changes}, format="json")

    # callback_datetime and callback_requested go together: a rule the schema cannot state (422).
    rule = message.startswith(("callback_datetime: callback_datetime is required", "callback_requested: Set"))
    assert response.status_code == (422 if rule else 400)
    assert error(response)["message"].startswith(message), error(response)
    call_a.refresh_from_db()
    assert (call_a.customer_satisfaction, call_a.followup_scheduled) == (None, False)


@pytest.mark.parametrize(("payload", "content_type"), [("[1, 2]", "application/json"), ("{oops", "application/json")])
def test_outcome_rejects_a_body_that_is_not_an_object(api_a, agent_a, payload, content_type):
    response = api_a.post(OUTCOME, payload, content_type=content_type)

    assert response.status_code == 400
    assert error(response)["message"]


def test_outcome_missing_fields_are_named(api_a, agent_a):
    response = api_a.post(OUTCOME, {}, format="json")

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"call_id", "outcome"}


def test_outcome_for_a_do_not_call_customers_callback_is_409_and_writes_nothing(api_a, agent_a, call_a, dana):
    dana.is_do_not_call = True
    dana.save()

    response = api_a.post(OUTCOME, {"call_id": str(call_a.pk), **SEED_BODY}, format="json")

    assert response.status_code == 409
    assert error(response)["code"] == "do_not_call"
    assert "do-not-call" in error(response)["message"]
    call_a.refresh_from_db()
    dana.refresh_from_db()
    agent_a.refresh_from_db()
    assert (call_a.customer_response, call_a.customer_satisfaction, call_a.outcome_learned) == ("", None, False)
    assert (dana.conversation_notes, dana.objections, dana.interest_level) == ([], [], "cold")
    assert agent_a.conversation_memory == {}
    assert not ScheduledCallback.objects.exists()


def test_outcome_needs_sign_in(call_a):
    response = APIClient().post(OUTCOME, {"call_id": str(call_a.pk), "outcome": "converted"}, format="json")

    assert response.status_code == 401
    call_a.refresh_from_db()
    assert call_a.outcome == "interested"


def test_outcome_on_another_clients_call_is_404_and_changes_nothing(api_b, agent_b, agent_a, dana):
    call = CallFactory(customer_profile=dana)

    response = api_b.post(OUTCOME, {"call_id": str(call.pk), **SEED_BODY, "outcome": "converted"}, format="json")

    assert response.status_code == 404
    assert error(response)["message"] == "Call not found."
    call.refresh_from_db()
    dana.refresh_from_db()
    agent_a.refresh_from_db()
    agent_b.refresh_from_db()
    assert (call.outcome, call.followup_scheduled, dana.interest_level, dana.total_calls) == ("", False, "cold", 0)
    assert (agent_a.calls_handled, agent_a.conversation_memory, agent_b.calls_handled) == (0, {}, 0)
    assert not ScheduledCallback.objects.exists()
    assert CallSession.objects.get(pk=call.pk).outcome_learned is False


def test_outcome_without_an_agent_says_how_to_create_one(db):
    api = APIClient()
    api.force_authenticate(UserFactory(client=ClientFactory()))

    response = api.post(OUTCOME, {"call_id": "00000000-0000-0000-0000-000000000000", "outcome": "answered"})

    assert response.status_code == 404
    assert error(response)["message"] == NO_AGENT_MESSAGE


def test_outcome_with_a_callback_in_the_past_is_refused_with_the_reason(api_a, call_a):
    body = {"call_id": str(call_a.pk), **SEED_BODY, "callback_datetime": (NOW - timedelta(hours=1)).isoformat()}

    response = api_a.post(OUTCOME, body, format="json")

    # 422: the schema allows any date-time; a rule it cannot state refuses this one (ADR 0009).
    assert response.status_code == 422
    assert error(response)["message"] == "callback_datetime: " + PAST_CALLBACK
    call_a.refresh_from_db()
    assert (call_a.customer_satisfaction, call_a.followup_scheduled) == (None, False)
    assert not ScheduledCallback.objects.exists()


def test_outcome_never_moves_the_callback_booked_in_a_live_call_into_the_past(api_a, trained_agent):
    from calls.simulated_phone import SimulatedPhone

    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York")), tick=False):
        phone = SimulatedPhone(trained_agent)
        screen = phone.dial_in(from_number="+12125550123")
        phone.say(screen.call_sid, "call me tomorrow afternoon")
        booked = ScheduledCallback.objects.get()
        call = CallSession.objects.get()
        past = {**SEED_BODY, "call_id": str(call.pk), "callback_datetime": "2026-11-23T14:00:00Z"}  # 09:00 NY

        response = api_a.post(OUTCOME, past, format="json")

    assert response.status_code == 422 and "in the past" in error(response)["message"]
    assert ScheduledCallback.objects.get().scheduled_datetime == booked.scheduled_datetime
    assert CallSession.objects.count() == 1
