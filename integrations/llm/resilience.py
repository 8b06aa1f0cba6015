"""A time budget and a circuit breaker around a conversation provider.

Twilio waits at most 15 s for a webhook answer and a caller hangs up long before that, so a
turn may not wait on a slow model. :class:`FallbackProvider` reads the primary provider's
stream in a worker thread under a fixed budget and answers from the fallback (the scripted
provider) when it is late, fails, or has been failing: the rule it protects is "a caller
never hears silence". :class:`CircuitBreaker` stops sending turns to a primary that keeps
failing, so every caller does not pay the full budget while the model server is down.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

from integrations.llm.base import ConversationContext, ConversationProvider, ProviderTimeout, Reply

logger = logging.getLogger(__name__)

# A stream holds a worker for as long as the model writes (a second or two), so the pool is
# sized for a few hundred replies being spoken at once. A primary that hangs holds its worker
# only until the client's own request deadline.
_STREAM_POOL = ThreadPoolExecutor(max_workers=256, thread_name_prefix="llm-stream")

_REASON_MAX_CHARS = 200

_STREAM_DONE = object()


class _Failed:
    """The primary's stream raised: carried to the reader, which falls back."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures -> half-open.

    While open every call is refused; after ``reset_after_s`` exactly one trial call is let
    through (half-open). Its success closes the breaker, its failure opens it again for
    another ``reset_after_s``. All transitions happen under one lock, so concurrent turns
    never let two trials through. ``clock`` is injectable so tests need not sleep.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> str:
        """The state as a caller would see it now (an expired open state reads half-open)."""
        with self._lock:
            if self._state == self.OPEN and self._reset_elapsed():
                return self.HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """May a call go to the primary now? In half-open, only the first asker gets a yes."""
        with self._lock:
            if self._state == self.CLOSED:
                return True
            if self._state == self.OPEN and self._reset_elapsed():
                self._state = self.HALF_OPEN  # this caller is the one trial
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = self.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = self.OPEN
                self._opened_at = self._clock()

    def _reset_elapsed(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_after_s


_SHARED_BREAKERS: dict[str, CircuitBreaker] = {}
_SHARED_BREAKERS_LOCK = threading.Lock()


def shared_breaker(key: str, *, failure_threshold: int = 3, reset_after_s: float = 30.0) -> CircuitBreaker:
    """The process-wide breaker for one primary endpoint (e.g. its base URL and model).

    The engine may build a provider per turn; a breaker made per turn would never see three
    failures in a row, so the breaker has to outlive the provider. The thresholds of the
    first call for a key win.
    """
    with _SHARED_BREAKERS_LOCK:
        breaker = _SHARED_BREAKERS.get(key)
        if breaker is None:
            breaker = CircuitBreaker(failure_threshold=failure_threshold, reset_after_s=reset_after_s)
            _SHARED_BREAKERS[key] = breaker
        return breaker


class FallbackProvider:
    """Stream from ``primary`` within ``budget_s``; otherwise answer with ``fallback``.

    The caller gets an answer within ``budget_s`` plus the fallback's own time even when the
    primary never returns: the primary's stream is read in a worker thread and is simply
    abandoned on time-out (the client's request deadline frees the thread later). A fallback
    reply carries ``fallback_reason`` so the dashboard can show an alert. The fallback itself
    is trusted to answer (the scripted provider needs no network); its errors propagate.
    """

    def __init__(
        self,
        primary: ConversationProvider,
        fallback: ConversationProvider,
        *,
        budget_s: float = 6.0,
        breaker: CircuitBreaker | None = None,
        executor: Executor | None = None,
    ) -> None:
        if budget_s <= 0:
            raise ValueError("budget_s must be positive")
        self.primary = primary
        self.fallback = fallback
        self.budget_s = budget_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._executor = executor if executor is not None else _STREAM_POOL
        self.name = primary.name

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        """The primary's stream, or the fallback's when the primary's does not come in time.

        The whole stream must arrive within ``budget_s`` of the start (a model that trickles
        a piece just inside a per-piece limit would otherwise talk for ever). Before the first
        piece a late, failing or empty primary is replaced whole by the fallback's stream (its
        final reply carries ``fallback_reason``). After it, a live stream ends on a stall or an
        error with what was already said and no actions: the caller heard the start of the
        primary's answer, and a second, different answer would confuse them. A stream that is
        not ``live`` (collected before anything is said) holds the primary's pieces until its
        reply is whole, so a break at any point is replaced whole by the fallback.
        The primary's stream is read by one worker for its whole length (a hand-off per piece
        would cost more than the piece), which stops at the next piece once nobody listens.
        """
        if not self.breaker.allow():
            yield from self._fallback_stream(context, "circuit open")
            return
        items: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def produce() -> None:
            stream = None
            try:
                stream = iter(self.primary.stream_reply(context))
                for item in stream:
                    items.put(item)
                    if stop.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - handed to the reader, which falls back
                items.put(_Failed(exc))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
                items.put(_STREAM_DONE)

        said: list[str] = []
        deadline = time.monotonic() + self.budget_s
        self._executor.submit(produce)
        try:
            while True:
                try:
                    item = items.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    reason = self._timeout_reason()
                else:
                    if isinstance(item, _Failed):
                        # The client's own deadline equals the budget: a time-out either way.
                        timed_out = isinstance(item.error, ProviderTimeout)
                        reason = self._timeout_reason() if timed_out else _error_reason(item.error)
                    elif isinstance(item, Reply) or item is _STREAM_DONE:
                        if not said and not (isinstance(item, Reply) and item.text):
                            self.breaker.record_failure()
                            yield from self._fallback_stream(context, "error: empty stream")
                            return
                        reply = item if isinstance(item, Reply) else Reply(text="".join(said).strip())
                        self.breaker.record_success()
                        if not live:
                            yield from said
                        yield dataclasses.replace(reply, provider=reply.provider or self.primary.name)
                        return
                    else:
                        if not said:
                            self.breaker.record_success()  # in time; the reader may stop early
                        said.append(str(item))
                        if live:
                            yield said[-1]
                        continue

                self.breaker.record_failure()
                if not said or not live:
                    yield from self._fallback_stream(context, reason)
                else:
                    logger.warning("provider %s stream broke off after the first piece: %s", self.primary.name, reason)
                    yield Reply(text="".join(said).strip(), provider=self.primary.name, fallback_reason=reason)
                return
        finally:
            stop.set()

    def _fallback_stream(self, context: ConversationContext, reason: str) -> Iterator[str | Reply]:
        self._log_fallback(reason)
        for item in self.fallback.stream_reply(context):
            if isinstance(item, Reply):
                item = dataclasses.replace(item, fallback_reason=reason, provider=item.provider or self.fallback.name)
            yield item

    def _log_fallback(self, reason: str) -> None:
        # Never log the context: it holds the caller's words and phone number.
        logger.warning(
            "provider %s fell back to %s: %s (breaker %s)",
            self.primary.name,
            self.fallback.name,
            reason,
            self.breaker.state,
        )

    def _timeout_reason(self) -> str:
        return f"timeout after {self.budget_s:.1f}s"


def _error_reason(exc: BaseException) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return f"error: {detail[:_REASON_MAX_CHARS]}"
