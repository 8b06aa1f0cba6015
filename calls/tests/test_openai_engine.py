"""The openai provider inside a real call: the real openai client against a local server."""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from kombu.exceptions import OperationalError as KombuOperationalError

from callbacks.models import ScheduledCallback
from calls import tasks
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
