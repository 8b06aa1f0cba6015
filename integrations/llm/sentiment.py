"""How the caller felt, asked of an OpenAI-compatible model; the lexicon when it cannot say.

The lexicon analyser (``conversation.sentiment``) is the product's own judgement and always
answers; this one is better with sarcasm and long sentences but is only ever an improvement,
never a dependency, so it leans on the lexicon for the timeline and for every failure.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import openai

from conversation.sentiment import SENTIMENT_LABELS, LexiconSentimentAnalyzer, SentimentResult, label_for
from integrations.llm.base import ProviderError

logger = logging.getLogger(__name__)


class SentimentUnavailable(ProviderError):
    """The model could not be asked now (unreachable, timed out, overloaded): worth asking again later."""


# What a later try may cure; a bad request, a refused key or an unusable answer will not change.
_TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


class LLMSentimentAnalyzer:
    """Asks an OpenAI-compatible model for ``{"label", "score"}``; the lexicon on any error.

    The matched terms and the per-turn timeline still come from the lexicon, so the result
    has the same shape whichever path produced the label and score. :meth:`rate` is the form
    for a retrying caller (a Celery task): it raises :class:`SentimentUnavailable` when the
    model could not be reached instead of settling for the lexicon.
    """

    SYSTEM_PROMPT = (
        "You rate how a customer felt during a sales phone call. You get only the customer's "
        'lines. Answer with JSON only: {"label": "positive"|"neutral"|"negative", "score": '
        "a number from -1 (very negative) to 1 (very positive)}."
    )

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 5.0,
        max_retries: int = 0,
        *,
        fallback: LexiconSentimentAnalyzer | None = None,
    ) -> None:
        self.model = model
        self.fallback = fallback or LexiconSentimentAnalyzer()
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed",  # local servers accept any key; the SDK insists on one
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def analyze(self, caller_texts: Sequence[str]) -> SentimentResult:
        try:
            return self.rate(caller_texts)
        except SentimentUnavailable as exc:
            logger.warning("LLM sentiment failed, using the lexicon: %s", exc)
            return self.fallback.analyze(caller_texts)

    def rate(self, caller_texts: Sequence[str]) -> SentimentResult:
        """The model's rating; the lexicon's when the model's answer is unusable or refused.

        Raises :class:`SentimentUnavailable` when the model could not be reached, so the caller
        can try again later.
        """
        lexicon = self.fallback.analyze(caller_texts)
        lines = [text.strip() for text in caller_texts if text.strip()]
        if not lines:
            return lexicon
        try:
            label, score = self._ask_model(lines)
        except _TRANSIENT as exc:
            raise SentimentUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except (openai.OpenAIError, ValueError, IndexError) as exc:
            # Refused (4xx) or an answer without a usable rating: the lexicon's stands. Anything
            # else is a bug and propagates, so the task fails loudly instead of hiding it.
            logger.warning("LLM sentiment failed, using the lexicon: %s", type(exc).__name__)
            return lexicon
        return SentimentResult(
            label=label,
            score=score,
            positive_hits=lexicon.positive_hits,
            negative_hits=lexicon.negative_hits,
            turn_scores=lexicon.turn_scores,
            analyzer="llm",
        )

    def _ask_model(self, lines: list[str]) -> tuple[str, float]:
        completion = self._client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": self.SYSTEM_PROMPT},
                {"role": "user", "content": "\n".join(f"Customer: {line}" for line in lines)},
            ],
            response_format={"type": "json_object"},
            temperature=0,
        )
        content = completion.choices[0].message.content or ""
        return parse_sentiment_json(content)


def parse_sentiment_json(content: str) -> tuple[str, float]:
    """``(label, score)`` from the model's answer; raises ``ValueError`` when it is unusable.

    Tolerates prose or code fences around the object (small local models add them) and a
    missing label (derived from the score), but not a missing or non-numeric score.
    """
    found = re.search(r"\{.*\}", content, re.DOTALL)
    if found is None:
        raise ValueError("no JSON object in the answer")
    data: Any = json.loads(found.group(0))
    if not isinstance(data, dict):
        raise ValueError("the JSON is not an object")
    raw_score = data.get("score")
    if isinstance(raw_score, bool) or not isinstance(raw_score, int | float) or math.isnan(raw_score):
        raise ValueError("score is not a number")
    score = max(-1.0, min(1.0, float(raw_score)))
    label = str(data.get("label", "")).strip().lower()
    if label not in SENTIMENT_LABELS:
        label = label_for(score)
    return label, score
