"""Test your agent, relay mode: the browser's phone plays Twilio's part over a real socket.

A relay-mode agent is reached by Twilio over a WebSocket, so its test call should be too:
the browser talks to this consumer (signed in by its session, same-origin only, its own agent
only), which starts the call through the incoming webhook as the simulated phone does (so the
call row is a real call's), opens ``/relay/<agent>/`` on this very server signed as Twilio
signs it, sends Twilio's messages (setup, prompt, interrupt, dtmf) and forwards each ``text``
token as it arrives, with each turn's time to first word measured here, where a caller hears it.
The browser's frames are outside values: bounded and checked before they reach the webhooks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from uuid import UUID

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import reverse
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from agents.models import AIAgent
from agents.selectors import agent_by_public_id
from calls.relay import protocol
from calls.relay.phone import (
    AsyncRelaySocket,
    interrupt_message,
    prompt_message,
    relay_session_ended,
    signed_handshake,
)
from calls.screen import Screen
from calls.selectors import call_by_sid
from calls.simulated_phone import SimulatedPhone
from core.errors import DomainError, NotFound
from core.phone import normalize_e164

logger = logging.getLogger(__name__)

FRAME_MAX_CHARS = 4000  # a typed line and its envelope; anything larger is not our page's
DIGITS = frozenset("0123456789*#")
DIGITS_MAX = 32


def _own_relay_agent(*, user, public_id: UUID) -> AIAgent | None:
    """The user's own agent named by the URL; another client's is refused like a missing one."""
    if not user.is_authenticated or not getattr(user, "client_id", None):
        return None
    try:
        agent = agent_by_public_id(public_id=public_id)
    except NotFound:
        return None
    return agent if agent.client_id == user.client_id else None


def _dial(*, agent: AIAgent, from_number: str) -> tuple[Screen, str, tuple[str, dict[str, str]]]:
    """Ring the agent as a customer would; the call's page, and the socket's signed handshake."""
    screen = SimulatedPhone(agent).dial_in(from_number=from_number)
    call = call_by_sid(agent=agent, call_sid=screen.call_sid)
    return screen, reverse("dashboard:call-detail", args=[call.pk]), signed_handshake(agent)


def _session_ended(*, agent: AIAgent, call_sid: str, handoff: dict) -> Screen:
    return relay_session_ended(phone=SimulatedPhone(agent), call_sid=call_sid, handoff=handoff)


def _hang_up_if_live(*, agent: AIAgent, call_sid: str) -> None:
    call = call_by_sid(agent=agent, call_sid=call_sid)
    if not call.is_final:
        SimulatedPhone(agent).hang_up(call_sid)


def _relay_server(scope: dict) -> str:
    """This server, where the browser's socket arrived: it serves ``/relay/`` too."""
    server = scope.get("server")
    if server and server[1]:
        host = f"[{server[0]}]" if ":" in server[0] else server[0]
        return f"ws://{host}:{server[1]}"
    return settings.RELAY_BASE_URL


