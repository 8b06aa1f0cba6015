"""Our own phones' side of ConversationRelay: Twilio's messages over a real, signed socket.

The terminal phone (``manage.py phone``) drives a relay-mode agent through the running
server exactly as Twilio would: the handshake signed with the client's token over the public
wss URL, then ``setup``, ``prompt``, ``dtmf`` and ``interrupt``, reading the ``text`` tokens
as they stream and the ``end`` that hands the call back to the ``<Connect action>`` URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from websockets.sync.client import ClientConnection, connect

from agents.models import AIAgent
from calls.relay.handshake import relay_path
from calls.telephony import webhook_auth_token
from integrations.twilio import sign


class RelaySocket:
    """One call's socket, opened on ``server`` (e.g. ``ws://127.0.0.1:8000``, where the app listens)."""

    def __init__(self, *, agent: AIAgent, call_sid: str, server: str) -> None:
        self.agent = agent
        self.call_sid = call_sid
        self.server = server.rstrip("/")
        self.handoff: dict | None = None  # what ``end`` said, once the agent ended the session
        self._socket: ClientConnection | None = None

    def __enter__(self) -> RelaySocket:
        path = relay_path(self.agent)
        signature = sign(
            auth_token=webhook_auth_token(self.agent.client), url=settings.RELAY_BASE_URL + path, params={}
        )
        opened = connect(self.server + path, additional_headers={"X-Twilio-Signature": signature}, open_timeout=10)
        self._socket = opened.__enter__()  # left by __exit__
        self._send({"type": "setup", "callSid": self.call_sid, "to": self.agent.phone_number or "",
                    "direction": "inbound", "customParameters": {"agent": str(self.agent.public_id)}})  # fmt: skip
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            self._socket.__exit__(None, None, None)

    def say(self, text: str, on_token: Callable[[str], None] = lambda token: None) -> str:
        """The caller says ``text``; the agent's reply as it streamed (each token to ``on_token``)."""
        self._send({"type": "prompt", "voicePrompt": text, "lang": self.agent.language, "last": True})
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
