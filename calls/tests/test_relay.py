"""A relay-mode call end to end: signed webhooks and a real WebSocket to the ASGI app under uvicorn."""

from __future__ import annotations

import contextlib
import io
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from websockets.exceptions import InvalidStatus

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from calls.tests.conftest import PRICE_ANSWER, TwilioSim
from calls.tests.relay_phone import RELAY_BASE, RelayPhone
from customers.models import CustomerProfile
from integrations.tests.fake_openai import Canned, completion, streamed

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@pytest.fixture
def phone(relay_server, relay_agent, twilio_sim) -> Iterator[RelayPhone]:
    twilio_sim.agent = relay_agent
    phone = RelayPhone(relay_server, relay_agent, twilio_sim.call_sid)
    yield phone
    phone.close()


def twiml(response) -> ET.Element:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def agent_turns(call_sid: str) -> list[CallTurn]:
    return list(CallTurn.objects.filter(call__twilio_call_sid=call_sid, speaker="agent").order_by("sequence"))


def wait_for(check, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)
    return found


@time_machine.travel(MONDAY_10AM)
def test_a_whole_relay_call_streams_answers_books_a_callback_in_the_customers_zone_and_ends(phone, twilio_sim):
    document = twiml(twilio_sim.incoming())
    connect = document.find("Connect")
    relay = connect.find("ConversationRelay")
    assert connect.get("action").endswith(f"/webhooks/twilio/{phone.agent.public_id}/relay_action/")
    assert relay.get("url") == f"{RELAY_BASE}/relay/{phone.agent.public_id}/"
    greeting = relay.get("welcomeGreeting")
    assert "Sarah" in greeting and "Acme Solar" in greeting and "AI assistant" in greeting
    assert (relay.get("ttsProvider"), relay.get("voice"), relay.get("language")) == ("Amazon", "Joanna-Neural", "en-US")
    assert relay.get("interruptible") == "speech" and relay.get("dtmfDetection") == "true"
    assert relay.find("Parameter").get("value") == str(phone.agent.public_id)

    phone.open()
    phone.setup()
    price = phone.prompt("How much does it cost per month?")
    assert "$89" in price.text and price.end is None
    assert len(price.tokens) > 2  # streamed in pieces, then an empty last token

    objection = phone.prompt("Honestly that sounds way too expensive for us")
    assert PRICE_ANSWER in objection.text
    customer = CustomerProfile.objects.get(phone_number="+12125550123")
    assert [o["key"] for o in customer.objections] == ["price_too_high"]

    callback = phone.prompt("I'm busy right now, call me tomorrow afternoon", wait_end=5)
    assert callback.end == {"reason": "end_call", "outcome": "callback_requested"}
    booked = ScheduledCallback.objects.get(customer_profile=customer)
    local = booked.scheduled_datetime.astimezone(NY)
    assert (local.date().isoformat(), local.hour) == ("2026-11-24", 14)

    after = twiml(twilio_sim.post("relay_action", {"CallSid": twilio_sim.call_sid, "CallStatus": "in-progress",
                  "SessionStatus": "ended", "HandoffData": '{"reason": "end_call"}'}))  # fmt: skip
    assert [e.tag for e in after] == ["Hangup"]

    call = CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid)
    assert call.outcome == "callback_requested" and booked.source_call_id == call.pk
    turns = list(call.turns.order_by("sequence"))
    assert [t.speaker for t in turns] == ["agent", "caller", "agent", "caller", "agent", "caller", "agent"]
    assert turns[1].text == "How much does it cost per month?"
    assert turns[2].text == price.text  # stored as it was spoken
    for turn in turns[2::2]:
        assert 0 <= turn.first_token_ms <= turn.last_token_ms and turn.provider == "scripted"


@pytest.fixture
def own_twilio_tokens(settings, client_a, client_b):
    """The Twilio profile, each client on its own subaccount: each signs with its own token."""
    settings.TELEPHONY_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "platform-token"
    for client, digit in ((client_a, "a"), (client_b, "b")):
        client.twilio_subaccount_sid = "AC" + digit * 32
        client.twilio_auth_token = f"token-of-{client.slug}"
        client.save()
    return {"a": "token-of-acme-solar", "b": "token-of-bravo-roofing"}


