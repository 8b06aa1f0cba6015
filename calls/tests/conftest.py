"""A Twilio stand-in for the calls tests: signs webhooks exactly as Twilio does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from functools import partial

import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator

from agents.services import training_add
from calls import providers, telephony
from calls.telephony import webhook_auth_token, webhook_path
from calls.tests.fake_twilio import FakeTwilioServer
from integrations.llm.resilience import shared_breaker
from integrations.tests.fake_openai import FakeOpenAIServer
from integrations.twilio import TwilioGateway

PRICE_ANSWER = "I hear you. With zero down, most homeowners pay less each month than their old bill."


class TwilioSim:
    """Posts webhooks the way Twilio does: form-encoded, signed over PUBLIC_BASE_URL + path + params."""

    def __init__(self, django_client, agent):
        self.http = django_client
        self.agent = agent
        self.call_sid = "CA" + uuid.uuid4().hex

    def post(self, name: str, params: dict, *, query: dict | None = None, sign: bool = True, token: str | None = None):
        path = webhook_path(self.agent, name, **(query or {}))
        params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **params}
        headers = {}
        if sign:
            validator = RequestValidator(token or webhook_auth_token(self.agent.client))
            headers["HTTP_X_TWILIO_SIGNATURE"] = validator.compute_signature(settings.PUBLIC_BASE_URL + path, params)
        return self.http.post(path, params, **headers)

    def incoming(self, from_number: str = "+12125550123", **extra):
        return self.post(
            "incoming",
            {
                "CallSid": self.call_sid,
                "From": from_number,
                "To": self.agent.phone_number,
                "Direction": "inbound",
                "CallStatus": "ringing",
                **extra,
            },
        )

    def say(self, text: str | None, n: int | None = None):
        params = {"CallSid": self.call_sid, "CallStatus": "in-progress"}
        if text is not None:
            params |= {"SpeechResult": text, "Confidence": "0.91"}
        if n is None:
            from calls.models import CallTurn

            last = CallTurn.objects.filter(call__twilio_call_sid=self.call_sid).order_by("-sequence").first()
            n = last.sequence + 1 if last else 0
        return self.post("turn", params, query={"n": n})

    def status(self, status: str, seq: int, duration: int = 42):
        return self.post(
            "status",
            {"CallSid": self.call_sid, "CallStatus": status, "SequenceNumber": str(seq), "CallDuration": str(duration)},
        )


@pytest.fixture
def trained_agent(agent_a):
    agent_a.voice_model = "Polly.Joanna-Neural"
    agent_a.save()
    training_add(
        agent=agent_a,
        training_type="script",
        training_content="Hi, this is [NAME] from [COMPANY]. We help homeowners cut their power bill with solar.",
    )
    training_add(
        agent=agent_a,
        training_type="product",
        product_details={
            "features": ["Tier-1 panels", "Home battery"],
            "pricing": "$0 down, from $89/month",
            "benefits": ["Lower bills", "Backup power"],
        },
    )
    training_add(
        agent=agent_a,
        training_type="objection_handling",
        objection_responses={
            "price_too_high": PRICE_ANSWER,
            "already_have_provider": "Many customers switched from another provider.",
        },
    )
    agent_a.refresh_from_db()
    return agent_a


@pytest.fixture
def twilio_sim(client, trained_agent) -> Iterator[TwilioSim]:
    yield TwilioSim(client, trained_agent)


@pytest.fixture
def fake_twilio(settings, monkeypatch) -> Iterator[FakeTwilioServer]:
    """``TELEPHONY_BACKEND=twilio`` with platform credentials, the real SDK talking to a local api.twilio.com."""
    server = FakeTwilioServer().start()
    settings.TELEPHONY_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "platform-token"
    # Only the transport is swapped: the real SDK builds and sends the request.
    monkeypatch.setattr(telephony, "TwilioGateway", partial(TwilioGateway, http_client=server.http_client()))
    yield server
    server.stop()


@contextmanager
def openai_configured(settings, *, budget_s: float = 1.0) -> Iterator[FakeOpenAIServer]:
    """``LLM_PROVIDER=openai`` from here on: the real openai client talking to a local fake server."""
    with FakeOpenAIServer() as server:
        settings.LLM_PROVIDER = "openai"
        settings.OPENAI_API_KEY = "sk-test"
        settings.OPENAI_MODEL = "test-model"
        settings.OPENAI_BASE_URL = server.base_url
        settings.LLM_TURN_BUDGET_SECONDS = budget_s
        providers._build.cache_clear()
        shared_breaker(f"openai:{server.base_url}:test-model").record_success()
        try:
            yield server
        finally:
            providers._build.cache_clear()


@pytest.fixture
def fake_llm(settings) -> Iterator[FakeOpenAIServer]:
    """The production LLM profile for the whole test."""
    with openai_configured(settings) as server:
        yield server


@pytest.fixture
def agent(agent_a):
    """An agent that dials from 7 am to 10 pm and follows up an hour after an unanswered call."""
    agent_a.working_hours_start, agent_a.working_hours_end = time(7, 0), time(22, 0)
    agent_a.followup_delay_minutes = 60
    agent_a.save()
    return agent_a


@pytest.fixture
def relay_agent(trained_agent):
    trained_agent.voice_mode = "relay"
    trained_agent.save(update_fields=["voice_mode"])
    return trained_agent
