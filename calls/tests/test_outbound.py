"""Starting outbound calls: the rules first, then the phone network (real twilio client, local server)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from callbacks.models import ScheduledCallback
from calls.models import CallSession, OutboundDayCount
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)
START = "/api/agents/ai/start-call/"


@time_machine.travel(MONDAY_10AM, tick=False)
def test_start_call_on_the_simulated_phone_then_answer_and_talk(api_a, trained_agent):
    response = api_a.post(
        START, {"phone_number": "(212) 555-0123", "context": "Follow-up for interested prospect"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["simulated"] is True
    assert body["phone_number"] == "+12125550123"
    sid = body["twilio_call_sid"]
    answered = api_a.post(f"/api/simulator/calls/{sid}/answer/", {}, format="json").json()
    assert any("Sarah" in line for line in answered["said"]) and answered["listening"]
    reply = api_a.post(f"/api/simulator/calls/{sid}/say/", {"text": "It's too expensive"}, format="json").json()
    assert any("zero down" in line for line in reply["said"])
    api_a.post(f"/api/simulator/calls/{sid}/hangup/", {}, format="json")
    call = CallSession.objects.get(twilio_call_sid=sid)
    assert call.status == "completed" and call.call_type == "outbound" and call.answered_at


@time_machine.travel(MONDAY_10AM, tick=False)
def test_exact_parameters_sent_to_twilio(api_a, trained_agent, fake_twilio, settings):
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["twilio_call_sid"] == "CA" + "f" * 32
    sent = fake_twilio.received[0]
    assert sent["path"] == f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Calls.json"
    assert sent["account"] == settings.TWILIO_ACCOUNT_SID
    form = {k: v if len(v) > 1 else v[0] for k, v in sent["form"].items()}
    base = f"https://agents.example.com/webhooks/twilio/{trained_agent.public_id}"
    assert form["To"] == "+12125550123" and form["From"] == trained_agent.phone_number
    assert form["Url"] == f"{base}/answered/" and form["Method"] == "POST"
    assert form["StatusCallback"] == f"{base}/status/"
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == "DetectMessageEnd" and form["AsyncAmd"] == "true"
    assert form["AsyncAmdStatusCallback"] == f"{base}/amd/"
    assert form["Record"] == "true" and form["RecordingStatusCallback"] == f"{base}/recording/"
    assert form["FallbackUrl"] == f"{base}/fallback/" and form["Timeout"] == "25"


@time_machine.travel(MONDAY_10AM, tick=False)
def test_the_clients_own_subaccount_is_used_when_set(api_a, trained_agent, fake_twilio):
    client = trained_agent.client
    client.twilio_subaccount_sid, client.twilio_auth_token = "AC" + "2" * 32, "sub-token"
    client.save()
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201
    assert fake_twilio.received[0]["account"] == "AC" + "2" * 32


@time_machine.travel(MONDAY_10AM, tick=False)
def test_twilio_21211_becomes_a_clear_422_and_the_attempt_is_kept_as_failed(api_a, trained_agent, fake_twilio):
    fake_twilio.replies.append(
        (
            400,
            {
                "code": 21211,
                "message": "The 'To' number +12125550123 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
        )
    )
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "telephony_error" and error["twilio_code"] == 21211
    assert "not a valid phone number" in error["message"]
    call = CallSession.objects.get()
    assert call.status == "failed" and "21211" in call.conversation_notes


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (
            lambda agent, customer: CustomerProfile.objects.filter(pk=customer.pk).update(is_do_not_call=True),
            "do_not_call",
        ),
        (
            lambda agent, customer: type(agent).objects.filter(pk=agent.pk).update(training_level=10),
            "agent_not_trained",
        ),
        (
            lambda agent, customer: CustomerProfile.objects.filter(pk=customer.pk).update(timezone=""),
            "timezone_unknown",
        ),
    ],
)
@time_machine.travel(MONDAY_10AM, tick=False)
def test_refusals_say_why_and_place_nothing(api_a, trained_agent, setup, code):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    setup(trained_agent, customer)
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert CallSession.objects.count() == 0


@time_machine.travel(datetime(2026, 11, 23, 22, 30, tzinfo=NY), tick=False)
def test_late_evening_is_refused_with_the_next_allowed_time(api_a, trained_agent):
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "outside_calling_hours" and "22:30" in error["message"]
    assert datetime.fromisoformat(error["next_allowed_at"]).astimezone(NY) == datetime(2026, 11, 24, 9, 0, tzinfo=NY)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_daily_limit(api_a, trained_agent):
    client = trained_agent.client
    client.daily_call_limit = 1
    client.save()
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201
    second = api_a.post(START, {"phone_number": "+12125550124"}, format="json")
    assert second.status_code == 409 and second.json()["error"]["code"] == "daily_limit_reached"
    assert second.json()["error"]["next_allowed_at"]


@time_machine.travel(MONDAY_10AM, tick=False)
def test_starting_a_scheduled_callback_claims_it(api_a, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM
    )
    response = api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json")
    assert response.status_code == 201, response.json()
    callback.refresh_from_db()
    assert callback.status == "in_progress" and callback.attempts == 1
    call = CallSession.objects.get()
    assert call.callback_id == callback.pk and call.call_type == "scheduled"


def test_validation_errors_have_messages(api_a, trained_agent):
    missing = api_a.post(START, {}, format="json")
    assert missing.status_code == 422 and "phone_number" in missing.json()["error"]["message"]
    bad = api_a.post(START, {"phone_number": "12"}, format="json")
    assert bad.status_code in (400, 422) and "not a" in bad.json()["error"]["message"]
    assert CallSession.objects.count() == 0


def test_anonymous_is_401(client, trained_agent):
    assert client.post(START, {"phone_number": "+12125550123"}).status_code == 401


@time_machine.travel(MONDAY_10AM, tick=False)
def test_another_clients_callback_is_404_and_untouched(api_b, agent_b, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent)
    theirs = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM
    )
    response = api_b.post(START, {"scheduled_callback_id": str(theirs.pk)}, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "scheduled" and theirs.attempts == 0
    assert CallSession.objects.count() == 0


def test_simulator_cannot_touch_another_clients_call(api_b, agent_b, trained_agent, client):
    from calls.simulated_phone import SimulatedPhone

    with time_machine.travel(MONDAY_10AM, tick=False):
        screen = SimulatedPhone(trained_agent).dial_in(from_number="+12125550123")
    before = CallSession.objects.get().turns.count()
    for action in ("say", "answer", "hangup"):
        response = api_b.post(f"/api/simulator/calls/{screen.call_sid}/{action}/", {"text": "hi"}, format="json")
        assert response.status_code == 404
    assert CallSession.objects.get().turns.count() == before
    assert CallSession.objects.get().status == "in_progress"


@time_machine.travel(datetime(2026, 11, 23, 22, 30, tzinfo=NY), tick=False)
def test_a_refused_manual_callback_stays_booked_with_its_attempt_unspent(api_a, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=datetime(2026, 11, 23, 22, 0, tzinfo=NY)
    )
    response = api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "outside_calling_hours"
    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.lease_expires_at) == ("scheduled", 0, None)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_callback_with_a_live_call_is_not_dialled_again(api_a, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM
    )
    assert api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json").status_code == 201
    again = api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json")
    assert again.status_code == 409
    assert CallSession.objects.filter(callback=callback).count() == 1


def _slots_used(client) -> int:
    return sum(OutboundDayCount.objects.filter(client=client).values_list("placed", flat=True))


def _nothing_half_written(client) -> CallSession:
    """The attempt is in the call log, finished as failed with the reason; the day's slot is given back."""
    call = CallSession.objects.get()
    assert call.status == "failed" and call.ended_at is not None and call.conversation_notes
    assert not CallSession.objects.filter(status__in=("queued", "ringing", "in_progress")).exists()
    assert _slots_used(client) == 0
    return call


