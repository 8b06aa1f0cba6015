"""A tiny OpenAI-compatible server on 127.0.0.1 for tests: the real ``openai`` client talks to it.

It speaks just enough of chat completions (JSON answers; SSE chunks for ``stream=True``, a
prepared JSON answer included; error statuses, slow answers) to prove what goes over the wire,
without mocking our code or the SDK.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from integrations.llm.base import ConversationContext, CustomerSnapshot, Turn

NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Canned:
    """One prepared answer: a JSON body, or SSE chunks, after an optional delay."""

    status: int = 200
    body: dict[str, Any] | None = None
    sse: list[dict[str, Any]] | None = None
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as-is with the given status, for broken servers
    # A slow server after the headers: the JSON body (or each SSE chunk) in pieces this far apart.
    trickle_s: float = 0.0
    trickle_pieces: int = 8
    # Send the headers, then nothing for this long (a model that hangs mid-answer).
    hang_after_headers_s: float = 0.0


class FakeOpenAIServer:
    """``POST /v1/chat/completions`` on 127.0.0.1, answering from a queue, recording requests.

    Slow answers wait on ``release`` so stopping the server frees them at once.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.queue: deque[Canned] = deque()
        self.default = Canned(body=completion("Hello from the model."))
        # Requests of a kind (e.g. sentiment ratings) answered apart from the conversation's queue.
        self.routes: list[tuple[Callable[[dict[str, Any]], bool], Canned]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def respond(self, *answers: Canned) -> None:
        self.queue.extend(answers)

    def respond_when(self, matches: Callable[[dict[str, Any]], bool], answer: Canned) -> None:
        """Answer every request whose JSON body ``matches`` with ``answer``, ahead of the queue."""
        self.routes.append((matches, answer))

    def requests_where(self, matches: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [body for body in self.requests if matches(body)]

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_answer(self, body: dict[str, Any], headers: dict[str, str]) -> Canned:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            for matches, answer in self.routes:
                if matches(body):
                    return answer
            return self.queue.popleft() if self.queue else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                answer = server._next_answer(body, {k.lower(): v for k, v in self.headers.items()})
                if answer.delay_s:
                    server.release.wait(answer.delay_s)
                try:
                    if answer.raw is not None:
                        self._send_raw(answer.status, answer.raw, answer)
                    elif answer.sse is not None:
                        self._send_sse(answer.sse, answer)
                    elif body.get("stream") and answer.status == 200 and answer.body is not None:
                        # Asked to stream: the prepared completion goes out as a real server streams it.
                        pieces = answer.trickle_pieces if answer.trickle_s else 1
                        self._send_sse(completion_chunks(answer.body, pieces=pieces), answer)
                    else:
                        data = json.dumps(answer.body or _error_body(answer.status)).encode()
                        self._send_raw(answer.status, data, answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, which is what some tests want

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(payload).encode(), Canned())

            def _send_raw(self, status: int, data: bytes, answer: Canned) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self._after_headers(answer)
                if not answer.trickle_s:
                    self.wfile.write(data)
                    return
                size = max(1, -(-len(data) // answer.trickle_pieces))
                for start in range(0, len(data), size):
                    self.wfile.write(data[start : start + size])
                    self.wfile.flush()
                    if server.release.wait(answer.trickle_s):
                        return

            def _send_sse(self, chunks: list[dict[str, Any]], answer: Canned) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self._after_headers(answer)
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if answer.trickle_s and server.release.wait(answer.trickle_s):
                        return
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _after_headers(self, answer: Canned) -> None:
                self.wfile.flush()
                if answer.hang_after_headers_s:
                    server.release.wait(answer.hang_after_headers_s)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def is_sentiment_request(body: dict[str, Any]) -> bool:
    """The post-call sentiment rating asks for a JSON object; conversation turns offer tools instead."""
    return (body.get("response_format") or {}).get("type") == "json_object"


def _error_body(status: int) -> dict[str, Any]:
    return {"error": {"message": f"upstream failed with {status}", "type": "server_error", "code": None}}


def completion(text: str | None = None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": "test-model",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str = "call_1") -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def stream_chunks(*pieces: str) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 1_790_000_000,
            "model": "test-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    first = [chunk({"role": "assistant", "content": ""}, None)]
    return first + [chunk({"content": piece}, None) for piece in pieces] + [chunk({}, "stop")]


def sales_context(**overrides: Any) -> ConversationContext:
    values: dict[str, Any] = {
        "agent_name": "Sarah",
        "company_name": "Acme Solar",
        "now_local": datetime(2026, 11, 21, 10, 30, tzinfo=NEW_YORK),  # a Saturday
        "script": "Introduce Acme Solar panels and offer a free roof assessment.",
        "personality_type": "friendly",
        "product_info": {"description": "Rooftop solar panels", "pricing": "from $49/month"},
        "objection_responses": {
            "price": "Most customers pay nothing upfront: financing starts at $49 a month.",
            "not_now": "No problem at all, when would be a better time to talk?",
        },
        "faq": {"Do you install?": "Yes, our own crews install within two weeks."},
        "sales_techniques": ("ask open questions",),
        "client_instructions": "Never promise a discount.",
        "memory": {"objection_answers": {"price": {"uses": 10, "converted": 3, "interested": 5}}},
        "customer": CustomerSnapshot(name="Dana Whitfield", phone_number="+14155550123", interest_level="warm"),
        "call_type": "outbound",
        "call_purpose": "follow up on a quote request",
        "transcript": (
            Turn("agent", "Hi Dana, this is Sarah from Acme Solar. Is now a good time?"),
            Turn("caller", "Not really, I'm at work."),
            Turn("agent", "Of course! When would suit you better?"),
        ),
        "caller_utterance": "Call me tomorrow afternoon.",
    }
    values.update(overrides)
    return ConversationContext(**values)


def completion_chunks(body: dict[str, Any], *, pieces: int = 1) -> list[dict[str, Any]]:
    """A prepared :func:`completion` as SSE chunks: its text in ``pieces`` deltas, then its tool calls."""
    message = body["choices"][0]["message"]
    text = message.get("content") or ""
    size = max(1, -(-len(text) // max(1, pieces)))
    chunks = stream_chunks(*(text[at : at + size] for at in range(0, len(text), size)))[:-1]
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        start = {"index": index, "id": call["id"], "type": "function", "function": {"name": function["name"]}}
        start["function"]["arguments"] = function["arguments"]
        chunks.append(_chunk({"tool_calls": [start]}))
    chunks.append(_chunk({}, "tool_calls" if message.get("tool_calls") else "stop"))
    return chunks


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_790_000_000,
        "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def stream_tool_chunks(*pieces: str, tool_calls: list[tuple[str, dict[str, Any]]] = (), split: int = 7) -> list[dict]:
    """SSE chunks as OpenAI streams them: content deltas, then each tool call in pieces.

    A streamed tool call starts with its index, id and name and an empty argument string; its
    JSON arguments then arrive ``split`` characters at a time, keyed by the same index.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_790_000_000,
            "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }  # fmt: skip

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    for index, (name, arguments) in enumerate(tool_calls):
        start = {"index": index, "id": f"call_{index}", "type": "function", "function": {"name": name, "arguments": ""}}
        chunks.append(chunk({"tool_calls": [start]}))
        raw = json.dumps(arguments)
        for at in range(0, len(raw), split):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": raw[at : at + split]}}]}))
    chunks.append(chunk({}, "tool_calls" if tool_calls else "stop"))
    return chunks


def streamed(
    *pieces: str,
    tool_calls: list[tuple[str, dict[str, Any]]] = (),
    first_token_s: float = 0.0,
    tokens_per_s: float = 0.0,
) -> Canned:
    """A streamed answer: the first chunk after ``first_token_s``, then ``tokens_per_s`` chunks a second."""
    return Canned(
        sse=stream_tool_chunks(*pieces, tool_calls=tool_calls),
        delay_s=first_token_s,
        trickle_s=1.0 / tokens_per_s if tokens_per_s else 0.0,
    )
