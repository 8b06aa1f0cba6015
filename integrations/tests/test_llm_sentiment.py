"""The LLM sentiment analyser: the model's rating when it has one, the lexicon's on any failure."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conversation.sentiment import LexiconSentimentAnalyzer
from integrations.llm.sentiment import LLMSentimentAnalyzer, SentimentUnavailable, parse_sentiment_json
from integrations.tests.fake_openai import Canned, FakeOpenAIServer, completion


@pytest.fixture
def lexicon() -> LexiconSentimentAnalyzer:
    return LexiconSentimentAnalyzer()


# --- the LLM analyser -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def llm(server: FakeOpenAIServer) -> LLMSentimentAnalyzer:
    return LLMSentimentAnalyzer(api_key="test-key", model="test-model", base_url=server.base_url, timeout_s=5.0)


def test_llm_label_and_score_come_from_the_model(server, llm):
    server.respond(Canned(body=completion(json.dumps({"label": "negative", "score": -0.7}))))

    result = llm.analyze(["Sounds great.", "Yeah right, great, another sales call."])

    assert (result.label, result.score) == ("negative", -0.7)
    assert len(result.turn_scores) == 2  # the timeline still comes from the lexicon
    body = server.requests[0]
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    assert "Customer: Yeah right, great, another sales call." in body["messages"][1]["content"]


def test_llm_answer_wrapped_in_prose_is_still_read(server, llm):
    server.respond(Canned(body=completion('Sure! ```json\n{"label": "positive", "score": 0.9}\n```')))

    assert llm.analyze(["Sign me up."]).label == "positive"


@pytest.mark.parametrize(
    "answer",
    [
        Canned(status=500),
        Canned(body=completion("I think the customer was happy.")),
        Canned(body=completion('{"label": "positive"}')),
        Canned(body=completion('{"label": "positive", "score": "high"}')),
    ],
    ids=["server-error", "no-json", "no-score", "score-not-a-number"],
)
def test_llm_failure_falls_back_to_the_lexicon(server, llm, lexicon, answer):
    server.respond(answer)
    lines = ["I'm not interested, stop calling."]

    assert llm.analyze(lines) == lexicon.analyze(lines)


def test_llm_is_not_asked_about_an_empty_call(server, llm):
    assert llm.analyze(["", "  "]).label == "neutral"
    assert server.request_count == 0


def test_model_score_is_clamped_and_a_missing_label_is_derived():
    assert parse_sentiment_json('{"score": 3}') == ("positive", 1.0)
    assert parse_sentiment_json('{"label": "furious", "score": -0.5}') == ("negative", -0.5)
    assert parse_sentiment_json('{"label": "Neutral", "score": 0.1}') == ("neutral", 0.1)


@pytest.mark.parametrize("status", [500, 503, 429], ids=["server-error", "unavailable", "rate-limited"])
def test_rate_says_when_the_model_is_worth_asking_again(server, llm, status):
    server.respond(Canned(status=status))

    with pytest.raises(SentimentUnavailable):
        llm.rate(["Sounds great."])


def test_rate_settles_for_the_lexicon_when_the_answer_is_unusable(server, llm, lexicon):
    server.respond(Canned(body=completion("The customer seemed happy.")))

    assert llm.rate(["Sounds great."]) == lexicon.analyze(["Sounds great."])
