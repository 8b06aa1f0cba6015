"""The time budget and the circuit breaker: a caller never hears silence, a dead model is left alone.

The primary is the real ``OpenAIProvider`` talking to a local fake server wherever the
network matters (slow answers, 500s, counting requests the breaker saved); small fakes are
used where only the thread mechanics matter (a primary that never returns).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.llm.base import ConversationContext, ProviderError, Reply, collected
from integrations.llm.openai_provider import OpenAIProvider
from integrations.llm.resilience import CircuitBreaker, FallbackProvider, shared_breaker
from integrations.tests.fake_openai import (
    Canned,
    FakeOpenAIServer,
    completion,
    sales_context,
    stream_chunks,
)

BUDGET_S = 0.5
# Thread hand-off, the fallback's own (instant) reply and a loaded CI machine.
MARGIN_S = 0.35


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CannedFallback:
    """Stands in for the scripted provider: instant, always answers."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        self.calls += 1
        yield "Thanks for calling, "
        yield "let me note that down."
        yield Reply(text="Thanks for calling, let me note that down.", provider=self.name)


class HangingPrimary:
    """A primary that never answers until the test releases it."""

    name = "openai"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        self.calls += 1
        self.release.wait(30)
        yield "far too late"
        yield Reply(text="far too late", provider=self.name)


class BrokenPrimary:
    """Raises before its first piece, or (``after_first_piece``) once it has said "Hello"."""

    name = "openai"

    def __init__(self, *, after_first_piece: bool = False) -> None:
        self.after_first_piece = after_first_piece

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        if not self.after_first_piece:
            raise RuntimeError("boom")
        yield "Hello"
        raise ProviderError("connection dropped")


def whole(provider: FallbackProvider) -> Reply:
    """The reply as the ``<Gather>`` turn takes it: the stream collected, nothing said before its end."""
    return collected(provider.stream_reply(sales_context(), live=False))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def primary(server: FakeOpenAIServer) -> OpenAIProvider:
    # The SDK's own time-out is longer than the budget on purpose: the budget must win.
    return OpenAIProvider(api_key="test-key", model="test-model", base_url=server.base_url, timeout_s=5.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)


@pytest.fixture
def fallback() -> CannedFallback:
    return CannedFallback()


@pytest.fixture
def resilient(primary, fallback, breaker) -> FallbackProvider:
    return FallbackProvider(primary, fallback, budget_s=BUDGET_S, breaker=breaker)


# --- the collected reply (the <Gather> turn) ---------------------------------------------------


def test_healthy_primary_answers_and_keeps_its_name(server, resilient, fallback):
    server.respond(Canned(body=completion("Financing starts at $49 a month.")))

    reply = whole(resilient)

    assert reply.text == "Financing starts at $49 a month."
    assert reply.provider == "openai"
    assert reply.fallback_reason == ""
    assert resilient.name == "openai"
    assert fallback.calls == 0


def test_slow_server_is_answered_by_the_fallback_within_the_budget(server, resilient, fallback, caplog):
    server.respond(Canned(body=completion("too late"), delay_s=3.0))

    started = time.monotonic()
    reply = whole(resilient)
    elapsed = time.monotonic() - started

    assert elapsed < BUDGET_S + MARGIN_S, f"took {elapsed:.3f}s"
    assert elapsed >= BUDGET_S * 0.9  # it did give the primary its budget
    assert reply.text == "Thanks for calling, let me note that down."
    assert reply.provider == "scripted"
    assert reply.fallback_reason == "timeout after 0.5s"
    assert server.request_count == 1
    assert fallback.calls == 1
    assert "fell back to scripted: timeout after 0.5s" in caplog.text


def test_primary_that_never_returns_cannot_hold_the_caller(fallback):
    hanging = HangingPrimary()
    resilient = FallbackProvider(hanging, fallback, budget_s=0.2)
    try:
        started = time.monotonic()
        reply = whole(resilient)
        elapsed = time.monotonic() - started
    finally:
        hanging.release.set()

    assert elapsed < 0.2 + MARGIN_S
    assert reply.fallback_reason == "timeout after 0.2s"


def test_server_error_is_answered_by_the_fallback(server, resilient):
    server.respond(Canned(status=500))

    reply = whole(resilient)

    assert reply.provider == "scripted"
    assert reply.fallback_reason.startswith("error: InternalServerError (HTTP 500)")
    assert reply.text


def test_any_exception_from_the_primary_becomes_a_fallback(fallback):
    resilient = FallbackProvider(BrokenPrimary(), fallback, budget_s=1.0)

    reply = whole(resilient)

    assert reply.fallback_reason == "error: boom"


def test_breaker_opens_after_three_failures_and_spares_the_server(server, resilient, breaker, clock):
    server.default = Canned(status=500)

    reasons = [whole(resilient).fallback_reason for _ in range(3)]
    assert all(reason.startswith("error:") for reason in reasons)
    assert server.request_count == 3
    assert breaker.state == CircuitBreaker.OPEN

    started = time.monotonic()
    for _ in range(5):
        assert whole(resilient).fallback_reason == "circuit open"
    assert time.monotonic() - started < 0.5  # an open circuit costs the caller nothing
    assert server.request_count == 3  # no request reached the server while open

    clock.advance(29)
    assert whole(resilient).fallback_reason == "circuit open"
    assert server.request_count == 3

    clock.advance(1)  # reset time reached: half-open, one trial goes through
    server.default = Canned(body=completion("I'm back."))
    reply = whole(resilient)
    assert reply.text == "I'm back."
    assert reply.fallback_reason == ""
    assert server.request_count == 4
    assert breaker.state == CircuitBreaker.CLOSED