def test_the_handshake_is_accepted_signed_and_refused_unsigned_forged_or_with_another_clients_token(
    own_twilio_tokens, phone, twilio_sim
):
    phone.agent.client.refresh_from_db()
    twilio_sim.incoming()
    forged = {
        "unsigned": None,
        "wrong": "c2lnbmF0dXJlIG9mIG5vdGhpbmc=",
        "another client's token": phone.signature(token=own_twilio_tokens["b"]),
        "the platform's token": phone.signature(token="platform-token"),
        "another URL": phone.signature(path="/relay/00000000-0000-0000-0000-000000000000/"),
    }
    turns = CallTurn.objects.count()
    for name, signature in forged.items():
        with pytest.raises(InvalidStatus) as refused:
            phone.open(signature=signature)
        assert refused.value.response.status_code == 403, name  # refused before any message
    unknown = "/relay/00000000-0000-0000-0000-000000000000/"
    with pytest.raises(InvalidStatus):
        phone.open(path=unknown)
    assert CallTurn.objects.count() == turns

    phone.open()  # signed with the client's own token over the public wss URL
    phone.setup()
    assert "$89" in phone.prompt("How much does it cost per month?").text


def test_an_opt_out_ends_the_session_and_marks_the_customer_do_not_call(phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    heard = phone.prompt("Please stop calling me, take me off your list", wait_end=5)
    assert heard.end == {"reason": "mark_do_not_call"}
    assert "won't call you again" in heard.text
    assert CustomerProfile.objects.get(phone_number="+12125550123").is_do_not_call
    after = twiml(twilio_sim.post("relay_action", {"CallSid": twilio_sim.call_sid, "SessionStatus": "ended"}))
    assert [e.tag for e in after] == ["Hangup"]
    assert CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid).outcome == "do_not_call"


def test_a_transfer_ends_the_session_and_the_action_url_dials_the_clients_number(phone, twilio_sim):
    client = phone.agent.client
    client.transfer_phone_number = "+14155550199"
    client.save()
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    heard = phone.prompt("I want to speak to a real person", wait_end=5)
    assert heard.end == {"reason": "transfer_to_human", "to": "+14155550199"}
    after = twiml(twilio_sim.post("relay_action", {"CallSid": twilio_sim.call_sid, "SessionStatus": "ended",
                  "HandoffData": '{"reason": "transfer_to_human"}'}))  # fmt: skip
    dial = after.find("Dial")
    assert dial.text == "+14155550199" and dial.get("callerId") == phone.agent.phone_number


def test_a_session_that_ended_without_our_end_hangs_up_politely(phone, twilio_sim):
    twilio_sim.incoming()
    after = twiml(twilio_sim.post("relay_action", {"CallSid": twilio_sim.call_sid, "SessionStatus": "failed"}))
    assert [e.tag for e in after] == ["Say", "Hangup"] and "Goodbye" in after.find("Say").text


