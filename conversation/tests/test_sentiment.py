"""Call sentiment: the lexicon's sales-call judgement (the LLM analyser: integrations/tests)."""

from __future__ import annotations

import pytest

from conversation.sentiment import LexiconSentimentAnalyzer, SentimentResult


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
