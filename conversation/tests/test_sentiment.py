"""Call sentiment: the lexicon's sales-call judgement, and the LLM analyser's safe fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conversation.sentiment import (
    LexiconSentimentAnalyzer,
    LLMSentimentAnalyzer,
    SentimentResult,
    SentimentUnavailable,
    parse_sentiment_json,
)
from integrations.tests.fake_openai import Canned, FakeOpenAIServer, completion


@pytest.fixture
def lexicon() -> LexiconSentimentAnalyzer:
    return LexiconSentimentAnalyzer()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("That sounds great, thanks!", "positive"),
        ("Yes, I'm interested, tell me more.", "positive"),
        ("Perfect, I love it.", "positive"),
        ("I'm not interested.", "negative"),
        ("Stop calling me, this is a waste of time.", "negative"),
        ("That's way too expensive.", "negative"),
        ("This is terrible and I'm angry.", "negative"),
        ("Hello? Who is this?", "neutral"),
        ("Call me on Tuesday.", "neutral"),
    ],
)
def test_lexicon_labels_typical_sales_call_lines(lexicon, text, label):
    assert lexicon.analyze([text]).label == label


@pytest.mark.parametrize(
    ("text", "label", "hit"),
    [
        ("Not bad at all.", "positive", "not bad"),
        ("No problem.", "positive", "no problem"),
        ("I don't like it.", "negative", "don't like"),
        ("It's not good enough for us.", "negative", "not good"),
        ("I'm not really interested.", "negative", "not interested"),
        ("Honestly it isn't that expensive.", "positive", "isn't expensive"),
    ],
)
def test_negation_flips_the_word_it_governs(lexicon, text, label, hit):
    result = lexicon.analyze([text])

    assert result.label == label
    assert hit in (result.positive_hits if label == "positive" else result.negative_hits)


def test_negation_is_mild_for_a_negated_negative(lexicon):
    """People say "not bad" for "fine", not for "wonderful"."""
    assert 0 < lexicon.analyze(["not bad"]).score < lexicon.analyze(["good"]).score


def test_negation_does_not_reach_across_a_sentence(lexicon):
    result = lexicon.analyze(["No. That sounds great."])

    assert result.label == "positive"
    assert "sounds great" in result.positive_hits


def test_intensifiers_strengthen_the_word(lexicon):
    plain = lexicon.analyze(["It's expensive."]).score
    intensified = lexicon.analyze(["It's very expensive."]).score

    assert intensified < plain < 0
    assert lexicon.analyze(["really good"]).score > lexicon.analyze(["good"]).score > 0


def test_what_follows_but_is_what_the_caller_means(lexicon):
    assert lexicon.analyze(["Sounds great, but it's too expensive."]).label == "negative"
    assert lexicon.analyze(["It's expensive, but I love the savings, sounds good."]).label == "positive"


def test_polite_thanks_does_not_outweigh_an_opt_out(lexicon):
    assert lexicon.analyze(["Thanks, but please stop calling me."]).label == "negative"


def test_result_has_per_turn_scores_for_the_timeline(lexicon):
    result = lexicon.analyze(["Hello?", "Sounds good.", "Actually it's too expensive, not interested."])

    assert len(result.turn_scores) == 3
    assert result.turn_scores[0] == 0.0
    assert result.turn_scores[1] > 0
    assert result.turn_scores[2] < 0
    assert result.label == "negative"
    assert result.positive_hits == ("sounds good",)
    assert result.negative_hits == ("expensive", "not interested")


def test_scores_stay_within_minus_one_and_one(lexicon):
    gushing = lexicon.analyze(["Perfect! Amazing! I love it, absolutely fantastic, sign me up!"] * 20)
    furious = lexicon.analyze(["Terrible scam, stop calling, I hate this, waste of time!"] * 20)

    assert 0.9 < gushing.score <= 1.0
    assert -1.0 <= furious.score < -0.9


def test_no_words_is_neutral(lexicon):
    assert lexicon.analyze([]) == SentimentResult(label="neutral", score=0.0)


def test_curly_apostrophes_from_speech_recognition_still_negate(lexicon):
    assert lexicon.analyze(["I don\u2019t like it"]).label == "negative"


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
