"""The simulator API and the built-in phone speak ConversationRelay to relay-mode agents.

Each step is one request that opens the agent's socket on the running server (the ASGI app
under uvicorn here, ``SIMULATED_PHONE_RELAY_URL``), signed as Twilio signs it over
``RELAY_BASE_URL``, and reads the reply as it streams. Only the socket records a turn's time to
first token, so ``first_token_ms`` on the stored agent turns says which way they came.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from knox.models import AuthToken

from calls.models import CallSession, CallTurn
from calls.simulated_phone import SimulatedPhone
from calls.tests.relay_phone import RelayPhone
from customers.models import CustomerProfile

pytestmark = pytest.mark.django_db(transaction=True)
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))
DIAL = "/api/simulator/calls/"


def say_url(sid: str) -> str:
    return f"/api/simulator/calls/{sid}/say/"


def turns_of(sid: str) -> list[CallTurn]:
    return list(CallTurn.objects.filter(call__twilio_call_sid=sid).order_by("sequence"))


def test_the_simulator_api_talks_to_a_relay_agent_over_its_socket_until_an_opt_out_ends_the_call(
    relay_server, relay_agent, api_a
):
    dialled = api_a.post(DIAL, {"from_number": "+1 212 555 0123"}, format="json")
    assert dialled.status_code == 201, dialled.content
    screen = dialled.json()
    sid = screen["call_sid"]
    assert "AI assistant" in screen["said"][0] and screen["listening"] and screen["tokens"] == []

    price = api_a.post(say_url(sid), {"text": "How much does it cost per month?"}, format="json").json()
    assert price["listening"] and not price["ended"]
    assert len(price["tokens"]) >= 2 and "".join(price["tokens"]).strip() == price["said"][0]  # as it streamed
    assert "$89" in price["said"][0]

    battery = api_a.post(say_url(sid), {"text": "Is there a home battery?"}, format="json").json()
    assert battery["listening"] and battery["said"] and battery["tokens"]  # a second socket, the call read again

    bye = api_a.post(say_url(sid), {"text": "Please stop calling me, take me off your list"}, format="json").json()
    assert bye["ended"] and not bye["listening"] and bye["transferred_to"] == ""
    assert "won't call you again" in bye["said"][0] and bye["tokens"]

    call = CallSession.objects.get(twilio_call_sid=sid)
    assert (call.status, call.outcome) == ("completed", "do_not_call")  # the action URL hung up, as after "end"
    assert CustomerProfile.objects.get(phone_number="+12125550123").is_do_not_call
    turns = turns_of(sid)
    assert [t.speaker for t in turns] == ["agent", "caller"] * 3 + ["agent"]
    assert [t.text for t in turns if t.speaker == "caller"] == [
        "How much does it cost per month?", "Is there a home battery?", "Please stop calling me, take me off your list",
    ]  # fmt: skip
    assert turns[2].text == price["said"][0]  # stored as it was spoken
    for turn in turns[2::2]:
        assert turn.first_token_ms is not None and turn.provider  # only the socket records it
    assert "mark_do_not_call" in [a["type"] for a in turns[-1].actions]
    # A step after the end says so and opens no socket.
    after = api_a.post(say_url(sid), {"text": "Hello?"}, format="json").json()
    assert after["ended"] and not after["said"] and len(turns_of(sid)) == len(turns)


def test_a_transfer_on_the_socket_is_followed_to_the_clients_number(relay_server, relay_agent, api_a):
    client = relay_agent.client
    client.transfer_phone_number = "+14155550199"
    client.save()
    sid = api_a.post(DIAL, {"from_number": "+12125550123"}, format="json").json()["call_sid"]
    screen = api_a.post(say_url(sid), {"text": "I want to speak to a real person"}, format="json").json()
    assert screen["ended"] and screen["transferred_to"] == "+14155550199" and screen["tokens"]
    call = CallSession.objects.get(twilio_call_sid=sid)
    assert call.status == "completed"
    assert turns_of(sid)[-1].first_token_ms is not None


@time_machine.travel(MONDAY_10AM)
def test_an_outbound_call_answered_on_the_simulator_goes_on_over_the_socket(relay_server, relay_agent, api_a):
    started = api_a.post("/api/agents/ai/start-call/", {"phone_number": "+12125550123"}, format="json")
    assert started.status_code == 201, started.content
    sid = started.json()["twilio_call_sid"]
    answered = api_a.post(f"/api/simulator/calls/{sid}/answer/", {}, format="json").json()
    assert answered["listening"] and any("Sarah" in line for line in answered["said"])
    busy = api_a.post(say_url(sid), {"text": "I'm busy right now, call me tomorrow afternoon"}, format="json").json()
    assert busy["ended"] and busy["tokens"]
    call = CallSession.objects.get(twilio_call_sid=sid)
    assert (call.status, call.outcome) == ("completed", "callback_requested")
    assert turns_of(sid)[-1].first_token_ms is not None


def test_silence_sends_no_prompt_and_the_agent_keeps_listening(relay_server, relay_agent, api_a):
    sid = api_a.post(DIAL, {}, format="json").json()["call_sid"]
    screen = api_a.post(say_url(sid), {"text": ""}, format="json").json()
    assert screen["listening"] and not screen["ended"] and screen["said"] == screen["tokens"] == []
    assert [t.speaker for t in turns_of(sid)] == ["agent"]  # Twilio sends no prompt without words


def test_another_clients_relay_call_is_not_found(relay_server, relay_agent, api_a, api_b, agent_b):
    sid = api_a.post(DIAL, {}, format="json").json()["call_sid"]
    response = api_b.post(say_url(sid), {"text": "How much does it cost per month?"}, format="json")
    assert response.status_code == 404
    assert [t.speaker for t in turns_of(sid)] == ["agent"]  # nothing reached the agent's socket
    assert CallSession.objects.get(twilio_call_sid=sid).status == "in_progress"


def test_a_relay_socket_that_does_not_answer_is_a_503_and_the_log_says_where_it_was_looked_for(
    relay_agent, api_a, settings, caplog
):
    settings.SIMULATED_PHONE_RELAY_URL = "ws://127.0.0.1:9"  # nothing listens there
    sid = api_a.post(DIAL, {}, format="json").json()["call_sid"]
    response = api_a.post(say_url(sid), {"text": "How much does it cost per month?"}, format="json")
    assert response.status_code == 503 and response["Retry-After"]
    assert "did not answer" in response.json()["error"]["message"]
    assert "127.0.0.1:9" not in response.content.decode()  # where the server listens is the operator's business
    logged = [r for r in caplog.records if r.levelname == "ERROR" and sid in r.getMessage()]
    assert logged and "ws://127.0.0.1:9" in logged[0].getMessage()
    assert [t.speaker for t in turns_of(sid)] == ["agent"]


def test_the_turn_webhook_way_records_no_time_to_first_token(relay_agent):
    """The contrast the tests above rely on: a relay agent's turn through the webhook has no socket figures."""
    phone = SimulatedPhone(relay_agent, relay_socket=False)
    sid = phone.dial_in(from_number="+12125550123").call_sid
    screen = phone.say(sid, "How much does it cost per month?")
    assert "$89" in " ".join(screen.said) and screen.tokens == []
    assert turns_of(sid)[-1].speaker == "agent" and turns_of(sid)[-1].first_token_ms is None