@time_machine.travel(MONDAY_10AM, tick=False)
def test_start_call_with_twilio_down_is_a_json_503_with_retry_after_and_nothing_half_written(
    api_a, trained_agent, fake_twilio
):
    fake_twilio.stop()  # connection refused, as when api.twilio.com cannot be reached
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "telephony_unavailable" and error["retry_after"] == 30
    assert "could not be reached" in error["message"]
    _nothing_half_written(trained_agent.client)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_twilio_server_error_is_a_502_with_retry_after(api_a, trained_agent, fake_twilio):
    fake_twilio.replies.append((500, {"code": 20500, "message": "Internal Server Error", "status": 500}))
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 502 and response["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "telephony_upstream_error" and error["retry_after"] == 30
    assert error["twilio_code"] == 20500
    _nothing_half_written(trained_agent.client)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_call_twilio_refused_does_not_count_towards_the_daily_limit(api_a, trained_agent, fake_twilio):
    client = trained_agent.client
    client.daily_call_limit = 1
    client.save()
    fake_twilio.replies.append((400, {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}))
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 422
    _nothing_half_written(client)
    assert api_a.post(START, {"phone_number": "+12125550124"}, format="json").status_code == 201


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_callback_started_while_twilio_is_down_stays_booked_with_its_attempt_unspent(
    api_a, trained_agent, fake_twilio
):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM
    )
    fake_twilio.stop()
    response = api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json")
    assert response.status_code == 503 and response.json()["error"]["retry_after"] == 30
    callback.refresh_from_db()
    assert callback.status == "scheduled" and callback.attempts == 0 and callback.lease_expires_at is None
    assert callback.scheduled_datetime == MONDAY_10AM and "could not be reached" in callback.last_error
    _nothing_half_written(trained_agent.client)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_customer_on_a_call_is_not_dialled_again_409(api_a, trained_agent):
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201
    again = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert again.status_code == 409, again.json()
    assert again.json()["error"]["code"] == "customer_on_call" and "on a call" in again.json()["error"]["message"]
    assert CallSession.objects.count() == 1


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_customer_who_called_in_is_not_dialled_while_talking_but_their_call_is_answered(api_a, trained_agent):
    from calls.simulated_phone import SimulatedPhone

    screen = SimulatedPhone(trained_agent).dial_in(from_number="+12125550123")
    assert screen.listening
    refused = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "customer_on_call"
    api_a.post(f"/api/simulator/calls/{screen.call_sid}/hangup/", {}, format="json")
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_customer_being_dialled_who_calls_in_is_answered(api_a, trained_agent):
    from calls.simulated_phone import SimulatedPhone

    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201
    screen = SimulatedPhone(trained_agent).dial_in(from_number="+12125550123")
    assert screen.listening and any("Sarah" in line for line in screen.said)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_manual_callback_for_a_customer_on_a_call_is_409_and_stays_booked(api_a, trained_agent):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    assert api_a.post(START, {"phone_number": "+12125550123"}, format="json").status_code == 201
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM
    )
    response = api_a.post(START, {"scheduled_callback_id": str(callback.pk)}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "customer_on_call"
    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.lease_expires_at) == ("scheduled", 0, None)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_starting_a_callback_by_hand_tells_the_agent_why_as_the_dispatcher_does(api_a, trained_agent):
    from calls.dispatch import callbacks_dispatch_due
    from calls.tests.factories import CallFactory

    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123")
    earlier = CallFactory(
        ai_agent=trained_agent, customer_profile=customer, status="completed", outcome="callback_requested",
        customer_response="Wants the battery price", started_at=datetime(2026, 11, 20, 10, 0, tzinfo=NY),
    )  # fmt: skip
    by_hand = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=customer, scheduled_datetime=MONDAY_10AM,
        reason="Discuss pricing options", source_call=earlier,
    )  # fmt: skip
    response = api_a.post(
        START, {"scheduled_callback_id": str(by_hand.pk), "context": "Mention the winter offer"}, format="json"
    )
    assert response.status_code == 201, response.json()
    call = CallSession.objects.get(callback=by_hand)
    assert call.context == (
        "Scheduled callback: Discuss pricing options. Booked on the call of Nov 20 (callback requested); "
        "the customer said: Wants the battery price. Mention the winter offer"
    )

    other = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550124")
    earlier.customer_profile = other
    by_dispatcher = ScheduledCallback.objects.create(
        ai_agent=trained_agent, customer_profile=other, scheduled_datetime=MONDAY_10AM,
        reason="Discuss pricing options", source_call=earlier,
    )  # fmt: skip
    callbacks_dispatch_due()
    dispatched = CallSession.objects.get(callback=by_dispatcher)
    assert call.context.startswith(dispatched.context) and dispatched.context.endswith("battery price.")


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_callback_booked_in_a_call_records_the_customers_preferred_time(trained_agent):
    from calls.simulated_phone import SimulatedPhone

    phone = SimulatedPhone(trained_agent)
    screen = phone.dial_in(from_number="+12125550123")
    phone.say(screen.call_sid, "call me tomorrow evening")
    assert ScheduledCallback.objects.filter(customer_profile__phone_number="+12125550123").exists()
    assert CustomerProfile.objects.get(phone_number="+12125550123").call_preference_time == "evening"


def test_a_refused_start_call_to_a_new_number_leaves_no_unknown_customer(api_a, trained_agent):
    at_night = datetime(2026, 11, 23, 23, 30, tzinfo=NY)
    with time_machine.travel(at_night, tick=False):
        response = api_a.post(START, {"phone_number": "(212) 555-0177"}, format="json")
    assert response.status_code == 409, response.json()
    assert not CustomerProfile.objects.filter(ai_agent=trained_agent).exists()
    assert not CallSession.objects.exists()


def test_a_refused_start_call_keeps_a_customer_that_already_existed(api_a, trained_agent):
    CustomerFactory(ai_agent=trained_agent, phone_number="+12125550177", name="Ava")
    with time_machine.travel(datetime(2026, 11, 23, 23, 30, tzinfo=NY), tick=False):
        assert api_a.post(START, {"phone_number": "+12125550177"}, format="json").status_code == 409
    assert CustomerProfile.objects.get(ai_agent=trained_agent).name == "Ava"
