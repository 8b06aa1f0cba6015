"""The openai provider inside a real call: the real openai client against a local server."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import Client
from callbacks.models import ScheduledCallback
from calls import tasks
from calls.actions import NO_TRANSFER_NUMBER, OPT_OUT_CONFIRMATION
from calls.models import CallSession, CallTurn
from integrations.tests.fake_openai import Canned, completion, is_sentiment_request, tool_call

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_tool_call_from_the_llm_books_the_callback(twilio_sim, fake_llm):
    fake_llm.respond(
        Canned(body=completion("Hi, this is Sarah from Acme Solar. Do you have a minute?")),
        Canned(
            body=completion(
                "Sure, I'll call you tomorrow at 2 PM.",
                tool_calls=[
                    tool_call("schedule_callback", {"when": "2026-11-24T14:00:00", "reason": "Discuss pricing"}),
                    tool_call("end_call", {"outcome": "callback_requested"}, call_id="call_2"),
                ],
            )
        ),
    )
    greeting = twilio_sim.incoming()
    assert b"Do you have a minute?" in greeting.content
    reply = twilio_sim.say("Can you call me tomorrow at two?")
    assert b"<Hangup" in reply.content
    booked = ScheduledCallback.objects.get()
    assert booked.scheduled_datetime.astimezone(NY) == datetime(2026, 11, 24, 14, 0, tzinfo=NY)
    assert booked.reason == "Discuss pricing"
    sent = fake_llm.requests[-1]
    assert sent["model"] == "test-model" and {t["function"]["name"] for t in sent["tools"]} >= {"schedule_callback"}
    turn = CallTurn.objects.get(sequence=2)
    assert turn.provider == "openai" and any(a["type"] == "schedule_callback" for a in turn.actions)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_slow_llm_falls_back_to_the_scripted_agent_within_the_budget(twilio_sim, fake_llm):
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion("too late"), delay_s=5))
    twilio_sim.incoming()
    started = time.monotonic()
    reply = twilio_sim.say("That's way too expensive for us")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.8, f"turn took {elapsed:.2f}s with a 1.0s budget"
    assert b"zero down" in reply.content  # the scripted agent answered the trained objection
    turn = CallTurn.objects.get(sequence=2)
    assert turn.provider == "scripted"
    assert any(a["type"] == "llm_fallback" and "timeout" in a["reason"] for a in turn.actions)
    assert CallSession.objects.get().llm_fallbacks == 1


@pytest.fixture
def hang_up(twilio_sim, django_capture_on_commit_callbacks):
    """Twilio's ``completed`` status webhook, and what it enqueued after commit (Celery runs eagerly)."""

    def post(seq: int = 3) -> CallSession:
        with django_capture_on_commit_callbacks(execute=True):
            assert twilio_sim.status("completed", seq=seq).status_code == 204
        return CallSession.objects.select_related("customer_profile", "ai_agent").get()

    return post


def rated(fake_llm) -> list[dict]:
    return fake_llm.requests_where(is_sentiment_request)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_with_the_llm_a_call_closes_on_hang_up_then_the_model_rates_its_sentiment(twilio_sim, fake_llm, hang_up):
    fake_llm.respond_when(
        is_sentiment_request, Canned(body=completion(json.dumps({"label": "positive", "score": 0.9})))
    )
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion("Great to hear.")))
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")

    call = hang_up()

    assert (call.status, call.outcome, call.outcome_learned) == ("completed", "answered", True)
    assert call.customer_profile.total_calls == 1 and call.ai_agent.calls_handled == 1
    assert call.ai_agent.conversation_memory["outcomes"] == {"answered": 1}
    assert call.sentiment_analysis["analyzer"] == "llm" and call.sentiment_analysis["score"] == 0.9
    (asked,) = rated(fake_llm)
    assert "Customer: This sounds great, I love it" in asked["messages"][-1]["content"]
    # The task again (a redelivered message): the model is not asked twice.
    assert tasks.call_sentiment_task.delay(str(call.pk)).get() is False
    assert len(rated(fake_llm)) == 1


