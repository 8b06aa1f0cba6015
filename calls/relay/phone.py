"""Our own phones' side of ConversationRelay: Twilio's messages over a real, signed socket.

The terminal phone (``manage.py phone``) drives a relay-mode agent through the running
server exactly as Twilio would: the handshake signed with the client's token over the public
wss URL, then ``setup``, ``prompt``, ``dtmf`` and ``interrupt``, reading the ``text`` tokens
as they stream and the ``end`` that hands the call back to the ``<Connect action>`` URL.
The dashboard's test phone does the same from an async consumer (:class:`AsyncRelaySocket`),
so both open the socket with one signing rule and send one set of messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.sync.client import ClientConnection, connect

from agents.models import AIAgent
from calls.relay.handshake import relay_path
from calls.simulated_phone import Screen, SimulatedPhone, read_twiml
from calls.telephony import webhook_auth_token
from integrations.twilio import sign


def signed_handshake(agent: AIAgent) -> tuple[str, dict[str, str]]:
    """The socket's path and its headers, signed as Twilio signs: the client's token over the
    public wss URL (``RELAY_BASE_URL`` + path), with no form fields."""
    path = relay_path(agent)
    signature = sign(auth_token=webhook_auth_token(agent.client), url=settings.RELAY_BASE_URL + path, params={})
    return path, {"X-Twilio-Signature": signature}


def setup_message(*, agent: AIAgent, call_sid: str, from_number: str = "") -> dict:
    return {"type": "setup", "callSid": call_sid, "from": from_number, "to": agent.phone_number or "",
            "direction": "inbound", "customParameters": {"agent": str(agent.public_id)}}  # fmt: skip


def prompt_message(*, agent: AIAgent, text: str) -> dict:
    return {"type": "prompt", "voicePrompt": text, "lang": agent.language, "last": True}


def interrupt_message(*, heard: str, duration_ms: int) -> dict:
    """What Twilio says when the caller talks over the agent: what they heard of it, and when."""
    return {"type": "interrupt", "utteranceUntilInterrupt": heard, "durationUntilInterruptMs": str(duration_ms)}


class AsyncRelaySocket:
    """Twilio's side of one call's socket, for an asyncio caller (the dashboard's test phone).

    The caller reads messages with :meth:`receive` (a reader task), since tokens, the ending
    ``last`` and ``end`` arrive on the agent's clock, not in answer to one request.
    """

    def __init__(self, *, agent: AIAgent, call_sid: str, server: str, path: str, headers: dict[str, str]) -> None:
        # ``path`` and ``headers`` come from :func:`signed_handshake`, run where the ORM may be used.
        self.agent = agent
        self.call_sid = call_sid
        self.url = server.rstrip("/") + path
        self.headers = headers
        self._socket: AsyncConnection | None = None

    async def open(self, *, from_number: str = "") -> None:
        self._socket = await async_connect(self.url, additional_headers=self.headers, open_timeout=10)
        await self.send(setup_message(agent=self.agent, call_sid=self.call_sid, from_number=from_number))

    async def send(self, message: dict) -> None:
        assert self._socket is not None, "send before open"
        await self._socket.send(json.dumps(message))

    async def receive(self) -> dict:
        """The next message from the agent (raises ``ConnectionClosed`` when the socket ends)."""
        assert self._socket is not None, "receive before open"
        return json.loads(await self._socket.recv())

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()


class RelaySocket:
    """One call's socket, opened on ``server`` (e.g. ``ws://127.0.0.1:8000``, where the app listens)."""

    def __init__(self, *, agent: AIAgent, call_sid: str, server: str) -> None:
        self.agent = agent
        self.call_sid = call_sid
        self.server = server.rstrip("/")
        self.handoff: dict | None = None  # what ``end`` said, once the agent ended the session
        self._socket: ClientConnection | None = None

    def __enter__(self) -> RelaySocket:
        path, headers = signed_handshake(self.agent)
        opened = connect(self.server + path, additional_headers=headers, open_timeout=10)
        self._socket = opened.__enter__()  # left by __exit__
        self._send(setup_message(agent=self.agent, call_sid=self.call_sid))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            self._socket.__exit__(None, None, None)

    def say(self, text: str, on_token: Callable[[str], None] = lambda token: None) -> str:
        """The caller says ``text``; the agent's reply as it streamed (each token to ``on_token``)."""
        self._send(prompt_message(agent=self.agent, text=text))
        return self._reply(on_token)

    def press(self, digits: str, on_token: Callable[[str], None] = lambda token: None) -> str:
        for digit in digits:
            self._send({"type": "dtmf", "digit": digit})
        self._send({"type": "dtmf", "digit": "#"})
        return self._reply(on_token)

    def _reply(self, on_token: Callable[[str], None]) -> str:
        tokens: list[str] = []
        while True:
            message = self._receive(timeout=30)
            if message.get("type") == "end":
                self.handoff = json.loads(message.get("handoffData") or "{}")
                return "".join(tokens)
            tokens.append(message.get("token", ""))
            on_token(tokens[-1])
            if message.get("last"):
                break
        text = "".join(tokens)
        # An ending turn is followed by ``end`` once its goodbye has been spoken.
        try:
            end = self._receive(timeout=len(text) / float(settings.RELAY_SPEECH_CHARS_PER_SECOND) + 1.0)
        except TimeoutError:
            return text
        if end.get("type") == "end":
            self.handoff = json.loads(end.get("handoffData") or "{}")
        return text

    def _send(self, message: dict) -> None:
        assert self._socket is not None
        self._socket.send(json.dumps(message))

    def _receive(self, *, timeout: float) -> dict:
        assert self._socket is not None
        return json.loads(self._socket.recv(timeout=timeout))


def relay_session_ended(*, phone: SimulatedPhone, call_sid: str, handoff: dict) -> Screen:
    """What Twilio does after ``end``: ask the ``<Connect action>`` URL what comes next, and do it."""
    status, body = phone.post(
        "relay_action",
        {
            "CallSid": call_sid,
            "CallStatus": "in-progress",
            "SessionStatus": "ended",
            "HandoffData": json.dumps(handoff),
        },
    )
    screen = read_twiml(call_sid, status, body)
    if screen.ended:
        phone.hang_up(call_sid)  # Twilio reports the end of a call it hung up with a status callback
    return screen
