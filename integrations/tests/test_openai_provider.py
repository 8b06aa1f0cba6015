"""The openai provider, driven through the real ``openai`` client against a local HTTP server.

The server speaks just enough of the chat-completions protocol (SSE chunks for ``stream=True``,
a prepared completion streamed as a real server would, error statuses, slow answers) to prove
what goes over the wire and what comes back, without mocking our code or the SDK. A reply is
asked for as the engine asks, as a stream, and read whole with ``collected``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.llm.base import (
    EndCall,
    MarkDoNotCall,
    ProviderError,
    ProviderTimeout,
    RecordObjection,
    ScheduleCallback,
    SetInterestLevel,
    Turn,
    collected,
)
from integrations.llm.openai_provider import OPENING_TURN_INSTRUCTION, OpenAIProvider
from integrations.tests.fake_openai import (
    Canned,
    FakeOpenAIServer,
    completion,
    sales_context,
    stream_chunks,
    tool_call,
)

NEW_YORK = ZoneInfo("America/New_York")
TOOL_NAMES = {
    "schedule_callback",
    "mark_do_not_call",
    "set_interest_level",
    "record_objection",
    "transfer_to_human",
    "end_call",
}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def provider(server: FakeOpenAIServer) -> OpenAIProvider:
    return OpenAIProvider(api_key="test-key", model="test-model", base_url=server.base_url, timeout_s=5.0)


# --- the reply --------------------------------------------------------------------------------


def test_schedule_callback_tool_call_becomes_an_aware_callback_in_the_customer_timezone(server, provider):
    server.respond(
        Canned(
            body=completion(
                "Sure, I'll call you tomorrow at 2 pm.",
                [tool_call("schedule_callback", {"when": "2026-11-22T14:00:00", "reason": "at work now"})],
            )
        )
    )

    reply = collected(provider.stream_reply(sales_context()))

    assert reply.text == "Sure, I'll call you tomorrow at 2 pm."
    assert reply.provider == "openai"
    assert reply.actions == (
        ScheduleCallback(when=datetime(2026, 11, 22, 14, 0, tzinfo=NEW_YORK), reason="at work now"),
    )
    when = reply.actions[0].when
    assert when.utcoffset() == timedelta(hours=-5)
    assert when.astimezone(ZoneInfo("UTC")) == datetime(2026, 11, 22, 19, 0, tzinfo=ZoneInfo("UTC"))


def test_request_carries_model_tools_training_memory_time_and_transcript(server, provider):
    collected(provider.stream_reply(sales_context()))

    assert server.request_count == 1
    body = server.requests[0]
    assert body["model"] == "test-model"
    assert {tool["function"]["name"] for tool in body["tools"]} == TOOL_NAMES
    assert body["stream"] is True
    assert server.headers[0]["authorization"] == "Bearer test-key"

    system = body["messages"][0]
    assert system["role"] == "system"
    prompt = system["content"]
    assert "You are Sarah, a phone sales agent for Acme Solar" in prompt
    assert "- price: Most customers pay nothing upfront: financing starts at $49 a month." in prompt
    assert "- not_now: No problem at all" in prompt
    assert "the answer to 'price' was used 10 times: 3 converted, 5 got interested" in prompt
    assert "Do you install?" in prompt
    assert "Never promise a discount." in prompt
    assert "Dana Whitfield" in prompt
    assert "follow up on a quote request" in prompt
    assert "Saturday 2026-11-21T10:30-05:00" in prompt
    assert "America/New_York" in prompt

    assert body["messages"][1:] == [
        {"role": "assistant", "content": "Hi Dana, this is Sarah from Acme Solar. Is now a good time?"},
        {"role": "user", "content": "Not really, I'm at work."},
        {"role": "assistant", "content": "Of course! When would suit you better?"},
        {"role": "user", "content": "Call me tomorrow afternoon."},
    ]


def test_plain_text_answer_has_no_actions(server, provider):
    server.respond(Canned(body=completion("Financing starts at $49 a month, would that work for you?")))

    reply = collected(provider.stream_reply(sales_context(caller_utterance="How much is it?")))

    assert reply.text == "Financing starts at $49 a month, would that work for you?"
    assert reply.actions == ()
    assert reply.fallback_reason == ""


def test_tool_calls_without_text_still_give_the_caller_something_to_hear(server, provider):
    server.respond(
        Canned(
            body=completion(
                None,
                [
                    tool_call("mark_do_not_call", {"reason": "asked to stop"}, "call_1"),
                    tool_call("end_call", {"outcome": "do_not_call"}, "call_2"),
                ],
            )
        )
    )

    reply = collected(provider.stream_reply(sales_context(caller_utterance="Stop calling me.")))

    assert reply.actions == (MarkDoNotCall(reason="asked to stop"), EndCall(outcome="do_not_call"))
    assert "won't call you again" in reply.text


def test_callback_only_reply_confirms_the_time(server, provider):
    server.respond(Canned(body=completion("", [tool_call("schedule_callback", {"when": "2026-11-22T14:00:00"})])))

    reply = collected(provider.stream_reply(sales_context()))

    assert reply.text == "Perfect, I'll call you back tomorrow at 2:00 PM. Thank you!"


def test_sloppy_tool_calls_are_dropped_or_coerced_never_fatal(server, provider):
    server.respond(
        Canned(
            body=completion(
                "Alright!",
                [
                    tool_call("schedule_callback", {"when": "sometime next week"}, "c1"),
                    tool_call("set_interest_level", "{not json", "c2"),
                    tool_call("set_interest_level", {"level": "lukewarm"}, "c3"),
                    tool_call("launch_rocket", {}, "c4"),
                    tool_call("schedule_callback", {"when": "2026-11-23T15:00:00Z"}, "c5"),
                    tool_call("set_interest_level", {"level": "HOT"}, "c6"),
                    tool_call("end_call", {"outcome": "bye"}, "c7"),
                ],
            )
        )
    )

    reply = collected(provider.stream_reply(sales_context()))

    assert reply.actions == (
        # an aware time from the model is converted into the customer's zone
        ScheduleCallback(when=datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)),
        SetInterestLevel(level="hot"),
        EndCall(outcome="answered"),
    )


def test_recorded_objection_is_matched_to_the_trained_key_and_credited(server, provider):
    server.respond(
        Canned(
            body=completion(
                "Most customers pay nothing upfront.",
                [tool_call("record_objection", {"key": "Price", "text": "too expensive"})],
            )
        )
    )

    reply = collected(provider.stream_reply(sales_context(caller_utterance="It's too expensive.")))

    assert reply.actions == (RecordObjection(key="price", text="too expensive"),)
    assert reply.answered_objection == "price"


def test_opening_turn_asks_the_model_for_the_greeting(server, provider):
    server.respond(Canned(body=completion("Hi, this is Sarah from Acme Solar!")))

    reply = collected(provider.stream_reply(sales_context(transcript=(), caller_utterance=None)))

    assert reply.text == "Hi, this is Sarah from Acme Solar!"
    messages = server.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"] == OPENING_TURN_INSTRUCTION


def test_utterance_already_at_the_end_of_the_transcript_is_not_sent_twice(server, provider):
    context = sales_context(
        transcript=(Turn("agent", "Hello!"), Turn("caller", "Who is this?")), caller_utterance="Who is this?"
    )

    collected(provider.stream_reply(context))

    assert [m["content"] for m in server.requests[0]["messages"][1:]] == ["Hello!", "Who is this?"]


def sse(*chunks: dict) -> Canned:
    return Canned(sse=[{"id": "chatcmpl-test", "object": "chat.completion.chunk", **chunk} for chunk in chunks])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Canned(status=500), "InternalServerError"),
        (Canned(status=429), "RateLimitError"),
        (sse({"choices": []}), "neither text nor a tool call"),
        (Canned(body=completion(None)), "neither text nor a tool call"),
        (sse({"choices": "nope"}), "neither text nor a tool call"),
        (sse({"choices": [{"index": 0, "delta": {"content": 5}}]}), "neither text nor a tool call"),
        (Canned(raw=b"<html>Bad gateway</html>"), "neither text nor a tool call"),
        (Canned(raw=b"data: <html>Bad gateway</html>\n\n"), "malformed stream chunk"),
    ],
    ids=[
        "server-error", "rate-limited", "no-choices", "no-text-no-tools",
        "odd-choices", "odd-content", "not-sse", "not-json",
    ],
)  # fmt: skip
def test_bad_responses_raise_provider_error(server, provider, answer, reason):
    server.respond(answer)

    with pytest.raises(ProviderError, match=reason):
        collected(provider.stream_reply(sales_context()))

    assert server.request_count == 1  # max_retries=0: the turn budget, not the SDK, decides


def test_unreachable_server_raises_provider_error():
    unreachable = OpenAIProvider(api_key="k", model="m", base_url="http://127.0.0.1:9/v1", timeout_s=1.0)

    with pytest.raises(ProviderError):
        collected(unreachable.stream_reply(sales_context()))


def test_missing_key_without_a_base_url_fails_fast():
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIProvider(api_key="", model="gpt-test")


def test_local_server_needs_no_key(server):
    local = OpenAIProvider(api_key="", model="llama3", base_url=server.base_url)

    assert collected(local.stream_reply(sales_context())).text == "Hello from the model."


# --- the pieces -------------------------------------------------------------------------------


def test_stream_yields_the_pieces_in_order_then_the_reply(server, provider):
    server.respond(Canned(sse=stream_chunks("Sure", ", I can", " call you", " tomorrow.")))

    *pieces, reply = provider.stream_reply(sales_context())

    assert pieces == ["Sure", ", I can", " call you", " tomorrow."]
    assert (reply.text, reply.actions, reply.provider) == ("Sure, I can call you tomorrow.", (), "openai")
    body = server.requests[0]
    assert body["stream"] is True
    assert body["messages"][-1] == {"role": "user", "content": "Call me tomorrow afternoon."}


def test_stream_failure_raises_provider_error(server, provider):
    server.respond(Canned(status=503))

    with pytest.raises(ProviderError, match="HTTP 503"):
        list(provider.stream_reply(sales_context()))


def test_empty_stream_raises_provider_error(server, provider):
    server.respond(Canned(sse=stream_chunks()))

    with pytest.raises(ProviderError, match="neither text nor a tool call"):
        list(provider.stream_reply(sales_context()))


# --- bounds -----------------------------------------------------------------------------------


def test_the_request_asks_for_a_short_answer(server, provider):
    server.respond(Canned(body=completion("Sure.")))

    collected(provider.stream_reply(sales_context()))

    assert server.requests[-1]["max_tokens"] == 300


def test_a_huge_answer_is_cut_after_the_last_whole_sentence_within_the_cap(server):
    provider = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, reply_max_chars=60)
    server.respond(Canned(body=completion("Solar saves money. It also adds value to your home. " * 200_000)))

    reply = collected(provider.stream_reply(sales_context()))

    assert reply.text == "Solar saves money. It also adds value to your home."


def test_an_answer_without_sentence_ends_is_cut_at_a_word(server):
    provider = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, reply_max_chars=20)
    server.respond(Canned(body=completion("word " * 100)))

    assert collected(provider.stream_reply(sales_context())).text == "word word word word."


def test_a_streamed_answer_stops_at_the_cap_and_its_reply_at_a_word(server):
    provider = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, reply_max_chars=12)
    server.respond(Canned(sse=stream_chunks("Hello there, ", "this goes on ", "and on.")))

    *pieces, reply = provider.stream_reply(sales_context())

    assert "".join(pieces) == "Hello there,"  # already spoken: cut at the cap itself
    assert reply.text == "Hello."


@pytest.mark.parametrize(
    "answer",
    [
        Canned(sse=stream_chunks(*[f"piece {n}. " for n in range(12)]), trickle_s=0.3),
        Canned(sse=stream_chunks("Hello"), hang_after_headers_s=3.0),
    ],
    ids=["trickles", "hangs-after-headers"],
)
def test_a_stream_past_the_deadline_is_cut_off_as_a_timeout(server, answer):
    """Each piece comes inside the read time-out, but the whole answer is far too late."""
    provider = OpenAIProvider(api_key="k", model="test-model", base_url=server.base_url, timeout_s=1.0)
    server.respond(answer)

    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match="Timeout"):
        list(provider.stream_reply(sales_context()))
    assert time.monotonic() - started < 1.5