def test_the_consumer_stores_a_reply_streamed_whole_when_the_socket_closes_right_after_its_last_token(
    relay_server, relay_agent
):
    sid = SimulatedPhone(relay_agent).dial_in(from_number="+12125550123").call_sid
    phone = RelayPhone(relay_server, relay_agent, sid)
    try:
        phone.open()
        phone.setup()
        heard = phone.prompt("How much does it cost per month?")
        assert heard.tokens[-1] == ""  # the last token
    finally:
        phone.close()  # at once, as a step of the simulator may
    deadline = time.monotonic() + 5
    while len(turns := turns_of(sid)) < 3:
        assert time.monotonic() < deadline, "the reply was never stored"
        time.sleep(0.02)
    assert turns[2].text == heard.text and not turns[2].interrupted and turns[2].first_token_ms is not None


def test_the_running_server_serves_a_step_and_the_socket_the_step_opens_on_itself(relay_server, relay_agent, user_a):
    """Under uvicorn the API's step (a sync view in a worker thread) waits on a socket the same
    server serves, as under ``make run``: neither waits for the other's thread."""
    _, token = AuthToken.objects.create(user_a)
    http = relay_server.replace("ws://", "http://", 1)

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            http + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    sid = post(DIAL, {"from_number": "+12125550123"})["call_sid"]
    price = post(say_url(sid), {"text": "How much does it cost per month?"})
    assert "$89" in price["said"][0] and price["tokens"] and price["listening"]
    assert turns_of(sid)[-1].first_token_ms is not None