def test_an_interrupt_cuts_the_stored_turn_to_what_the_caller_heard(phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    heard = phone.prompt("How much does it cost per month?")
    phone.send({"type": "interrupt", "utteranceUntilInterrupt": heard.text[:12], "durationUntilInterruptMs": "640"})
    cut = wait_for(lambda: next((t for t in agent_turns(twilio_sim.call_sid) if t.interrupted), None))
    assert cut.sequence == 2 and cut.text == heard.text[:12].strip()
    # The next turn's context is what was said: the caller goes on, and is answered.
    assert phone.prompt("Sorry, go on").tokens[-1] == ""
    assert not agent_turns(twilio_sim.call_sid)[-1].interrupted


def test_an_interrupt_during_the_greeting_cuts_the_greeting(phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    phone.send({"type": "interrupt", "utteranceUntilInterrupt": "Hi, this is", "durationUntilInterruptMs": 310})
    greeting = wait_for(lambda: next((t for t in agent_turns(twilio_sim.call_sid) if t.interrupted), None))
    assert (greeting.sequence, greeting.text) == (0, "Hi, this is")


def test_malformed_unknown_and_oversized_messages_are_dropped_and_the_socket_goes_on(phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.send({"type": "prompt", "voicePrompt": "before setup", "last": True})  # no call yet: dropped
    phone.setup()
    for bad in ("{not json", "[1, 2]", '"a string"', {"type": "bogus", "x": 1}, {"type": "prompt"},
                {"type": "dtmf", "digit": "xyz"}, {"type": "interrupt", "durationUntilInterruptMs": "soon"},
                {"type": "error", "description": "Invalid message received"}, "x" * 100_000):  # fmt: skip
        phone.send(bad)
    with pytest.raises(TimeoutError):
        phone.receive(timeout=0.5)  # nothing answered any of them (an invalid reply would be error 64107)
    assert "$89" in phone.prompt("How much does it cost per month?").text

    long = "please tell me more " * 400  # 8,000 characters of speech
    assert phone.prompt(long).text
    caller = CallTurn.objects.filter(call__twilio_call_sid=twilio_sim.call_sid, speaker="caller").last()
    assert 1990 <= len(caller.text) <= 2000  # bounded before it reaches the database


def test_dtmf_keys_reach_the_engine_as_the_callers_words(phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    for key in "12#":
        phone.send({"type": "dtmf", "digit": key})
    assert phone.hear().text
    caller = CallTurn.objects.get(call__twilio_call_sid=twilio_sim.call_sid, speaker="caller")
    assert caller.text == "12"


def test_a_socket_for_an_unknown_call_is_ended(phone):
    phone.open()
    phone.setup(callSid="CA" + "f" * 32)
    assert phone.hear().end == {"reason": "unknown_call"}


def test_two_sockets_for_one_call_never_answer_one_prompt_twice(phone, twilio_sim, relay_server):
    twilio_sim.incoming()
    other = RelayPhone(relay_server, phone.agent, twilio_sim.call_sid)
    try:
        for socket in (phone, other):
            socket.open()
            socket.setup()
        prompt = {"type": "prompt", "voicePrompt": "How much does it cost per month?", "last": True}
        phone.send(prompt)
        other.send(prompt)
        answers = []
        for socket in (phone, other):
            with contextlib.suppress(TimeoutError):
                answers.append(socket.hear(timeout=3).text)
        assert len(answers) == 1 and "$89" in answers[0]
        turns = CallTurn.objects.filter(call__twilio_call_sid=twilio_sim.call_sid).order_by("sequence")
        assert [t.speaker for t in turns] == ["agent", "caller", "agent"]
        # The socket that lost the prompt serves the next one: either may, never both.
        other.send({"type": "prompt", "voicePrompt": "Is there a home battery?", "last": True})
        assert other.hear().text
    finally:
        other.close()


# --- the production profile: the real openai client streaming from a fake OpenAI-compatible server ------


def test_an_openai_reply_is_spoken_as_it_streams_and_its_streamed_tool_call_ends_the_session(
    fake_llm, phone, twilio_sim
):
    twilio_sim.incoming()  # the greeting is the model's whole reply ("Hello from the model.")
    phone.open()
    phone.setup()
    words = ["We", " install", " in", " two", " weeks,", " and", " panels", " start", " at", " $89", " a", " month."]
    fake_llm.respond(streamed(*words, tool_calls=[("end_call", {"outcome": "interested"})],
                              first_token_s=0.3, tokens_per_s=40))  # fmt: skip
    sent = time.monotonic()
    phone.send({"type": "prompt", "voicePrompt": "How soon can you install, and what does it cost?", "last": True})
    first = phone.receive()
    first_at = time.monotonic() - sent
    rest = phone.hear(wait_end=5)
    whole_at = time.monotonic() - sent
    assert first["type"] == "text" and first["token"] == "We" and not first["last"]  # the first word at once
    assert first_at >= 0.3 and whole_at - first_at >= 0.15  # spoken while the model still writes
    assert (first["token"] + "".join(rest.tokens)).strip() == "".join(words)
    assert rest.end == {"reason": "end_call", "outcome": "interested"}

    turn = agent_turns(twilio_sim.call_sid)[-1]
    assert turn.text == "".join(words) and turn.provider == "openai"
    assert 300 <= turn.first_token_ms < turn.last_token_ms
    assert [a["type"] for a in turn.actions] == ["end_call"]
    assert fake_llm.requests[-1]["stream"] is True


def test_an_interrupt_mid_stream_cancels_the_rest_and_keeps_what_was_heard(fake_llm, phone, twilio_sim):
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    fake_llm.respond(streamed("Let me", " tell you", " all about", " our", " wonderful", " panels", " and",
                              " batteries", " today.", tool_calls=[("set_interest_level", {"level": "hot"})],
                              tokens_per_s=6))  # fmt: skip
    phone.send({"type": "prompt", "voicePrompt": "What do you sell?", "last": True})
    first = phone.receive()
    phone.send({"type": "interrupt", "utteranceUntilInterrupt": first["token"], "durationUntilInterruptMs": 200})
    with pytest.raises(TimeoutError):
        while True:  # a token already on its way may arrive; then nothing more, and no last token
            message = phone.receive(timeout=0.6)
            assert message["type"] == "text" and not message["last"]
    turn = wait_for(lambda: next((t for t in agent_turns(twilio_sim.call_sid) if t.interrupted), None))
    assert turn.text == first["token"].strip() and turn.actions == []  # the unfinished reply decided nothing
    assert CustomerProfile.objects.get(phone_number="+12125550123").interest_level == "cold"


def stored_call(call_sid: str) -> dict:
    """What a call left behind, without what is unique to the row (ids)."""
    call = CallSession.objects.select_related("customer_profile").get(twilio_call_sid=call_sid)
    customer = call.customer_profile
    turns = [
        (
            t.sequence,
            t.speaker,
            t.text,
            t.provider,
            [{k: v for k, v in a.items() if k != "callback_id"} for a in t.actions],
        )
        for t in call.turns.order_by("sequence")
    ]
    callbacks = [(c.scheduled_datetime, c.reason) for c in ScheduledCallback.objects.filter(customer_profile=customer)]
    return {"turns": turns, "outcome": call.outcome, "interest": customer.interest_level,
            "objections": [o["key"] for o in customer.objections], "callbacks": callbacks}  # fmt: skip


@time_machine.travel(MONDAY_10AM)
def test_the_same_model_answers_leave_the_same_call_behind_over_the_socket_and_over_gather(
    fake_llm, phone, twilio_sim, client
):
    """One engine, two transports: the webhook's turn is the socket's stream collected."""
    prompts = ["That sounds too expensive for us", "Call me tomorrow at two then"]

    def the_model_answers() -> None:
        fake_llm.respond(
            Canned(body=completion("Hi, this is Sarah from Acme Solar. Do you have a minute?")),
            streamed("I hear you.", " Most customers", " pay nothing", " upfront.", tokens_per_s=50, tool_calls=[
                ("record_objection", {"key": "price_too_high", "text": "too expensive"}),
                ("set_interest_level", {"level": "warm"}),
            ]),
            streamed("Of course,", " tomorrow at 2 PM it is.", tokens_per_s=50, tool_calls=[
                ("schedule_callback", {"when": "2026-11-24T14:00:00", "reason": "Discuss pricing"}),
                ("end_call", {"outcome": "callback_requested"}),
            ]),
        )  # fmt: skip

    the_model_answers()
    twilio_sim.incoming()
    phone.open()
    phone.setup()
    spoken = [phone.prompt(prompts[0]), phone.prompt(prompts[1], wait_end=5)]
    assert spoken[1].end == {"reason": "end_call", "outcome": "callback_requested"}

    the_model_answers()
    AIAgent.objects.filter(pk=phone.agent.pk).update(voice_mode="gather")
    gather = TwilioSim(client, phone.agent)
    assert twiml(gather.incoming(from_number="+16465550142")).find("Gather") is not None
    said = [gather.say(prompts[0]), gather.say(prompts[1])]
    assert b"<Hangup" in said[1].content

    over_the_socket, over_gather = stored_call(twilio_sim.call_sid), stored_call(gather.call_sid)
    assert over_the_socket == over_gather
    assert [t[2] for t in over_the_socket["turns"][2::2]] == [heard.text for heard in spoken]
    assert over_the_socket["turns"][2][4] == [
        {"type": "record_objection", "key": "price_too_high"},
        {"type": "set_interest_level", "level": "warm"},
        {"type": "answered_objection", "key": "price_too_high"},
    ]
    assert over_the_socket["callbacks"] and over_the_socket["outcome"] == "callback_requested"
    assert [r.get("stream") for r in fake_llm.requests] == [True] * 6  # every answer, greetings too, streamed


@time_machine.travel(MONDAY_10AM)
def test_the_terminal_phone_talks_to_a_relay_agent_over_a_signed_socket(phone, twilio_sim, relay_server, monkeypatch):
    lines = iter(["How much does it cost per month?", "I'm busy right now, call me tomorrow afternoon"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    out = io.StringIO()
    call_command("phone", agent=phone.agent.client.slug, from_number="+1 646 555 0142", server=relay_server, stdout=out)
    text = out.getvalue()
    assert "$89" in text and "Call ended." in text
    call = CallSession.objects.get(customer_profile__phone_number="+16465550142")
    assert (call.status, call.outcome) == ("completed", "callback_requested")
    assert all(t.first_token_ms is not None for t in call.turns.filter(speaker="agent", sequence__gt=0))


def test_the_terminal_phone_says_so_when_no_server_serves_the_socket(phone, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt="": "hello")
    with pytest.raises(CommandError, match="Could not open the relay socket"):
        call_command("phone", agent=phone.agent.client.slug, server="ws://127.0.0.1:9", stdout=io.StringIO())
