"""The conversation provider this deployment uses: scripted by default, OpenAI when configured.

The OpenAI provider always runs behind a time budget and a circuit breaker, falling back to
the scripted provider, so a caller never hears silence when the LLM is slow or down.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from integrations.llm.base import ConversationProvider


@lru_cache(maxsize=8)
def _build(
    provider: str, api_key: str, model: str, base_url: str | None, budget_s: float, max_tokens: int, max_chars: int
) -> ConversationProvider:
    from conversation.scripted import ScriptedProvider

    scripted = ScriptedProvider()
    if provider != "openai":
        return scripted
    from integrations.llm.openai_provider import OpenAIProvider
    from integrations.llm.resilience import FallbackProvider, shared_breaker

    primary = OpenAIProvider(
        api_key=api_key,
        model=model,
        base_url=base_url,
        timeout_s=budget_s,
        max_tokens=max_tokens,
        reply_max_chars=max_chars,
    )
    return FallbackProvider(primary, scripted, budget_s=budget_s, breaker=shared_breaker(f"openai:{base_url}:{model}"))


@lru_cache(maxsize=1)
def silence_provider() -> ConversationProvider:
    """Who answers a turn in which the caller said nothing: always the scripted agent.

    Its silence rule (a prompt, and after two silent turns in a row a polite goodbye) is the
    one home for ending a dead line. A model sees no earlier silences in its transcript, so it
    would keep prompting an open line for as long as Twilio keeps it up, a model call each time.
    """
    from conversation.scripted import ScriptedProvider

    return ScriptedProvider()


def conversation_provider() -> ConversationProvider:
    return _build(
        settings.LLM_PROVIDER,
        settings.OPENAI_API_KEY,
        settings.OPENAI_MODEL,
        settings.OPENAI_BASE_URL,
        float(settings.LLM_TURN_BUDGET_SECONDS),
        int(settings.LLM_MAX_TOKENS),
        int(settings.LLM_REPLY_MAX_CHARS),
    )
