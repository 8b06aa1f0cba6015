"""The sentiment of a call: the lexicon analyser by default, the LLM when one is configured.

The lexicon result is written when the call ends (cheap, inside the status webhook); the LLM's
judgement, being a network call, is fetched afterwards by a task (``calls.refine_sentiment``,
enqueued once the closed call is committed) and replaces it. So a slow or failing model can
never keep a call open: at worst the call keeps the lexicon's sentiment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from calls.models import CallSession, CallTurn
from conversation.sentiment import LexiconSentimentAnalyzer, SentimentResult
from integrations.llm.sentiment import LLMSentimentAnalyzer, SentimentUnavailable

logger = logging.getLogger(__name__)


def llm_sentiment_enabled() -> bool:
    return settings.LLM_PROVIDER == "openai" and bool(settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL)


def _as_json(result: SentimentResult) -> dict:
    return {
        "label": result.label,
        "score": round(result.score, 3),
        "positive": list(result.positive_hits),
        "negative": list(result.negative_hits),
        "timeline": [round(s, 3) for s in result.turn_scores],
        "analyzer": result.analyzer,
    }


def lexicon_sentiment(caller_lines: Sequence[str]) -> dict:
    return _as_json(LexiconSentimentAnalyzer().analyze(caller_lines))


def call_sentiment_refine(*, call_id) -> bool:
    """Ask the configured LLM for a closed call's sentiment; returns whether the model rated it.

    Idempotent: a call already rated by the model (or not closed yet) is left alone.
    Raises :class:`SentimentUnavailable` when the model could not be reached (the task retries).
    """
    call = CallSession.objects.filter(pk=call_id).first()
    if call is None or not call.is_final or not llm_sentiment_enabled():
        return False
    if (call.sentiment_analysis or {}).get("analyzer") == "llm":
        return False
    lines = list(
        CallTurn.objects.filter(call=call, speaker=CallTurn.Speaker.CALLER)
        .exclude(text="")
        .order_by("sequence")
        .values_list("text", flat=True)
    )
    if not lines:
        return False
    analyzer = LLMSentimentAnalyzer(
        settings.OPENAI_API_KEY, settings.OPENAI_MODEL, base_url=settings.OPENAI_BASE_URL,
        timeout_s=settings.LLM_TURN_BUDGET_SECONDS,
    )  # fmt: skip
    try:
        result = analyzer.rate(lines)
    except SentimentUnavailable as exc:
        logger.warning("LLM sentiment for call %s not available yet: %s", call.twilio_call_sid, exc)
        raise
    if result.analyzer != "llm":
        logger.warning("LLM sentiment for call %s unusable; the lexicon's stays", call.twilio_call_sid)
        return False
    CallSession.objects.filter(pk=call.pk).update(sentiment_analysis=_as_json(result))
    return True
