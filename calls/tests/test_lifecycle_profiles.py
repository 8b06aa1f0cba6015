"""A call's whole life, run twice: on the embedded defaults and in the production configuration.

``embedded``: the scripted agent and the simulated phone's token, as ``make run`` starts.
``production``: ``LLM_PROVIDER=openai`` against a local OpenAI-compatible server and
``TELEPHONY_BACKEND=twilio`` against a local api.twilio.com, both through the real SDKs, as
clients run. The assertions are the same: every call ends final with its outcome, the
customer's and agent's counters, the learned memory and its follow-up. In production the
model's replies are canned to carry the same actions the scripted agent takes, and the
post-call sentiment comes from the model (a Celery task after the call closed).

Select one profile with ``-k embedded`` or ``-k production``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls import tasks
from calls.models import CallSession
from calls.tests.conftest import TwilioSim
from calls.tests.fake_twilio import FakeTwilioServer
from customers.models import CustomerProfile
from customers.tests.factories import CustomerFactory
from integrations.tests.fake_openai import Canned, FakeOpenAIServer, completion, is_sentiment_request, tool_call

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=NY)
START = "/api/agents/ai/start-call/"
OUTCOME = "/api/agents/ai/call-outcome/"
MODEL_SENTIMENT = {"label": "positive", "score": 0.8}


@dataclass
class Profile:
    name: str
    llm: FakeOpenAIServer | None = None
    twilio: FakeTwilioServer | None = None

    @property
    def production(self) -> bool:
        return self.name == "production"

    def model_says(self, text: str, *tools: dict) -> None:
        """The model's next reply; the scripted agent needs no script (it decides the same from the words)."""
        if self.llm is not None:
            self.llm.respond(Canned(body=completion(text, tool_calls=list(tools) or None)))

    def sentiment_requests(self) -> list[dict]:
        return self.llm.requests_where(is_sentiment_request) if self.llm is not None else []

    def dials(self) -> list[dict]:
        return [r for r in self.twilio.received if r["path"].endswith("/Calls.json")] if self.twilio else []


@pytest.fixture(params=["embedded", "production"])
def profile(request, settings) -> Profile:
    if request.param == "embedded":
        return Profile("embedded")
    llm: FakeOpenAIServer = request.getfixturevalue("fake_llm")
    twilio: FakeTwilioServer = request.getfixturevalue("fake_twilio")
    twilio.unique_sids = True
    llm.respond_when(is_sentiment_request, Canned(body=completion(json.dumps(MODEL_SENTIMENT))))
    return Profile("production", llm=llm, twilio=twilio)


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY_10AM, tick=True):
        yield


@pytest.fixture
def sim(profile, monday, client, trained_agent) -> TwilioSim:
    return TwilioSim(client, trained_agent)


@pytest.fixture
def hang_up(django_capture_on_commit_callbacks):
    """The ``completed`` status webhook, with the work it enqueues after commit run (Celery is eager)."""

    def post(sim: TwilioSim, *, seq: int, status: str = "completed", duration: int = 42):
        with django_capture_on_commit_callbacks(execute=True):
            response = sim.status(status, seq=seq, duration=duration)
        assert response.status_code == 204
        return CallSession.objects.select_related("customer_profile", "ai_agent").get(twilio_call_sid=sim.call_sid)

    return post


@pytest.fixture
def learn(django_capture_on_commit_callbacks):
    """The learning beat tick and the per-agent runs it fans out."""

    def run(agent: AIAgent) -> AIAgent:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.learn_outcomes.delay()
        return AIAgent.objects.get(pk=agent.pk)

    return run


def assert_sentiment(profile: Profile, call: CallSession, *, caller_line: str) -> None:
    """Lexicon at the close; in production the model's rating replaced it once the call had closed."""
    if not profile.production:
        assert call.sentiment_analysis["analyzer"] == "lexicon"
        return
    assert call.sentiment_analysis["analyzer"] == "llm"
    assert (call.sentiment_analysis["label"], call.sentiment_analysis["score"]) == ("positive", 0.8)
    (asked,) = profile.sentiment_requests()
    assert f"Customer: {caller_line}" in asked["messages"][-1]["content"]


