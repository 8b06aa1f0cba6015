"""The dashboard's test phone for a relay-mode agent, through real sockets to the app under uvicorn.

The browser's socket (session cookie, same origin) reaches the dashboard consumer, which calls
the agent the way Twilio does: the incoming webhook, then a signed ``/relay/`` socket on the
same server. What the browser receives is what the page shows: tokens as they stream, each
turn's time to first word, and the end of the call.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from agents.services import training_add
from calls.models import CallSession, CallTurn
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def relay_agent(agent_a):
    training_add(
        agent=agent_a,
        training_type="script",
        training_content="Hi, this is [NAME] from [COMPANY]. We help homeowners cut their power bill with solar.",
    )
    training_add(
        agent=agent_a,
        training_type="product",
        product_details={"features": ["Tier-1 panels"], "pricing": "$0 down, from $89/month", "benefits": []},
    )
    agent_a.refresh_from_db()
    agent_a.voice_mode = "relay"
    agent_a.save(update_fields=["voice_mode"])
    return agent_a


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def open_phone(server: str, agent, *, cookie: str | None, origin: str | None = None) -> ClientConnection:
    headers = {"Origin": origin or server.replace("ws://", "http://")}
    if cookie:
        headers["Cookie"] = cookie
    return connect(f"{server}/dashboard/phone/{agent.public_id}/ws/", additional_headers=headers, open_timeout=10)


def receive(socket: ClientConnection) -> dict:
    return json.loads(socket.recv(timeout=15))


def until(socket: ClientConnection, kind: str) -> list[dict]:
    """Messages up to and including the first of ``kind``."""
    seen = []
    while not seen or seen[-1]["type"] != kind:
        seen.append(receive(socket))
        assert seen[-1]["type"] != "error", seen[-1]
    return seen


@time_machine.travel(MONDAY_10AM)
def test_a_test_call_to_a_relay_agent_streams_the_reply_with_its_time_to_first_word_and_ends(
    relay_server, relay_agent, user_a, client
):
    with open_phone(relay_server, relay_agent, cookie=session_cookie(client, user_a)) as phone:
        phone.send(json.dumps({"type": "dial", "from": "+1 212 555 0123"}))
        call = receive(phone)
        assert call["type"] == "call" and "AI assistant" in call["said"][0]
        session = CallSession.objects.get(twilio_call_sid=call["callSid"])
        assert session.ai_agent == relay_agent and call["callUrl"].endswith(f"/calls/{session.pk}/")

        phone.send(json.dumps({"type": "say", "text": "How much does it cost per month?"}))
        turn = until(phone, "turn_end")
        tokens = [m["token"] for m in turn if m["type"] == "token"]
        assert len(tokens) >= 2 and "$89" in "".join(tokens)  # streamed in pieces
        first_word = next(m for m in turn if m["type"] == "first_word")
        assert turn.index(first_word) < next(i for i, m in enumerate(turn) if m["type"] == "token")
        assert 0 <= first_word["ms"] == turn[-1]["firstWordMs"] <= turn[-1]["lastWordMs"]

        phone.send(json.dumps({"type": "say", "text": "Please stop calling me, take me off your list"}))
        ending = until(phone, "ended")
        assert ending[-1]["reason"] == "mark_do_not_call"

    session.refresh_from_db()
    assert session.status == "completed" and session.outcome == "do_not_call"
    turns = list(CallTurn.objects.filter(call=session).order_by("sequence"))
    assert [t.speaker for t in turns] == ["agent", "caller", "agent", "caller", "agent"]
    assert turns[1].text == "How much does it cost per month?" and "$89" in turns[2].text
    assert turns[2].first_token_ms is not None  # the relay socket's own figure, stored


def test_barge_in_stops_the_reply_and_the_hang_up_ends_the_call(relay_server, relay_agent, user_a, client):
    with open_phone(relay_server, relay_agent, cookie=session_cookie(client, user_a)) as phone:
        phone.send(json.dumps({"type": "dial", "from": "+12125550123"}))
        sid = receive(phone)["callSid"]
        phone.send(json.dumps({"type": "say", "text": "How much does it cost per month?"}))
        until(phone, "first_word")
        phone.send(json.dumps({"type": "interrupt"}))
        phone.send(json.dumps({"type": "hangup"}))
        assert until(phone, "ended")[-1]["reason"] == "hangup"
    assert CallSession.objects.get(twilio_call_sid=sid).status == "completed"


def test_another_clients_agent_anonymous_users_and_other_origins_are_refused(
    relay_server, relay_agent, agent_b, user_a, user_b, client
):
    refused = {
        "anonymous": (relay_agent, None, None),
        "another client's agent": (agent_b, session_cookie(client, user_a), None),
        "another client's user": (relay_agent, session_cookie(client, user_b), None),
        "another site's page": (relay_agent, session_cookie(client, user_a), "https://evil.example.com"),
    }
    for name, (agent, cookie, origin) in refused.items():
        with pytest.raises(InvalidStatus) as refusal:
            open_phone(relay_server, agent, cookie=cookie, origin=origin)
        assert refusal.value.response.status_code == 403, name
    assert not CallSession.objects.exists()


def test_a_gather_agent_is_not_called_over_the_socket(relay_server, agent_a, user_a, client):
    with open_phone(relay_server, agent_a, cookie=session_cookie(client, user_a)) as phone:
        phone.send(json.dumps({"type": "dial", "from": "+12125550123"}))
        assert receive(phone) == {"type": "error", "message": "This agent does not use ConversationRelay."}
        phone.send("x" * 5000)
        assert receive(phone)["type"] == "error"
    assert not CallSession.objects.exists()


def test_the_simulator_page_of_a_relay_agent_carries_the_socket_phone_and_a_gather_agents_does_not(
    relay_agent, user_a, client
):
    client.force_login(user_a)
    page = client.get("/simulator/").content.decode()
    assert f'data-socket-path="/dashboard/phone/{relay_agent.public_id}/ws/"' in page
    assert "dashboard/relay_phone.js" in page and "<script>" not in page  # loaded from static/ (CSP)
    with time_machine.travel(MONDAY_10AM):
        customer = CustomerFactory(ai_agent=relay_agent)
        client.post("/calls/start/", {"customer_id": str(customer.pk)})
        call = CallSession.objects.get(ai_agent=relay_agent)
        assert f"/simulator/{call.twilio_call_sid}/answer/" in client.get("/simulator/").content.decode()
    relay_agent.voice_mode = "gather"
    relay_agent.save(update_fields=["voice_mode"])
    page = client.get("/simulator/").content.decode()
    assert "data-relay-phone" not in page and "relay_phone.js" not in page


def test_keys_are_sent_as_dtmf_and_answered_and_closing_the_page_hangs_up(relay_server, relay_agent, user_a, client):
    with open_phone(relay_server, relay_agent, cookie=session_cookie(client, user_a)) as phone:
        phone.send(json.dumps({"type": "dial", "from": "+12125550123"}))
        sid = receive(phone)["callSid"]
        phone.send(json.dumps({"type": "press", "digits": "1x"}))  # "x" is no key: dropped
        turn = until(phone, "turn_end")
        assert any(m["type"] == "token" and m["token"] for m in turn)
    caller = CallTurn.objects.filter(call__twilio_call_sid=sid, speaker="caller").get()
    assert caller.text == "1"  # the keys reached the engine as the caller's words
    deadline = time.monotonic() + 5
    while CallSession.objects.get(twilio_call_sid=sid).status != "completed":
        assert time.monotonic() < deadline, "the closed page did not hang up"
        time.sleep(0.05)


def test_steps_out_of_order_and_bad_numbers_are_answered_with_an_error(relay_server, relay_agent, user_a, client):
    with open_phone(relay_server, relay_agent, cookie=session_cookie(client, user_a)) as phone:
        phone.send(json.dumps({"type": "say", "text": "hello"}))
        assert receive(phone) == {"type": "error", "message": "There is no call in progress."}
        phone.send(json.dumps({"type": "dial", "from": "not a number"}))
        assert receive(phone)["type"] == "error"
        phone.send(json.dumps({"type": "dial", "from": "+12125550123"}))
        assert receive(phone)["type"] == "call"
        phone.send("[1, 2]")
        assert receive(phone) == {"type": "error", "message": "Unknown message."}
        phone.send(json.dumps({"type": "dial", "from": "+12125550123"}))
        assert receive(phone) == {"type": "error", "message": "This phone is already on a call."}
    assert CallSession.objects.count() == 1


@time_machine.travel(MONDAY_10AM)
def test_the_page_without_script_speaks_to_a_relay_agent_over_its_socket_one_step_at_a_time(
    relay_server, relay_agent, user_a, client, settings
):
    htmx = {"HTTP_HX_REQUEST": "true"}
    client.force_login(user_a)
    client.post("/simulator/dial/", {"from_number": "+12125550123"}, **htmx)
    call = CallSession.objects.get(ai_agent=relay_agent)
    step = client.post(f"/simulator/{call.twilio_call_sid}/say/", {"text": "How much does it cost per month?"}, **htmx)
    body = step.content.decode()
    assert "$89" in body and body.count("data-turn ") == 2  # the caller's words and the reply, stored
    reply = CallTurn.objects.filter(call=call, speaker="agent").last()
    assert reply.sequence == 2 and reply.first_token_ms is not None  # spoken over the socket
    bye = client.post(
        f"/simulator/{call.twilio_call_sid}/say/", {"text": "Please stop calling me, take me off your list"}, **htmx
    )
    assert "data-call-ended" in bye.content.decode()
    call.refresh_from_db()
    assert (call.status, call.outcome) == ("completed", "do_not_call")
