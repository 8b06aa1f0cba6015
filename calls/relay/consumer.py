"""The ConversationRelay socket: one per call, thin over the engine's streaming turn (``calls.turns``).

The consumer holds only what lives as long as the socket (the call's sid, its copy of the
transcript, the turn being spoken); everything durable is written by the turn services after
each prompt, so a reconnect or a Twilio retry can be served by any process. The engine's
answer stream (the same one the ``<Gather>`` webhook collects) is read in a worker thread and
sent as it comes; an ``interrupt`` (or the caller's next prompt) stops it, and the stored turn
keeps what the caller heard. A message we cannot use is logged and dropped: the socket never
closes on bad input, and never answers with something Twilio would reject.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import UUID

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from agents.selectors import agent_by_public_id
from calls.relay import protocol
from calls.relay.handshake import handshake_is_signed
from calls.relay.streaming import SpeechChunker
from calls.relay.turn import (
    ClaimedTurn,
    StoredReply,
    relay_call,
    relay_turn_claim,
    relay_turn_claim_planned,
    relay_turn_interrupted,
    relay_turn_store,
    relay_turn_timed,
)
from calls.selectors import LiveCall
from calls.turns import TurnPlan, plan_may_write, turn_plan, turn_reply
from core.errors import NotFound
from integrations.llm.base import Reply

logger = logging.getLogger(__name__)

# Provider streams block on the network: each live turn reads its stream in one of these.
_STREAMS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="relay-stream")
_DONE = object()
# Keys pressed with no "#" are sent as one input after this pause.
DTMF_PAUSE_S = 2.0
DTMF_MAX = 32
PARTIAL_MAX = protocol.PROMPT_MAX_CHARS
SORRY = "Sorry, something went wrong on our side. Goodbye."


@dataclass
class _Speaking:
    """The agent turn being spoken on this socket."""

    started: float
    claimed: ClaimedTurn | None = None
    sent: list[str] = field(default_factory=list)
    first_token_ms: int | None = None
    streamed: bool = False  # every piece was sent: the turn is stored whatever happens next
    stored: StoredReply | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def _agent(public_id):
    try:
        return agent_by_public_id(public_id=public_id)
    except NotFound:
        return None


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        public_id: UUID = self.scope["url_route"]["kwargs"]["agent_id"]
        headers = dict(self.scope.get("headers") or ())
        signature = headers.get(b"x-twilio-signature", b"").decode("latin-1") or None
        agent = await database_sync_to_async(_agent)(public_id)
        query = (self.scope.get("query_string") or b"").decode("latin-1")
        if agent is None or not handshake_is_signed(
            agent=agent, path=self.scope["path"], query=query, signature=signature
        ):
            await self.close()  # before accept: the handshake is refused (403), no message is sent
            return
        self.agent = agent
        self.call_sid = ""
        self.ended = False
        self.partial = ""
        self.digits = ""
        self.digits_timer: asyncio.TimerHandle | None = None
        self.speaking: _Speaking | None = None
        self.turn_task: asyncio.Task | None = None
        self.last_agent_sequence: int | None = None  # the agent turn the caller last heard
        self.next_sequence = 0  # the caller turn this socket expects next (keys a duplicated prompt)
        # The socket's copy of the call and its transcript: read at setup, grown by its own turns,
        # so a plain prompt needs no read and its stream starts beside the claim. None: re-read.
        self.live: LiveCall | None = None
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "digits_timer", None) is not None:
            self.digits_timer.cancel()  # keys pressed just before a hang-up are not a turn
        if getattr(self, "turn_task", None) is not None:
            await self._stop_speaking(heard=None)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = protocol.parse(text_data if text_data is not None else bytes_data)
        if isinstance(message, protocol.Setup):
            await self._setup(message)
        elif not self.call_sid:
            logger.warning("Relay socket for agent %s: %s before setup, ignored", self.agent.public_id, message)
        elif isinstance(message, protocol.Prompt):
            await self._prompt(message)
        elif isinstance(message, protocol.Interrupt):
            await self._stop_speaking(heard=message.heard)
        elif isinstance(message, protocol.Dtmf):
            await self._dtmf(message.digit)
        elif isinstance(message, protocol.RelayError):
            logger.warning("ConversationRelay reported an error on call %s: %s", self.call_sid, message.description)
        else:
            logger.warning("Relay socket on call %s: ignored a message (%s)", self.call_sid or "?", message.reason)

    # --- messages -------------------------------------------------------------------------

    async def _setup(self, setup: protocol.Setup) -> None:
        if self.call_sid:
            logger.warning("Call %s: a second setup on one socket, ignored", self.call_sid)
            return
        live = await database_sync_to_async(relay_call)(agent=self.agent, call_sid=setup.call_sid)
        if live is None:
            logger.warning("Relay socket for agent %s: unknown call %s", self.agent.public_id, setup.call_sid)
            await self._end({"reason": "unknown_call"})
            return
        self.call_sid = setup.call_sid
        agent_lines = [turn.sequence for turn in live.turns if turn.speaker == "agent"]
        self.last_agent_sequence = agent_lines[-1] if agent_lines else None
        self.next_sequence = live.next_sequence
        self.live = live

    async def _prompt(self, prompt: protocol.Prompt) -> None:
        if prompt.cut:
            logger.warning("Call %s: a prompt over %d characters was cut", self.call_sid, protocol.PROMPT_MAX_CHARS)
        if not prompt.last:  # partial prompts (when enabled): wait for the final one
            self.partial = f"{self.partial} {prompt.text}".strip()[:PARTIAL_MAX]
            return
        text = f"{self.partial} {prompt.text}".strip()[:PARTIAL_MAX]
        self.partial = ""
        if text:
            await self._answer(text)

    async def _dtmf(self, digit: str) -> None:
        if self.digits_timer is not None:
            self.digits_timer.cancel()
            self.digits_timer = None
        if digit != "#":
            self.digits = (self.digits + digit)[:DTMF_MAX]
        if digit == "#" or len(self.digits) >= DTMF_MAX:
            await self._send_digits()
        else:
            loop = asyncio.get_running_loop()
            self.digits_timer = loop.call_later(DTMF_PAUSE_S, lambda: asyncio.ensure_future(self._send_digits()))

    async def _send_digits(self) -> None:
        digits, self.digits = self.digits, ""
        if digits:
            await self._answer(digits)  # keys are the caller's words: "1", or a phone number

    # --- a turn ---------------------------------------------------------------------------

    async def _answer(self, utterance: str) -> None:
        started = time.perf_counter()
        if self.ended:
            return
        if self.turn_task is not None:
            # The caller spoke again before the reply was heard: it stops where it got to.
            await self._stop_speaking(heard=None)
        speaking = _Speaking(started=started)
        self.speaking = speaking
        self.turn_task = asyncio.ensure_future(self._speak_or_apologise(speaking, utterance))

    async def _speak_or_apologise(self, speaking: _Speaking, utterance: str) -> None:
        try:
            await self._speak(speaking, utterance)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug: logged loudly with the call; the caller hears why the call ends, and the
            # action URL hangs up politely (no turn stored: the transcript shows the gap).
            logger.exception("Relay turn failed on call %s", self.call_sid)
            await self.send(protocol.text_token(SORRY, last=True))
            await self._end({"reason": "error"})

    async def _speak(self, speaking: _Speaking, utterance: str) -> None:
        live = self.live
        if live is not None and not plan_may_write(live=live, utterance=utterance):
            # Planned from our copy, no database: the answer starts while the caller's words are
            # stored, and its tokens wait in the queue until that claim is won (never two replies).
            plan = turn_plan(live=live, sequence=self.next_sequence, utterance=utterance)
            queue = self._stream(speaking, plan)
            claimed = await self._claim(speaking, relay_turn_claim_planned, plan=plan)
            if claimed is None:
                speaking.stop.set()  # lost to another socket, or the call is over: nothing is said
                return
        else:
            claimed = await self._claim(
                speaking, relay_turn_claim, agent=self.agent, call_sid=self.call_sid, sequence=self.next_sequence,
                utterance=utterance,
            )  # fmt: skip
            if claimed is None:
                return
            queue = self._stream(speaking, claimed.plan)
        reply: Reply | None = None
        chunker = SpeechChunker()
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Reply):
                reply = item
                continue
            await self._say(speaking, chunker.feed(item))
        await self._say(speaking, chunker.flush())
        speaking.streamed = True
        assert reply is not None, "a provider stream ended without its reply"
        spoken = "".join(speaking.sent)
        if not reply.actions:
            await self.send(protocol.text_token("", last=True))
            last_ms = _ms(speaking.started)
            speaking.stored = await database_sync_to_async(relay_turn_store)(
                claimed=claimed, reply=reply, spoken=spoken, first_token_ms=speaking.first_token_ms,
                last_token_ms=last_ms,
            )  # fmt: skip
        else:
            speaking.stored = stored = await database_sync_to_async(relay_turn_store)(
                claimed=claimed, reply=reply, spoken=spoken, first_token_ms=speaking.first_token_ms,
                last_token_ms=_ms(speaking.started),
            )  # fmt: skip
            await self._say(speaking, (" " if spoken and stored.more else "") + stored.more)
            await self.send(protocol.text_token("", last=True))
            if stored.more:
                await database_sync_to_async(relay_turn_timed)(
                    call=claimed.call, sequence=stored.sequence, last_token_ms=_ms(speaking.started)
                )
        self._heard(speaking.stored)
        if speaking.stored.handoff is not None:
            self.ended = True
            # Twilio ends the session at once on "end": wait until the goodbye has been spoken.
            await asyncio.sleep(len(speaking.stored.text) / float(settings.RELAY_SPEECH_CHARS_PER_SECOND))
            await self._end(speaking.stored.handoff)

    def _stream(self, speaking: _Speaking, plan: TurnPlan) -> asyncio.Queue:
        """Start reading the engine's answer (``turns.turn_reply``) into a queue, in a worker thread."""
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.run_in_executor(_STREAMS, _pump, turn_reply(plan), queue, loop, speaking.stop)
        return queue

    async def _claim(self, speaking: _Speaking, claim_turn, **kwargs) -> ClaimedTurn | None:
        """Store the caller's words; finished even when the turn is stopped meanwhile, so the
        socket's expected sequence stays true and the stop stores the (empty) agent turn."""
        claim = asyncio.ensure_future(database_sync_to_async(claim_turn)(**kwargs))
        try:
            claimed = await asyncio.shield(claim)
        except asyncio.CancelledError:
            self._claimed(speaking, await claim)
            raise
        return self._claimed(speaking, claimed)

    def _claimed(self, speaking: _Speaking, claimed: ClaimedTurn | int | None) -> ClaimedTurn | None:
        if isinstance(claimed, ClaimedTurn):
            speaking.claimed = claimed
            self.next_sequence = claimed.sequence + 2
            self.live = LiveCall(call=claimed.call, turns=[*claimed.plan.live.turns, claimed.turn])
            return claimed
        if claimed is not None:
            self.next_sequence = claimed  # another socket answered it; expect the turn after
            self.live = None  # and its turns are not in our copy: the next prompt re-reads
        return None

    def _heard(self, stored: StoredReply) -> None:
        """The agent turn just stored is the one the caller last heard, and joins our copy."""
        self.last_agent_sequence = stored.sequence
        if self.live is not None and stored.turn is not None:
            self.live = LiveCall(call=self.live.call, turns=[*self.live.turns, stored.turn])

    async def _say(self, speaking: _Speaking, text: str) -> None:
        if not text:
            return
        await self.send(protocol.text_token(text, last=False))
        if speaking.first_token_ms is None:
            speaking.first_token_ms = _ms(speaking.started)
        speaking.sent.append(text)

    async def _stop_speaking(self, *, heard: str | None) -> None:
        """Stop the turn being spoken; the stored agent turn keeps what the caller heard.

        ``heard`` is Twilio's ``utteranceUntilInterrupt``; None when the caller spoke before any
        of it was played (then they heard nothing of what is still unsent) or hung up.
        """
        task, speaking = self.turn_task, self.speaking
        self.turn_task = self.speaking = None
        if task is not None and not task.done() and not (speaking is not None and speaking.streamed):
            # Still streaming: stop the provider; a turn already spoken whole is left to be stored.
            if speaking is not None:
                speaking.stop.set()
            task.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
            if not task.cancelled() and task.exception() is not None:
                logger.error("Relay turn failed on call %s", self.call_sid, exc_info=task.exception())
        if speaking is not None and speaking.claimed is not None and speaking.stored is None:
            # Cut before it was stored: store what was said, with none of the unfinished reply's actions.
            said = heard if heard is not None else "".join(speaking.sent)
            speaking.stored = await database_sync_to_async(relay_turn_store)(
                claimed=speaking.claimed, reply=Reply(text=said, provider="relay"), spoken=said,
                first_token_ms=speaking.first_token_ms, last_token_ms=None, interrupted=True,
            )  # fmt: skip
            self._heard(speaking.stored)
        elif heard is not None and self.last_agent_sequence is not None and self.call_sid:
            call = speaking.claimed.call if speaking and speaking.claimed else None
            call = call or (self.live.call if self.live is not None else None)
            await database_sync_to_async(_cut_stored)(
                agent=self.agent, call_sid=self.call_sid, call=call, sequence=self.last_agent_sequence, heard=heard
            )
            for turn in self.live.turns if self.live is not None else ():
                if turn.sequence == self.last_agent_sequence and turn.speaker == "agent":
                    turn.text, turn.interrupted = heard, True  # our copy says what the caller heard

    async def _end(self, handoff: dict[str, str]) -> None:
        self.ended = True
        await self.send(protocol.end_session(handoff))


def _cut_stored(*, agent, call_sid: str, call, sequence: int, heard: str) -> None:
    if call is None:
        live = relay_call(agent=agent, call_sid=call_sid)
        if live is None:
            return
        call = live.call
    relay_turn_interrupted(call=call, sequence=sequence, heard=heard)


def _pump(items, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop, stop) -> None:
    """Read the answer's stream in this worker thread and hand each item to the socket's loop."""

    def put(item: object) -> None:
        if not loop.is_closed():  # the server is shutting down: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    try:
        for item in items:
            put(item)
            if stop.is_set():
                break
    except Exception as exc:  # noqa: BLE001 - handed to the socket's task, which logs it with the call
        put(exc)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
        put(_DONE)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