def answer_outbound(sim: TwilioSim, profile: Profile, *, answered_by: str = "human") -> bytes:
    """Twilio's events for an outbound call someone picks up: ringing, answered, then the AMD verdict."""
    sim.status("ringing", seq=1)
    sim.status("in-progress", seq=2)
    profile.model_says("Hi, this is Sarah from Acme Solar. Do you have a minute?")
    greeting = sim.post("answered", {"CallSid": sim.call_sid, "CallStatus": "in-progress"})
    assert greeting.status_code == 200 and b"<Say" in greeting.content
    assert sim.post("amd", {"CallSid": sim.call_sid, "AnsweredBy": answered_by}).status_code == 204
    return greeting.content


def test_inbound_call_with_turns_then_hang_up_closes_with_outcome_counters_learning_and_sentiment(
    profile, sim, trained_agent, hang_up, learn
):
    profile.model_says("Hi, this is Sarah from Acme Solar. Do you have a minute?")
    assert b"Sarah" in sim.incoming().content
    profile.model_says("It's zero down, from $89 a month.")
    assert b"$89" in sim.say("How much does it cost per month?").content
    wants_callback = "I'm busy right now, call me tomorrow afternoon"
    profile.model_says(
        "Of course, I'll call you tomorrow afternoon.",
        tool_call("schedule_callback", {"when": "2026-11-24T14:00:00", "reason": "Customer asked for a callback"}),
        tool_call("end_call", {"outcome": "callback_requested"}, call_id="call_2"),
    )
    assert b"<Hangup" in sim.say(wants_callback).content

    call = hang_up(sim, seq=5, duration=95)

    assert (call.status, call.outcome, call.duration_seconds) == ("completed", "callback_requested", 95)
    assert call.is_final and call.ended_at is not None and call.outcome_learned
    assert f"Caller: {wants_callback}" in call.conversation_transcript
    customer = call.customer_profile
    assert (customer.total_calls, customer.interest_level) == (1, "warm")
    booked = ScheduledCallback.objects.get(customer_profile=customer)
    assert booked.status == "scheduled" and booked.source_call_id == call.pk
    assert booked.scheduled_datetime.astimezone(NY) == datetime(2026, 11, 24, 14, 0, tzinfo=NY)
    agent = learn(trained_agent)
    assert agent.calls_handled == 1 and agent.learned_through is not None
    assert agent.conversation_memory["outcomes"] == {"callback_requested": 1}
    assert agent.conversation_memory["processed_calls"] == 1
    assert_sentiment(profile, call, caller_line=wants_callback)
    # The status webhook again (Twilio retries): nothing is counted twice.
    assert sim.status("completed", seq=6).status_code == 204
    assert CustomerProfile.objects.get(pk=customer.pk).total_calls == 1


def test_outbound_call_placed_answered_by_a_human_converts(profile, sim, api_a, trained_agent, hang_up, learn):
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 201, response.json()
    sim.call_sid = response.json()["twilio_call_sid"]
    assert len(profile.dials()) == (1 if profile.production else 0)
    answer_outbound(sim, profile)
    sign_up = "Sounds great, sign me up!"
    profile.model_says(
        "Welcome aboard! Our team will be in touch.",
        tool_call("set_interest_level", {"level": "converted"}),
        tool_call("end_call", {"outcome": "converted"}, call_id="call_2"),
    )
    assert b"<Hangup" in sim.say(sign_up).content

    call = hang_up(sim, seq=3)

    assert (call.status, call.call_type, call.answered_by, call.outcome) == (
        "completed",
        "outbound",
        "human",
        "converted",
    )
    assert call.answered_at is not None and call.outcome_learned
    assert not call.turns.filter(provider="voicemail").exists()
    customer = call.customer_profile
    assert (customer.interest_level, customer.total_calls, customer.successful_calls) == ("converted", 1, 1)
    agent = learn(trained_agent)
    assert (agent.calls_handled, agent.successful_conversions) == (1, 1)
    assert agent.conversation_memory["outcomes"] == {"converted": 1}
    assert not ScheduledCallback.objects.exists()  # a sale needs no follow-up
    assert_sentiment(profile, call, caller_line=sign_up)
    if profile.production:
        assert profile.twilio.calls_updated(sim.call_sid) == []  # no voicemail was played over the human