def test_failed_trial_reopens_the_breaker_for_another_reset_period(server, resilient, breaker, clock):
    server.default = Canned(status=500)
    for _ in range(3):
        whole(resilient)

    clock.advance(30)
    assert whole(resilient).fallback_reason.startswith("error:")  # the trial
    assert server.request_count == 4
    assert breaker.state == CircuitBreaker.OPEN

    clock.advance(10)
    assert whole(resilient).fallback_reason == "circuit open"
    assert server.request_count == 4


def test_timeouts_count_as_failures_for_the_breaker(server, resilient, breaker):
    server.default = Canned(body=completion("too late"), delay_s=3.0)

    for _ in range(3):
        assert whole(resilient).fallback_reason == "timeout after 0.5s"

    assert breaker.state == CircuitBreaker.OPEN
    assert whole(resilient).fallback_reason == "circuit open"
    assert server.request_count == 3


def test_success_resets_the_count_of_consecutive_failures(server, resilient, breaker):
    server.respond(Canned(status=500), Canned(status=500), Canned(body=completion("ok")))
    server.respond(Canned(status=500), Canned(status=500))

    reasons = [whole(resilient).fallback_reason for _ in range(5)]

    assert [bool(reason) for reason in reasons] == [True, True, False, True, True]
    assert breaker.state == CircuitBreaker.CLOSED
    assert breaker.consecutive_failures == 2


# --- the live stream (ConversationRelay) ----------------------------------------------------


def test_stream_passes_the_primary_pieces_through_in_order(server, resilient):
    server.respond(Canned(sse=stream_chunks("One", " two", " three.")))

    *pieces, reply = resilient.stream_reply(sales_context())

    assert pieces == ["One", " two", " three."]
    assert (reply.text, reply.provider, reply.fallback_reason) == ("One two three.", "openai", "")


def test_stream_falls_back_when_the_primary_fails_before_the_first_piece(server, resilient, breaker):
    server.respond(Canned(status=500))

    *pieces, reply = resilient.stream_reply(sales_context())

    assert pieces == ["Thanks for calling, ", "let me note that down."]
    assert reply.provider == "scripted" and reply.fallback_reason.startswith("error: InternalServerError (HTTP 500)")
    assert breaker.consecutive_failures == 1


def test_stream_falls_back_within_the_budget_when_the_first_piece_is_late(server, resilient):
    server.respond(Canned(sse=stream_chunks("late"), delay_s=3.0))

    started = time.monotonic()
    first = next(resilient.stream_reply(sales_context()))
    elapsed = time.monotonic() - started

    assert first == "Thanks for calling, "
    assert elapsed < BUDGET_S + MARGIN_S


def test_stream_uses_the_fallback_while_the_circuit_is_open(server, resilient, breaker):
    for _ in range(3):
        breaker.record_failure()

    *pieces, reply = resilient.stream_reply(sales_context())

    assert pieces == ["Thanks for calling, ", "let me note that down."]
    assert reply.fallback_reason == "circuit open"
    assert server.request_count == 0


def test_stream_that_breaks_after_the_first_piece_ends_instead_of_starting_over(fallback, breaker):
    resilient = FallbackProvider(BrokenPrimary(after_first_piece=True), fallback, budget_s=1.0, breaker=breaker)

    *pieces, reply = resilient.stream_reply(sales_context())

    assert pieces == ["Hello"]
    assert reply == Reply(text="Hello", provider="openai", fallback_reason="error: connection dropped")
    assert fallback.calls == 0
    assert breaker.consecutive_failures == 1


def test_collected_stream_that_breaks_after_the_first_piece_is_replaced_whole(fallback, breaker):
    resilient = FallbackProvider(BrokenPrimary(after_first_piece=True), fallback, budget_s=1.0, breaker=breaker)

    items = list(resilient.stream_reply(sales_context(), live=False))

    assert items[:-1] == ["Thanks for calling, ", "let me note that down."]  # nothing of the primary's
    assert items[-1].fallback_reason == "error: connection dropped"
    assert breaker.consecutive_failures == 1


# --- the breaker on its own -------------------------------------------------------------------


def test_breaker_lets_exactly_one_trial_through_when_half_open(clock):
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.state == CircuitBreaker.HALF_OPEN

    start = threading.Barrier(16)

    def ask() -> bool:
        start.wait()
        return breaker.allow()

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: ask(), range(16)))

    assert answers.count(True) == 1


def test_breaker_stays_closed_below_the_threshold(clock):
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()

    assert breaker.allow()
    assert breaker.state == CircuitBreaker.CLOSED


def test_breaker_rejects_a_zero_threshold():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_shared_breaker_outlives_the_providers_built_per_turn():
    first = shared_breaker("http://vllm.internal/v1|llama3")

    assert shared_breaker("http://vllm.internal/v1|llama3") is first
    assert shared_breaker("https://api.openai.com/v1|gpt") is not first


def test_stream_that_trickles_ends_at_the_budget_not_a_budget_per_piece(server, resilient):
    """Every piece is inside the budget, the whole answer is not: the caller's turn ends in time."""
    server.respond(Canned(sse=stream_chunks(*[f"piece {n}. " for n in range(10)]), trickle_s=0.2))

    started = time.monotonic()
    *pieces, reply = resilient.stream_reply(sales_context())
    elapsed = time.monotonic() - started

    assert pieces and pieces[0] == "piece 0. "  # the caller heard the start of the model's answer
    assert len(pieces) < 10
    assert reply.fallback_reason == "timeout after 0.5s" and reply.text == "".join(pieces).strip()
    assert elapsed < BUDGET_S + MARGIN_S, f"took {elapsed:.3f}s"
