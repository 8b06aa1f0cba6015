"""The streaming form of the provider contract: the real ``openai`` client, ``stream=True``, streamed tool calls.

A local OpenAI-compatible server streams SSE chunks with a chosen first-token delay and token
rate (``fake_openai.streamed``); the resilience wrapper keeps its budget on the stream and
hands a stalled one to the fallback (the scripted agent in production; a stand-in here, since
``integrations`` may not import ``conversation``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from integrations.llm.base import EndCall, ProviderError, RecordObjection, Reply, ScheduleCallback
from integrations.llm.openai_provider import OpenAIProvider
from integrations.llm.resilience import CircuitBreaker, FallbackProvider
from integrations.tests.fake_openai import (
    NEW_YORK,
    Canned,
    FakeOpenAIServer,
    completion,
    sales_context,
    streamed,
    tool_call,
)
from integrations.tests.test_resilience import CannedFallback

BUDGET_S = 0.8
MARGIN_S = 0.4


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def provider(server) -> OpenAIProvider:
    return OpenAIProvider(api_key="test-key", model="test-model", base_url=server.base_url, timeout_s=5.0)


@pytest.fixture
def resilient(server) -> FallbackProvider:
    primary = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, timeout_s=BUDGET_S)
    return FallbackProvider(primary, CannedFallback(), budget_s=BUDGET_S, breaker=CircuitBreaker())


def timed(items: Iterator) -> list[tuple[float, object]]:
    started = time.monotonic()
    return [(time.monotonic() - started, item) for item in items]


def test_text_streams_as_written_and_tool_calls_streamed_in_pieces_become_actions(server, provider):
    server.respond(
        streamed(
            "Sure", ", I'll call", " you tomorrow", " at 2 pm.",
            tool_calls=[("schedule_callback", {"when": "2026-11-22T14:00:00", "reason": "at work"}),
                        ("end_call", {"outcome": "callback_requested"})],
            first_token_s=0.3, tokens_per_s=40,
        )
    )  # fmt: skip

    items = timed(provider.stream_reply(sales_context()))

    pieces = [item for _, item in items if isinstance(item, str)]
    assert pieces == ["Sure", ", I'll call", " you tomorrow", " at 2 pm."]
    reply = items[-1][1]
    assert isinstance(reply, Reply) and reply.text == "Sure, I'll call you tomorrow at 2 pm."
    assert reply.actions == (
        ScheduleCallback(when=datetime(2026, 11, 22, 14, 0, tzinfo=NEW_YORK), reason="at work"),
        EndCall("callback_requested"),
    )
    first_at = items[0][0]
    assert 0.3 <= first_at < 0.3 + MARGIN_S  # the first piece comes with the model's first token
    assert items[-2][0] - first_at >= 2 / 40  # and the rest at the model's pace, not all at the end
    body = server.requests[-1]
    assert body["stream"] is True and {t["function"]["name"] for t in body["tools"]} >= {"end_call"}


def test_a_stream_of_tool_calls_only_says_the_confirmation(server, provider):
    server.respond(streamed(tool_calls=[("mark_do_not_call", {"reason": "asked"})]))
    items = list(provider.stream_reply(sales_context()))
    assert isinstance(items[0], str) and "won't call you again" in items[0]
    assert items[-1].text == items[0] and items[-1].actions[0].reason == "asked"


def test_an_empty_or_broken_stream_is_a_provider_error(server, provider):
    server.respond(streamed(), Canned(status=500))
    for _ in range(2):
        with pytest.raises(ProviderError):
            list(provider.stream_reply(sales_context()))


def test_a_stream_that_stalls_before_its_first_token_is_answered_by_the_scripted_agent_within_budget(server, resilient):
    server.respond(streamed("Too late.", first_token_s=5))
    items = timed(resilient.stream_reply(sales_context()))
    reply = items[-1][1]
    assert isinstance(reply, Reply) and reply.provider == "scripted" and reply.fallback_reason.startswith("timeout")
    assert items[0][0] < BUDGET_S + MARGIN_S  # the caller hears the scripted agent, never silence
    assert "".join(i for _, i in items if isinstance(i, str)) == reply.text


def test_a_stream_that_stalls_after_speaking_ends_with_what_was_said(server, resilient):
    server.respond(Canned(sse=streamed("Our panels", " cost", " less", " than", " your bill.").sse, trickle_s=0.5))
    items = timed(resilient.stream_reply(sales_context()))
    reply = items[-1][1]
    assert items[-1][0] < BUDGET_S + MARGIN_S
    assert reply.fallback_reason.startswith("timeout") and reply.actions == ()
    assert reply.text == "".join(i for _, i in items if isinstance(i, str)).strip() and reply.text.startswith("Our")


def test_a_healthy_stream_keeps_the_primarys_name_and_actions(server, resilient):
    server.respond(streamed("Goodbye!", tool_calls=[("end_call", {"outcome": "not_interested"})], tokens_per_s=50))
    reply = list(resilient.stream_reply(sales_context()))[-1]
    assert (reply.provider, reply.fallback_reason, reply.actions) == ("openai", "", (EndCall("not_interested"),))


# --- collected (the <Gather> webhook's turn): the stream read whole ------------------------------

SENTENCE = "Our panels carry a twenty-five year warranty. "  # 1000 is no multiple of its length
TOMORROW_2PM = datetime(2026, 11, 22, 14, 0, tzinfo=NEW_YORK)
ANSWERS = {
    "text and tool calls": (
        completion(
            "Sure, tomorrow at 2 PM.",
            tool_calls=[
                tool_call("schedule_callback", {"when": "2026-11-22T14:00:00", "reason": "at work"}),
                tool_call("record_objection", {"key": "price", "text": "too dear"}, call_id="call_2"),
            ],
        ),
        ["Sure, tomorrow at 2 PM."],
        Reply(
            text="Sure, tomorrow at 2 PM.",
            actions=(ScheduleCallback(when=TOMORROW_2PM, reason="at work"), RecordObjection("price", "too dear")),
            provider="openai",
            answered_objection="price",
        ),
    ),
    "tool calls only": (
        completion(None, tool_calls=[tool_call("end_call", {"outcome": "not_interested"})]),
        ["Thank you for your time. Goodbye!"],  # the confirmation is said, too
        Reply(text="Thank you for your time. Goodbye!", actions=(EndCall("not_interested"),), provider="openai"),
    ),
    "a bad tool argument": (
        completion("Noted.", tool_calls=[tool_call("schedule_callback", '{"when": "soon"')]),
        ["Noted."],
        Reply(text="Noted.", provider="openai"),  # the call that cannot be trusted is dropped, the words kept
    ),
    "an answer past the cap": (
        completion(SENTENCE * 400),
        [(SENTENCE * 400)[:1000]],  # spoken up to the cap itself
        Reply(text=(SENTENCE * 21).strip(), provider="openai"),  # stored cut after the last whole sentence
    ),
}


@pytest.mark.parametrize(("body", "pieces", "reply"), ANSWERS.values(), ids=ANSWERS.keys())
def test_a_collected_stream_ends_with_the_whole_reply(server, body, pieces, reply):
    provider = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, reply_max_chars=1000)
    server.respond(Canned(body=body))  # a prepared completion, streamed as a real server streams it

    items = list(provider.stream_reply(sales_context(), live=False))

    assert items[:-1] == pieces
    assert items[-1] == reply
    assert [r.get("stream") for r in server.requests] == [True]


def test_a_collected_stream_that_stalls_after_its_first_piece_is_answered_whole_by_the_fallback(server, resilient):
    """Nothing was said yet, so a half answer is worth less than the fallback's whole one."""
    server.respond(Canned(sse=streamed("Our panels", " cost", " less", " than", " your bill.").sse, trickle_s=0.5))
    items = timed(resilient.stream_reply(sales_context(), live=False))
    reply = items[-1][1]
    assert items[-1][0] < BUDGET_S + MARGIN_S
    assert (reply.provider, reply.text) == ("scripted", "Thanks for calling, let me note that down.")
    assert reply.fallback_reason.startswith("timeout")
    assert "".join(i for _, i in items if isinstance(i, str)) == reply.text  # no piece of the primary's