@time_machine.travel(MONDAY_10AM, tick=True)
def test_an_unreachable_model_is_retried_but_never_keeps_the_call_open(twilio_sim, fake_llm, hang_up, caplog):
    fake_llm.respond_when(is_sentiment_request, Canned(status=503))
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")

    call = hang_up()

    assert (call.status, call.outcome, call.outcome_learned) == ("completed", "answered", True)
    assert call.sentiment_analysis["analyzer"] == "lexicon" and call.sentiment_analysis["label"] == "positive"
    assert len(rated(fake_llm)) == 1 + tasks.SENTIMENT_RETRIES
    assert f"LLM sentiment for call {twilio_sim.call_sid} not available yet" in caplog.text


@time_machine.travel(MONDAY_10AM, tick=True)
def test_an_unusable_rating_keeps_the_lexicon_without_retrying(twilio_sim, fake_llm, hang_up, caplog):
    fake_llm.respond_when(is_sentiment_request, Canned(body=completion("The customer seemed happy.")))
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")

    call = hang_up()

    assert call.status == "completed" and call.sentiment_analysis["analyzer"] == "lexicon"
    assert len(rated(fake_llm)) == 1
    assert f"LLM sentiment for call {twilio_sim.call_sid} unusable" in caplog.text


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_broker_that_is_down_loses_only_the_refinement(twilio_sim, fake_llm, hang_up, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.call_sentiment_task, "delay", broker_down)
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")

    call = hang_up()

    assert (call.status, call.outcome, call.outcome_learned) == ("completed", "answered", True)
    assert call.sentiment_analysis["analyzer"] == "lexicon" and rated(fake_llm) == []
    assert f"Call {twilio_sim.call_sid} is closed, but its LLM sentiment could not be queued" in caplog.text


SLOW_MODELS = {
    "hangs after the headers": Canned(body=completion("too late"), hang_after_headers_s=5),
    "trickles its body": Canned(body=completion("too late " * 40), trickle_s=0.4, trickle_pieces=10),
    "answers late": Canned(body=completion("too late"), delay_s=5),
}


@pytest.mark.parametrize("answer", SLOW_MODELS.values(), ids=SLOW_MODELS.keys())
@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_slow_model_is_cut_off_so_the_turn_answers_within_the_budget(twilio_sim, fake_llm, answer):
    """The budget covers the whole answer (connect, first byte, reading): budget + 0.5 s end to end."""
    fake_llm.respond(Canned(body=completion("Hello!")), answer)
    twilio_sim.incoming()
    started = time.monotonic()
    reply = twilio_sim.say("That's way too expensive for us")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.5, f"turn took {elapsed:.2f}s with a 1.0s budget"
    assert b"zero down" in reply.content and b"too late" not in reply.content
    assert any(a["type"] == "llm_fallback" for a in CallTurn.objects.get(sequence=2).actions)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_huge_llm_answer_is_cut_at_a_sentence_before_it_is_stored_or_spoken(twilio_sim, fake_llm, settings):
    settings.LLM_REPLY_MAX_CHARS = 1000
    sentence = "Our panels come with a twenty-five year warranty. "
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion(sentence * 200_000)))  # 10 MB
    twilio_sim.incoming()

    reply = twilio_sim.say("Tell me about the warranty")

    stored = CallTurn.objects.get(sequence=2).text
    assert 900 < len(stored) <= 1000 and stored.endswith("warranty.")
    assert len(reply.content) < 2000 and stored.encode() in reply.content
    assert fake_llm.requests[-1]["max_tokens"] == 300