class TestPhoneConsumer(AsyncWebsocketConsumer):
    """One browser tab's test call to its own relay-mode agent."""

    async def connect(self) -> None:
        public_id: UUID = self.scope["url_route"]["kwargs"]["agent_id"]
        agent = await database_sync_to_async(_own_relay_agent)(user=self.scope.get("user"), public_id=public_id)
        if agent is None:
            await self.close()  # before accept: a 403, nothing read or written
            return
        self.agent = agent
        self.relay: AsyncRelaySocket | None = None
        self.reader: asyncio.Task | None = None
        self.call_sid = ""
        self.ended = False
        self.prompted_at: float | None = None  # when the current prompt was sent
        self.first_word_ms: int | None = None
        self.heard: list[str] = []  # the current reply's tokens: what an interrupt says was heard
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "agent"):
            return
        if self.reader is not None:
            self.reader.cancel()
        if self.relay is not None:
            await self.relay.close()
        if self.call_sid and not self.ended:
            self.ended = True
            await database_sync_to_async(_hang_up_if_live)(agent=self.agent, call_sid=self.call_sid)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not text_data or len(text_data) > FRAME_MAX_CHARS:
            message = f"Send JSON text of at most {FRAME_MAX_CHARS} characters."
            return await self._tell({"type": "error", "message": message})
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            await self._step(kind, message)
        except ConnectionClosed:
            # The agent's socket closed under a step (the reader reports it too): the call is over.
            if not self.ended:
                await self._ended(reason="socket closed")

    async def _step(self, kind: str | None, message: dict | None) -> None:
        if kind == "dial":
            await self._dial(str(message.get("from") or ""))
        elif self.relay is None or self.ended:
            await self._tell({"type": "error", "message": "There is no call in progress."})
        elif kind == "say":
            await self._say(" ".join(str(message.get("text") or "").split())[: protocol.PROMPT_MAX_CHARS])
        elif kind == "press":
            await self._press(str(message.get("digits") or ""))
        elif kind == "interrupt":
            await self._interrupt()
        elif kind == "hangup":
            await self._hang_up()
        else:
            await self._tell({"type": "error", "message": "Unknown message."})

    # --- the browser's steps --------------------------------------------------------------

    async def _dial(self, raw_number: str) -> None:
        if self.call_sid:
            return await self._tell({"type": "error", "message": "This phone is already on a call."})
        if self.agent.voice_mode != AIAgent.VoiceMode.RELAY or not self.agent.can_take_calls:
            reason = self.agent.calls_blocked_reason or "This agent does not use ConversationRelay."
            return await self._tell({"type": "error", "message": reason})
        try:
            number = normalize_e164(raw_number[:32])
        except DomainError as exc:
            return await self._tell({"type": "error", "message": exc.message})
        screen, call_url, (path, headers) = await database_sync_to_async(_dial)(agent=self.agent, from_number=number)
        self.call_sid = screen.call_sid
        await self._tell({"type": "call", "callSid": screen.call_sid, "callUrl": call_url, "said": screen.said})
        if not screen.listening:
            return await self._ended(transferred_to=screen.transferred_to)
        relay = AsyncRelaySocket(
            agent=self.agent, call_sid=screen.call_sid, server=_relay_server(self.scope), path=path, headers=headers
        )
        try:
            await relay.open(from_number=number)
        except (OSError, InvalidHandshake, TimeoutError):
            logger.exception("Test phone: could not open the relay socket for call %s", self.call_sid)
            await self._tell({"type": "error", "message": "The agent's socket did not answer."})
            await database_sync_to_async(_hang_up_if_live)(agent=self.agent, call_sid=self.call_sid)
            return await self._ended()
        self.relay = relay
        self.reader = asyncio.ensure_future(self._read())

    async def _say(self, text: str) -> None:
        if not text:
            return
        self._new_turn()
        await self.relay.send(prompt_message(agent=self.agent, text=text))

    async def _press(self, digits: str) -> None:
        keys = [key for key in digits[:DIGITS_MAX] if key in DIGITS]
        if not keys:
            return
        self._new_turn()
        for key in keys if keys[-1] == "#" else [*keys, "#"]:
            await self.relay.send({"type": "dtmf", "digit": key})

    async def _interrupt(self) -> None:
        """Barge in: tell the agent what was heard of its reply so far, as Twilio does."""
        if self.prompted_at is None:
            return
        heard = "".join(self.heard)
        await self.relay.send(interrupt_message(heard=heard, duration_ms=_ms(self.prompted_at)))
        await self._tell({"type": "turn_end", "firstWordMs": self.first_word_ms, "interrupted": True})
        self.prompted_at = None

    async def _hang_up(self) -> None:
        self.ended = True
        await self.relay.close()
        await database_sync_to_async(_hang_up_if_live)(agent=self.agent, call_sid=self.call_sid)
        await self._tell({"type": "ended", "reason": "hangup"})

    # --- the agent's side -----------------------------------------------------------------

    async def _read(self) -> None:
        """Forward the agent's messages as they stream, until it ends the session or the socket closes."""
        try:
            while True:
                message = await self.relay.receive()
                if message.get("type") == "end":
                    handoff = json.loads(message.get("handoffData") or "{}")
                    await self.relay.close()  # as Twilio closes the session on "end"
                    screen = await database_sync_to_async(_session_ended)(
                        agent=self.agent, call_sid=self.call_sid, handoff=handoff
                    )
                    return await self._ended(reason=handoff.get("reason", ""), transferred_to=screen.transferred_to)
                if message.get("type") == "text":
                    await self._token(str(message.get("token") or ""), last=bool(message.get("last")))
        except ConnectionClosed:
            if not self.ended:
                await self._ended(reason="socket closed")

    async def _token(self, token: str, *, last: bool) -> None:
        if token:
            if self.prompted_at is not None and self.first_word_ms is None:
                self.first_word_ms = _ms(self.prompted_at)
                await self._tell({"type": "first_word", "ms": self.first_word_ms})
            self.heard.append(token)
            await self._tell({"type": "token", "token": token})
        if last and self.prompted_at is not None:
            last_ms = _ms(self.prompted_at)
            await self._tell({"type": "turn_end", "firstWordMs": self.first_word_ms, "lastWordMs": last_ms})
            self.prompted_at = None

    async def _ended(self, *, reason: str = "", transferred_to: str = "") -> None:
        self.ended = True
        await self._tell({"type": "ended", "reason": reason, "transferredTo": transferred_to})

    def _new_turn(self) -> None:
        self.prompted_at = time.perf_counter()
        self.first_word_ms = None
        self.heard = []

    async def _tell(self, message: dict) -> None:
        await self.send(json.dumps(message))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
