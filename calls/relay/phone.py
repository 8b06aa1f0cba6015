"""Our own phones' side of ConversationRelay: Twilio's messages over a real, signed socket.

The terminal phone (``manage.py phone``) drives a relay-mode agent through the running
server exactly as Twilio would: the handshake signed with the client's token over the public
wss URL, then ``setup``, ``prompt``, ``dtmf`` and ``interrupt``, reading the ``text`` tokens
as they stream and the ``end`` that hands the call back to the ``<Connect action>`` URL.
The dashboard's test phone does the same from an async consumer (:class:`AsyncRelaySocket`),
so both open the socket with one signing rule and send one set of messages. The built-in
phone (``calls.simulated_phone``: the simulator API, persona simulations) takes a socket of
its own for each step (:func:`relay_step`), since each step is a stateless request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Protocol

from django.conf import settings
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from agents.models import AIAgent
from calls.models import CallSession, CallTurn
from calls.relay.handshake import relay_path
from calls.screen import Screen, read_twiml
from calls.selectors import CALL_NOT_FOUND, agent_turn_at, live_call
from calls.telephony import webhook_auth_token
from calls.turns import ENDING_ACTIONS
from core.errors import NotFound, ServiceUnavailable
from integrations.twilio import sign

logger = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 30.0  # the longest wait for the next token of a reply
# A reply streamed whole is stored at once (before its ``last`` when it ends the call): past
# this, something is wrong on the server.
STORED_WITHIN_S = 10.0
END_MARGIN_S = 5.0  # an ending turn's ``end`` comes once its goodbye is spoken, plus this


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
        self.prompt(text)
        return self._reply(on_token)

    def press(self, digits: str, on_token: Callable[[str], None] = lambda token: None) -> str:
        self.keys(digits)
        return self._reply(on_token)

    def prompt(self, text: str) -> None:
        self._send(prompt_message(agent=self.agent, text=text))

    def keys(self, digits: str) -> None:
        for digit in digits:
            self._send({"type": "dtmf", "digit": digit})
        self._send({"type": "dtmf", "digit": "#"})

    def read_reply(self, on_token: Callable[[str], None] = lambda token: None) -> str:
        """The reply's tokens up to ``last: true``, or up to an ``end`` (then :attr:`handoff` is set)."""
        tokens: list[str] = []
        while True:
            message = self._receive(timeout=REPLY_TIMEOUT_S)
            if message.get("type") == "end":
                self.handoff = json.loads(message.get("handoffData") or "{}")
                return "".join(tokens)
            tokens.append(message.get("token", ""))
            on_token(tokens[-1])
            if message.get("last"):
                return "".join(tokens)

    def read_end(self, *, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the agent to end the session; True when it did."""
        try:
            message = self._receive(timeout=timeout)
        except TimeoutError:
            return False
        if message.get("type") != "end":
            logger.warning("Relay call %s: %s after the reply's last token, ignored", self.call_sid, message)
            return False
        self.handoff = json.loads(message.get("handoffData") or "{}")
        return True

    def _reply(self, on_token: Callable[[str], None]) -> str:
        text = self.read_reply(on_token)
        if self.handoff is None:
            # An ending turn is followed by ``end`` once its goodbye has been spoken.
            self.read_end(timeout=len(text) / float(settings.RELAY_SPEECH_CHARS_PER_SECOND) + 1.0)
        return text

    def _send(self, message: dict) -> None:
        assert self._socket is not None
        self._socket.send(json.dumps(message))

    def _receive(self, *, timeout: float) -> dict:
        assert self._socket is not None
        return json.loads(self._socket.recv(timeout=timeout))


class Webhooks(Protocol):
    """Twilio's webhooks, posted as Twilio posts them (the simulated phone)."""

    agent: AIAgent

    def post(self, name: str, params: dict[str, str], **query: object) -> tuple[int, bytes]: ...

    def hang_up(self, call_sid: str, *, status: str = "completed") -> None: ...


def relay_session_ended(*, phone: Webhooks, call_sid: str, handoff: dict) -> Screen:
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


def relay_step(*, phone: Webhooks, call_sid: str, text: str, server: str) -> Screen:
    """One step of a relay-mode call on the built-in phone: the caller says ``text`` on a socket of its own.

    A step is one request (any web process may serve the next), so it opens the call's socket
    on ``server`` (setup: the consumer reads the call again, as on Twilio's reconnect), sends
    the prompt, reads the reply as it streams and waits until it is stored, so the next step
    finds the whole transcript. An ``end`` is followed, as Twilio follows it, by the
    ``<Connect action>`` URL. Silence sends nothing: Twilio sends no prompt without words.
    """
    live = live_call(agent=phone.agent, call_sid=call_sid)
    if live is None:
        raise NotFound(CALL_NOT_FOUND)
    if live.call.is_final:
        return Screen(call_sid, ended=True)
    if not text.strip():
        return Screen(call_sid, listening=True)
    tokens: list[str] = []
    with ExitStack() as stack:
        try:
            socket = stack.enter_context(RelaySocket(agent=phone.agent, call_sid=call_sid, server=server))
        except (OSError, InvalidHandshake) as exc:
            # The operator's to fix (where the server listens is not the client's business): logged.
            logger.error(
                "Simulated call %s: the relay socket at %s did not answer (%s); is the web server running there? "
                "SIMULATED_PHONE_RELAY_URL says where the simulated phone finds it.", call_sid, server, exc,
            )  # fmt: skip
            raise ServiceUnavailable(
                "The agent's ConversationRelay socket did not answer. Try again in a moment.", retry_after=5
            ) from exc
        try:
            socket.prompt(text)
            reply = socket.read_reply(lambda token: tokens.append(token) if token else None).strip()
            turn = _stored_reply(socket, call=live.call, sequence=live.next_sequence + 1)
            if turn is not None and socket.handoff is None and _ends_call(turn):
                speaking = len(turn.text) / float(settings.RELAY_SPEECH_CHARS_PER_SECOND)
                if not socket.read_end(timeout=speaking + END_MARGIN_S):
                    raise TimeoutError("the agent ended the call but its socket sent no end")
        except TimeoutError as exc:
            # The server's fault, never the caller's: logged with the call, a polite 503 for the client.
            logger.error("Simulated call %s: the relay socket at %s stopped answering: %s", call_sid, server, exc)
            raise ServiceUnavailable("The agent did not answer in time. Try again in a moment.", retry_after=5) from exc
    said = [reply] if reply else []
    if socket.handoff is None:
        return Screen(call_sid, said, listening=True, tokens=tokens)
    after = relay_session_ended(phone=phone, call_sid=call_sid, handoff=socket.handoff)
    return Screen(
        call_sid, [*said, *after.said], after.listening, after.ended, after.transferred_to, after.status, tokens
    )


def _stored_reply(socket: RelaySocket, *, call: CallSession, sequence: int) -> CallTurn | None:
    """The agent turn at ``sequence`` once the consumer has stored it; None when the session
    ended without one (a failed turn: the consumer apologises and sends ``end``)."""
    deadline = time.monotonic() + STORED_WITHIN_S
    while (turn := agent_turn_at(call=call, sequence=sequence)) is None:
        if socket.handoff is not None:
            return None
        if time.monotonic() > deadline:
            raise TimeoutError("the reply was streamed but never stored")
        socket.read_end(timeout=0.02)  # the pause between two looks, listening for that ``end``
    return turn


def _ends_call(turn: CallTurn) -> bool:
    return any(record.get("type") in ENDING_ACTIONS for record in turn.actions or [])
