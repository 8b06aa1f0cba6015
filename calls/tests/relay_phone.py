"""A Twilio ConversationRelay stand-in for tests: the ASGI app under uvicorn, and a signed socket.

``served_app`` runs ``salesagents.asgi`` (HTTP and WebSocket) on 127.0.0.1 in a thread, the way
``make run`` serves it. ``RelayPhone`` opens the call's socket with the handshake signed as
Twilio signs it (the auth token over the public wss URL, no form fields) and speaks Twilio's
messages: setup, prompt, interrupt, dtmf.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import uvicorn
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string
from twilio.request_validator import RequestValidator
from websockets.sync.client import ClientConnection, connect

from agents.models import AIAgent
from calls.relay.handshake import relay_path
from calls.telephony import webhook_auth_token


@contextmanager
def served_app() -> Iterator[str]:
    """``ws://127.0.0.1:<port>`` of the ASGI app served by uvicorn until the block ends."""
    application = import_string(settings.ASGI_APPLICATION)  # by name: calls may not import salesagents
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, lifespan="off", log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        # The consumers' database calls ran on asgiref's shared thread: close its connection there,
        # or PostgreSQL's test database cannot be dropped at the end of the session.
        # From a thread of its own when this one runs an event loop (Playwright's, in browser tests).
        closer = threading.Thread(
            target=lambda: asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())
        )
        closer.start()
        closer.join(timeout=10)


RELAY_BASE = "wss://relay.agents.example.com"  # the public wss URL Twilio's handshake is signed over


@contextmanager
def relay_served(settings) -> Iterator[str]:
    """:func:`served_app` for relay tests: the public wss URL set, goodbyes "spoken" at once, and
    the simulated phone pointed at the served app (it opens its sockets there)."""
    settings.RELAY_BASE_URL = RELAY_BASE
    settings.RELAY_SPEECH_CHARS_PER_SECOND = 100_000.0
    with served_app() as base:
        settings.SIMULATED_PHONE_RELAY_URL = base
        yield base


@dataclass
class Heard:
    """What the agent streamed for one prompt."""

    tokens: list[str] = field(default_factory=list)
    end: dict | None = None  # the handoffData of an ``end`` message, parsed

    @property
    def text(self) -> str:
        return "".join(self.tokens).strip()


class RelayPhone:
    def __init__(self, base: str, agent: AIAgent, call_sid: str) -> None:
        self.base = base
        self.agent = agent
        self.call_sid = call_sid
        self.socket: ClientConnection | None = None
        self._exits = ExitStack()

    def signature(self, token: str | None = None, path: str | None = None) -> str:
        url = settings.RELAY_BASE_URL + (path or relay_path(self.agent))
        return RequestValidator(token or webhook_auth_token(self.agent.client)).compute_signature(url, {})

    def open(self, *, signature: str | None = "sign", path: str | None = None) -> ClientConnection:
        headers = {}
        if signature == "sign":
            signature = self.signature(path=path)
        if signature:
            headers["X-Twilio-Signature"] = signature
        opened = connect(self.base + (path or relay_path(self.agent)), additional_headers=headers, open_timeout=10)
        self.socket = self._exits.enter_context(opened)
        return self.socket

    def send(self, message: dict | str) -> None:
        assert self.socket is not None
        self.socket.send(message if isinstance(message, str) else json.dumps(message))

    def setup(self, **extra) -> None:
        self.send({
            "type": "setup", "sessionId": "VX" + "0" * 32, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
            "from": "+12125550123", "to": self.agent.phone_number, "direction": "inbound", "callType": "PSTN",
            "callStatus": "IN-PROGRESS", "customParameters": {"agent": str(self.agent.public_id)}, **extra,
        })  # fmt: skip

    def prompt(self, text: str, *, wait_end: float = 0.0) -> Heard:
        self.send({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": True})
        return self.hear(wait_end=wait_end)

    def hear(self, *, wait_end: float = 0.0, timeout: float = 15.0) -> Heard:
        """Text tokens up to ``last: true``; then an ``end`` within ``wait_end`` seconds, if one comes."""
        heard = Heard()
        while True:
            message = self.receive(timeout)
            assert message["type"] in ("text", "end"), message
            if message["type"] == "end":
                heard.end = json.loads(message["handoffData"])
                return heard
            assert isinstance(message["token"], str) and isinstance(message["last"], bool), message
            heard.tokens.append(message["token"])
            if message["last"]:
                break
        if wait_end:
            try:
                message = self.receive(wait_end)
            except TimeoutError:
                return heard
            assert message["type"] == "end", message
            assert isinstance(message["handoffData"], str)  # a JSON *string*, as Twilio requires
            heard.end = json.loads(message["handoffData"])
        return heard

    def receive(self, timeout: float = 15.0) -> dict:
        assert self.socket is not None
        return json.loads(self.socket.recv(timeout=timeout))

    def close(self) -> None:
        self._exits.close()