def test_outbound_call_answered_by_a_machine_leaves_the_voicemail_and_books_a_followup(
    profile, sim, api_a, trained_agent, hang_up, learn
):
    trained_agent.voicemail_message = "Hi, it's Sarah from Acme Solar about your solar quote. I'll try again soon."
    trained_agent.save()
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 201, response.json()
    sim.call_sid = response.json()["twilio_call_sid"]
    answer_outbound(sim, profile, answered_by="machine_end_beep")

    call = hang_up(sim, seq=3, duration=20)

    assert (call.status, call.answered_by, call.outcome) == ("completed", "machine_end_beep", "voicemail")
    assert "try again soon" in call.turns.get(provider="voicemail").text
    followup = ScheduledCallback.objects.get(kind="followup")
    assert followup.source_call_id == call.pk and followup.status == "scheduled"
    assert followup.scheduled_datetime >= call.ended_at + timedelta(minutes=trained_agent.followup_delay_minutes - 1)
    assert call.followup_scheduled
    assert call.customer_profile.total_calls == 1
    agent = learn(trained_agent)
    assert agent.calls_handled == 1 and agent.conversation_memory["outcomes"] == {"voicemail": 1}
    if profile.production:
        (update,) = profile.twilio.calls_updated(sim.call_sid)
        assert "try again soon" in update["form"]["Twiml"][0]


@pytest.mark.parametrize("status", ["busy", "no-answer"])
def test_an_unanswered_outbound_call_books_a_followup(profile, sim, api_a, trained_agent, hang_up, learn, status):
    response = api_a.post(START, {"phone_number": "+12125550123"}, format="json")
    assert response.status_code == 201, response.json()
    sim.call_sid = response.json()["twilio_call_sid"]
    sim.status("ringing", seq=1)

    call = hang_up(sim, seq=2, status=status, duration=0)

    assert (call.status, call.outcome, call.answered_at) == (status.replace("-", "_"), "no_answer", None)
    assert call.followup_scheduled
    followup = ScheduledCallback.objects.get(kind="followup")
    assert followup.source_call_id == call.pk and followup.priority_level == 4
    assert call.customer_profile.total_calls == 1 and call.sentiment_analysis == {}
    agent = learn(trained_agent)
    assert agent.calls_handled == 1 and agent.conversation_memory["outcomes"] == {"no_answer": 1}
    assert profile.sentiment_requests() == []  # nobody spoke: nothing to rate


