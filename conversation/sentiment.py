"""How the caller felt about a call: the lexicon analyser.

The dashboard shows a sentiment per call and a per-turn timeline, and learning weighs
outcomes by it. The lexicon needs no network and is deterministic, so every call gets a
sentiment even with no model configured; the LLM analyser (``integrations.llm.sentiment``)
is only ever an improvement on it and falls back to it on any error.

Only the caller's words are scored: the agent is always polite, and counting its "great!"
would make every call look positive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

SENTIMENT_LABELS = ("positive", "neutral", "negative")

# Weights: 1 mild, 2 clear, 3 decisive for a sales call (an opt-out outweighs a polite "thanks").
POSITIVE_TERMS: dict[str, float] = {
    "great": 2.0,
    "good": 1.0,
    "interested": 2.0,
    "interesting": 1.5,
    "love": 2.5,
    "like": 1.0,
    "perfect": 2.5,
    "excellent": 2.5,
    "awesome": 2.5,
    "amazing": 2.5,
    "wonderful": 2.5,
    "nice": 1.5,
    "helpful": 1.5,
    "yes": 1.0,
    "yeah": 1.0,
    "sure": 1.0,
    "okay": 0.5,
    "ok": 0.5,
    "thanks": 1.0,
    "thank you": 1.0,
    "appreciate": 1.5,
    "happy": 2.0,
    "glad": 1.5,
    "fantastic": 2.5,
    "cool": 1.0,
    "deal": 1.5,
    "affordable": 1.5,
    "cheap": 1.0,
    "save": 1.0,
    "sounds good": 2.0,
    "sounds great": 2.5,
    "let's do it": 3.0,
    "sign me up": 3.0,
    "tell me more": 2.0,
    "makes sense": 1.5,
    "absolutely": 1.5,
    "definitely": 1.5,
}
NEGATIVE_TERMS: dict[str, float] = {
    "expensive": 2.0,
    "pricey": 2.0,
    "annoying": 2.5,
    "annoyed": 2.5,
    "stop": 2.0,
    "waste": 2.5,
    "angry": 2.5,
    "terrible": 3.0,
    "awful": 3.0,
    "horrible": 3.0,
    "bad": 1.5,
    "hate": 3.0,
    "scam": 3.0,
    "spam": 2.5,
    "busy": 1.0,
    "problem": 1.0,
    "worried": 1.5,
    "worries": 1.0,
    "confusing": 1.5,
    "useless": 2.5,
    "ridiculous": 2.5,
    "rude": 2.5,
    "disappointed": 2.5,
    "frustrated": 2.5,
    "unhappy": 2.0,
    "pushy": 2.0,
    "no": 0.5,
    "not interested": 3.0,
    "no thanks": 2.0,
    "no thank you": 2.0,
    "stop calling": 3.0,
    "don't call": 3.0,
    "dont call": 3.0,
    "do not call": 3.0,
    "remove me": 3.0,
    "take me off": 3.0,
    "leave me alone": 3.0,
    "waste of time": 3.0,
    "too much": 1.5,
    "can't afford": 2.0,
    "cannot afford": 2.0,
}
NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "don't",
        "dont",
        "doesn't",
        "doesnt",
        "didn't",
        "didnt",
        "isn't",
        "isnt",
        "wasn't",
        "wasnt",
        "aren't",
        "arent",
        "won't",
        "wont",
        "can't",
        "cant",
        "cannot",
        "hardly",
        "nothing",
        "without",
    }
)
INTENSIFIERS: dict[str, float] = {
    "very": 1.5,
    "really": 1.5,
    "so": 1.3,
    "too": 1.3,
    "extremely": 1.8,
    "super": 1.5,
    "totally": 1.5,
    "absolutely": 1.5,
    "incredibly": 1.8,
    "quite": 1.2,
    "pretty": 1.2,
}
# A negated positive ("not good") is clearly negative; a negated negative ("not bad") is only
# mildly positive, the way people use it.
NEGATED_POSITIVE_FACTOR = -0.8
NEGATED_NEGATIVE_FACTOR = -0.5
NEGATION_WINDOW = 3  # words before a term that can negate it
# "Sounds great, but it's too expensive": what follows "but" is what the caller means.
BEFORE_BUT_FACTOR = 0.5
AFTER_BUT_FACTOR = 1.5
# Normalisation of a raw sum into (-1, 1): raw / sqrt(raw^2 + ALPHA). One "great" ~ 0.7.
NORMALISATION_ALPHA = 4.0
LABEL_THRESHOLD = 0.2

_BOUNDARY = "|"
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.!?;,:]")
_LONGEST_TERM = max(len(term.split()) for term in (*POSITIVE_TERMS, *NEGATIVE_TERMS))


@dataclass(frozen=True)
class SentimentResult:
    """A call's sentiment: ``score`` in [-1, 1], the matched terms, and one score per turn."""

    label: str  # one of SENTIMENT_LABELS
    score: float
    positive_hits: tuple[str, ...] = ()
    negative_hits: tuple[str, ...] = ()
    turn_scores: tuple[float, ...] = field(default=())  # per caller turn, for the timeline
    analyzer: str = "lexicon"  # who judged label and score: "lexicon" or "llm"