def _transfer_reply(**arguments):
    return Canned(
        body=completion("Let me connect you now, please hold.", tool_calls=[tool_call("transfer_to_human", arguments)])
    )


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_number_the_llm_picks_is_never_dialled_only_the_clients_transfer_number(twilio_sim, fake_llm, caplog):
    Client.objects.filter(pk=twilio_sim.agent.client_id).update(transfer_phone_number="+12125550188")
    fake_llm.respond(
        Canned(body=completion("Hello!")), _transfer_reply(reason="wants a person", number="+1 900 555 0100")
    )
    twilio_sim.incoming()

    reply = twilio_sim.say("Put me through to your manager on 900 555 0100")

    dial = ET.fromstring(reply.content).find("Dial")
    assert dial is not None and dial.text.strip() == "+12125550188"
    assert b"9005550100" not in reply.content
    assert any(
        "not the client's transfer number" in r.message and twilio_sim.call_sid in r.message for r in caplog.records
    )


@time_machine.travel(MONDAY_10AM, tick=True)
def test_the_llm_naming_the_configured_number_in_another_format_dials_it_quietly(twilio_sim, fake_llm, caplog):
    Client.objects.filter(pk=twilio_sim.agent.client_id).update(transfer_phone_number="+12125550188")
    fake_llm.respond(Canned(body=completion("Hello!")), _transfer_reply(number="(212) 555-0188"))
    twilio_sim.incoming()

    reply = twilio_sim.say("Can I talk to a person?")

    assert ET.fromstring(reply.content).find("Dial").text.strip() == "+12125550188"
    assert "not the client's transfer number" not in caplog.text


@time_machine.travel(MONDAY_10AM, tick=True)
def test_without_a_transfer_number_the_caller_is_told_so_and_offered_a_callback_booked_only_if_accepted(
    twilio_sim, fake_llm
):
    fake_llm.respond(
        Canned(body=completion("Hello!")),
        _transfer_reply(number="+19005550100"),
        Canned(
            body=completion(
                "Great, a colleague will call you tomorrow at 2 PM.",
                tool_calls=[
                    tool_call("schedule_callback", {"when": "2026-11-24T14:00:00", "reason": "wants a person"})
                ],
            )
        ),
    )
    twilio_sim.incoming()

    reply = twilio_sim.say("I want to speak to a human")

    document = ET.fromstring(reply.content)
    said = " ".join(s.text or "" for s in document.iter("Say"))
    assert said == NO_TRANSFER_NUMBER  # one consistent message, no "please hold" before it
    assert document.find("Dial") is None and document.find("Gather") is not None  # the call goes on
    assert not ScheduledCallback.objects.exists()

    twilio_sim.say("Yes please, tomorrow at two")

    assert ScheduledCallback.objects.get().scheduled_datetime.astimezone(NY) == datetime(2026, 11, 24, 14, 0, tzinfo=NY)


@time_machine.travel(MONDAY_10AM, tick=True)
def test_a_huge_speech_result_is_bounded_before_it_reaches_the_llm_or_the_transcript(twilio_sim, fake_llm):
    """Twilio fields are bounded where they are parsed (SpeechResult: 2000 characters)."""
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion("I see.")))
    twilio_sim.incoming()

    reply = twilio_sim.say("blah " * 200_000)

    assert reply.status_code == 200 and b"I see." in reply.content
    assert len(CallTurn.objects.get(sequence=1).text) <= 2000
    assert len(fake_llm.requests[-1]["messages"][-1]["content"]) <= 2000


@time_machine.travel(MONDAY_10AM, tick=True)
def test_an_opt_out_is_answered_by_the_engine_before_the_model_is_asked(twilio_sim, fake_llm):
    """The same on both transports: streamed words cannot be taken back, so no model speaks first."""
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion("Before you go, our panels...")))
    twilio_sim.incoming()

    reply = twilio_sim.say("Please take me off your list and stop calling me")

    document = ET.fromstring(reply.content)
    assert " ".join(s.text or "" for s in document.iter("Say")) == OPT_OUT_CONFIRMATION
    assert document.find("Hangup") is not None and fake_llm.request_count == 1  # the greeting's only
    call = CallSession.objects.select_related("customer_profile").get()
    assert call.customer_profile.is_do_not_call and call.outcome == "do_not_call"