def test_a_due_callback_is_dialled_by_the_beat_task_and_completed_when_answered(
    profile, sim, trained_agent, hang_up, learn, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123", timezone="America/New_York")
    callback = ScheduledCallback.objects.create(
        ai_agent=trained_agent,
        customer_profile=customer,
        scheduled_datetime=MONDAY_10AM - timedelta(minutes=1),
        reason="Customer asked for a callback",
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch_due_callbacks.delay()
    call = CallSession.objects.get(callback=callback)
    assert call.call_type == "scheduled" and call.twilio_call_sid
    assert len(profile.dials()) == (1 if profile.production else 0)
    sim.call_sid = call.twilio_call_sid
    answer_outbound(sim, profile)
    goodbye = "Okay, goodbye"
    profile.model_says("Thanks for your time. Have a great day!", tool_call("end_call", {"outcome": "answered"}))
    assert b"<Hangup" in sim.say(goodbye).content

    call = hang_up(sim, seq=3)

    assert (call.status, call.outcome) == ("completed", "answered")
    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.lease_expires_at) == ("completed", 1, None)
    assert call.customer_profile.total_calls == 1
    agent = learn(trained_agent)
    assert agent.calls_handled == 1 and agent.conversation_memory["outcomes"] == {"answered": 1}
    assert_sentiment(profile, call, caller_line=goodbye)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch_due_callbacks.delay()
    assert CallSession.objects.count() == 1  # a completed callback is never dialled again


def test_the_call_outcome_api_reclassifies_a_closed_call_for_its_client_only(
    profile, sim, api_a, api_b, agent_b, trained_agent, hang_up, learn
):
    profile.model_says("Hi, this is Sarah from Acme Solar. Do you have a minute?")
    sim.incoming()
    profile.model_says("Thanks for your time. Have a great day!", tool_call("end_call", {"outcome": "answered"}))
    sim.say("Okay, goodbye")
    call = hang_up(sim, seq=3)
    assert call.outcome == "answered" and call.outcome_learned
    body = {"call_id": str(call.pk), "outcome": "interested", "customer_response": "Liked it but it's too expensive"}

    assert api_b.post(OUTCOME, body, format="json").status_code == 404
    assert CallSession.objects.get(pk=call.pk).outcome == "answered"
    response = api_a.post(OUTCOME, body, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["counted"], result["changed"], result["learned"]) == (False, True, True)
    customer = CustomerProfile.objects.get(pk=call.customer_profile_id)
    assert (customer.total_calls, customer.successful_calls, customer.interest_level) == (1, 1, "warm")
    assert "price_too_high" in {o["key"] for o in customer.objections}
    agent = learn(trained_agent)
    assert agent.calls_handled == 1 and agent.conversation_memory["outcomes"] == {"interested": 1}


def test_a_silent_line_is_prompted_twice_then_ended_without_asking_the_model(profile, sim, trained_agent, hang_up):
    profile.model_says("Hi, this is Sarah from Acme Solar. Do you have a minute?")
    sim.incoming()
    asked_before = len(profile.llm.requests) if profile.llm else 0

    first, second, third = (sim.say(None).content for _ in range(3))

    assert b"still there" in first and b"still there" in second and b"<Gather" in second
    assert b"lost the connection" in third and b"<Hangup" in third
    assert (len(profile.llm.requests) if profile.llm else 0) == asked_before  # silence costs no model call
    call = hang_up(sim, seq=3)
    assert (call.status, call.outcome, call.sentiment_analysis) == ("completed", "answered", {})
    assert call.customer_profile.total_calls == 1 and profile.sentiment_requests() == []


def test_a_caller_who_says_stop_calling_is_never_called_again_whatever_the_model_answers(
    profile, sim, trained_agent, hang_up
):
    profile.model_says("Hi, this is Sarah from Acme Solar. Do you have a minute?")
    sim.incoming()
    call = CallSession.objects.get(twilio_call_sid=sim.call_sid)
    pending = ScheduledCallback.objects.create(
        ai_agent=trained_agent,
        customer_profile=call.customer_profile,
        scheduled_datetime=MONDAY_10AM + timedelta(days=2),
    )
    profile.model_says("I totally understand! But let me tell you about our zero-down offer.")  # no tool call

    reply = sim.say("Please take me off your list and stop calling me")

    assert b"<Hangup" in reply.content and b"<Gather" not in reply.content
    assert b"call list" in reply.content  # the caller hears that it was done
    assert CustomerProfile.objects.get(pk=call.customer_profile_id).is_do_not_call
    pending.refresh_from_db()
    assert pending.status == "canceled"
    call = hang_up(sim, seq=3)
    assert (call.status, call.outcome) == ("completed", "do_not_call")
    assert not ScheduledCallback.objects.filter(status="scheduled").exists()  # no follow-up either