@dataclass(frozen=True)
class _TurnAnalysis:
    raw: float
    positive_hits: tuple[str, ...]
    negative_hits: tuple[str, ...]


class LexiconSentimentAnalyzer:
    """Deterministic word-list sentiment tuned for sales calls, with negation and intensifiers.

    Multi-word terms win over their words ("not interested" is one strong negative, not a
    negated "interested"); a negator up to three words before a term flips it; an intensifier
    right before it scales it; punctuation ends a negation's reach.
    """

    def analyze(self, caller_texts: Sequence[str]) -> SentimentResult:
        turns = [self._analyze_turn(text) for text in caller_texts]
        raw_total = sum(turn.raw for turn in turns)
        score = _normalise(raw_total)
        return SentimentResult(
            label=label_for(score),
            score=score,
            positive_hits=tuple(hit for turn in turns for hit in turn.positive_hits),
            negative_hits=tuple(hit for turn in turns for hit in turn.negative_hits),
            turn_scores=tuple(_normalise(turn.raw) for turn in turns),
        )

    def _analyze_turn(self, text: str) -> _TurnAnalysis:
        tokens = _tokenise(text)
        but_at = _last_index(tokens, "but")
        raw = 0.0
        positive: list[str] = []
        negative: list[str] = []
        i = 0
        while i < len(tokens):
            match = _match_term(tokens, i)
            if match is None:
                i += 1
                continue
            term, length, base = match
            if term in NEGATORS and _term_follows(tokens, i + 1):
                i += 1  # "no problem": here "no" negates what follows, it is not a "no" itself
                continue
            value = base * _intensity(tokens, i)
            negator = _negator_before(tokens, i)
            if negator is not None:
                value *= NEGATED_POSITIVE_FACTOR if base > 0 else NEGATED_NEGATIVE_FACTOR
                term = f"{negator} {term}"
            if but_at is not None:
                value *= BEFORE_BUT_FACTOR if i < but_at else AFTER_BUT_FACTOR
            (positive if value > 0 else negative).append(term)
            raw += value
            i += length
        return _TurnAnalysis(raw=raw, positive_hits=tuple(positive), negative_hits=tuple(negative))


def label_for(score: float) -> str:
    if score >= LABEL_THRESHOLD:
        return "positive"
    if score <= -LABEL_THRESHOLD:
        return "negative"
    return "neutral"


def _normalise(raw: float) -> float:
    if raw == 0:
        return 0.0
    return round(raw / math.sqrt(raw * raw + NORMALISATION_ALPHA), 4)


def _tokenise(text: str) -> list[str]:
    normalised = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return [_BOUNDARY if word in ".!?;,:" else word for word in _TOKEN_RE.findall(normalised)]


def _match_term(tokens: list[str], start: int) -> tuple[str, int, float] | None:
    """The longest lexicon term starting at ``start`` (never across punctuation)."""
    for length in range(min(_LONGEST_TERM, len(tokens) - start), 0, -1):
        words = tokens[start : start + length]
        if _BOUNDARY in words:
            continue
        term = " ".join(words)
        if term in NEGATIVE_TERMS:
            return term, length, -NEGATIVE_TERMS[term]
        if term in POSITIVE_TERMS:
            return term, length, POSITIVE_TERMS[term]
    return None


def _negator_before(tokens: list[str], index: int) -> str | None:
    for back in range(1, NEGATION_WINDOW + 1):
        j = index - back
        if j < 0 or tokens[j] == _BOUNDARY:
            return None
        if tokens[j] in NEGATORS:
            return tokens[j]
    return None


def _term_follows(tokens: list[str], start: int) -> bool:
    for j in range(start, min(start + NEGATION_WINDOW, len(tokens))):
        if tokens[j] == _BOUNDARY:
            return False
        if _match_term(tokens, j) is not None:
            return True
    return False


def _intensity(tokens: list[str], index: int) -> float:
    if index > 0 and tokens[index - 1] in INTENSIFIERS:
        return INTENSIFIERS[tokens[index - 1]]
    return 1.0


def _last_index(tokens: list[str], word: str) -> int | None:
    for j in range(len(tokens) - 1, -1, -1):
        if tokens[j] == word:
            return j
    return None
