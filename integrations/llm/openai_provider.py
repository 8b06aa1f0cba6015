"""The ``openai`` conversation provider: any OpenAI-compatible chat-completions server.

It speaks the plain chat-completions protocol with function calling through the official
``openai`` client, so the same code drives OpenAI, Azure-style gateways, vLLM and Ollama
(``base_url``). Everything the SDK returns is turned into the frozen values of
:mod:`integrations.llm.base` here, so no SDK type leaks into the engine.

Rules this module protects:

- A provider never lets an SDK error escape: everything becomes :class:`ProviderError`,
  which the time-budget wrapper (:mod:`integrations.llm.resilience`) turns into a fallback
  reply, so a caller never hears silence.
- A tool call the model got wrong (bad JSON, unparseable time, unknown enum) is dropped or
  coerced, never a crash: one sloppy argument must not cost the whole turn.
- Every callback time is aware, in the customer's timezone (``now_local``), because the model
  thinks in the caller's wall-clock time ("tomorrow afternoon").
- The model's words are bounded twice: ``max_tokens`` asks the server for a short answer, and
  :func:`cap_reply_text` cuts whatever comes back at a sentence before it is stored or spoken,
  because a server may ignore ``max_tokens`` (a 10 MB answer once reached ``<Say>``).
- One request has one deadline (``timeout_s``) for all of it: connecting, waiting for the
  first byte and reading a body that trickles in. The SDK's timeouts are per phase and per
  read, so a model sending a byte a second would otherwise hold the request for ever.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx2
import openai

from integrations.llm.base import (
    END_OUTCOMES,
    INTEREST_LEVELS,
    Action,
    ConversationContext,
    CustomerSnapshot,
    EndCall,
    MarkDoNotCall,
    PreviousCall,
    ProviderError,
    ProviderTimeout,
    RecordObjection,
    Reply,
    ScheduleCallback,
    SetInterestLevel,
    TransferToHuman,
)

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama) accept any key, but the SDK refuses to start without one.
LOCAL_SERVER_API_KEY = "not-needed"

# About a minute of speech: a phone answer longer than that loses the caller anyway.
DEFAULT_REPLY_MAX_CHARS = 1000
DEFAULT_MAX_TOKENS = 300

# What a not-quite-compatible server's odd JSON turns into when read as SDK objects.
_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

OPENING_TURN_INSTRUCTION = (
    "[The call has just connected. Say your opening line now: greet the customer, say who you "
    "are and why you are calling, and ask one short question.]"
)

# Chat-completions tool definitions, one per action of ``integrations.llm.base``. Kept
# non-strict (no ``strict: true``) because several OpenAI-compatible servers reject it.
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "schedule_callback",
            "description": (
                "Schedule a call back when the customer asks to be called at another time. "
                "Resolve relative times ('tomorrow afternoon') against the current local time."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "when": {
                        "type": "string",
                        "description": (
                            "ISO-8601 local date and time in the customer's timezone, without "
                            "offset, e.g. 2026-11-22T14:00:00"
                        ),
                    },
                    "reason": {"type": "string", "description": "why the customer wants the callback"},
                },
                "required": ["when"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "mark_do_not_call",
            "description": "The customer asked not to be called again. Never argue with this.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": [],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "set_interest_level",
            "description": "Record how interested the customer is after what they just said.",
            "parameters": {
                "type": "object",
                "properties": {"level": {"type": "string", "enum": list(INTEREST_LEVELS)}},
                "required": ["level"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "record_objection",
            "description": (
                "Record an objection the customer raised. Use the trained objection key when it "
                "matches one, otherwise a short snake_case key."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "text": {"type": "string", "description": "what the customer said"},
                },
                "required": ["key"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "transfer_to_human",
            "description": (
                "Hand the call to a human colleague (customer insists, or you cannot help). The call "
                "always goes to the business's own transfer line: never make up or pass a number."
            ),
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": [],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "end_call",
            "description": "End the call after saying goodbye, with the outcome of the call.",
            "parameters": {
                "type": "object",
                "properties": {"outcome": {"type": "string", "enum": list(END_OUTCOMES)}},
                "required": ["outcome"],
            },
        },
    },
]


class OpenAIProvider:
    """Answers a turn with an OpenAI-compatible chat model, using tools for actions.

    ``timeout_s`` is the deadline of each whole HTTP request (connect, first byte, body) and
    ``max_retries`` defaults to 0: the turn has its own time budget (see ``FallbackProvider``),
    and a retry that cannot finish inside it only delays the fallback. ``max_tokens`` and
    ``reply_max_chars`` bound what the caller hears.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 6.0,
        max_retries: int = 0,
        *,
        temperature: float | None = 0.4,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        reply_max_chars: int = DEFAULT_REPLY_MAX_CHARS,
    ) -> None:
        if not model:
            raise ValueError("OPENAI_MODEL is required for the openai provider")
        if not api_key and not base_url:
            # Fail fast at configuration time rather than with a 401 on the first live call.
            raise ValueError("OPENAI_API_KEY is required unless OPENAI_BASE_URL points at a local server")
        if max_tokens < 1 or reply_max_chars < 1:
            raise ValueError("max_tokens and reply_max_chars must be positive")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.reply_max_chars = reply_max_chars
        self._client = openai.OpenAI(
            api_key=api_key or LOCAL_SERVER_API_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=openai.DefaultHttpx2Client(
                timeout=timeout_s, transport=WholeRequestDeadline(httpx2.HTTPTransport(), deadline_s=timeout_s)
            ),
        )

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        """One streamed chat completion with tools: content deltas as the model writes them, then the :class:`Reply`.

        A streamed tool call arrives in pieces keyed by its ``index`` (the id and name first,
        then the JSON arguments a few characters at a time); they are joined here and parsed
        once the stream is done (:func:`parse_tool_call`). A stream of tool calls only yields
        the confirmation as its text. The final reply's text is cut at a sentence past
        ``reply_max_chars`` (the pieces, already spoken, stop at the cap itself); a deadline is
        a :class:`ProviderTimeout`, any other failure a :class:`ProviderError`, and an answer
        with neither text nor a tool call is one. ``live`` changes nothing here.
        """
        left = self.reply_max_chars
        said: list[str] = []
        # The text as written, kept a little past the cap: enough for cap_reply_text to cut it
        # at the same sentence as the whole answer.
        written: list[str] = []
        room = 2 * self.reply_max_chars
        calls: dict[int, dict[str, str]] = {}
        try:
            chunks = self._client.chat.completions.create(
                model=self.model,
                messages=build_messages(context),  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
                stream=True,
                **self._sampling_options(),
            )
            with chunks:
                for chunk in chunks:
                    for choice in chunk.choices or ():
                        delta = getattr(choice, "delta", None)
                        for part in getattr(delta, "tool_calls", None) or ():
                            _gather_tool_call(calls, part)
                        piece = getattr(delta, "content", None)
                        if not isinstance(piece, str) or not piece:
                            continue
                        if room > 0:
                            written.append(piece[:room])
                            room -= len(piece)
                        if left > 0:
                            said.append(piece[:left])
                            left -= len(piece)
                            yield said[-1]
        except openai.APITimeoutError as exc:
            raise ProviderTimeout(_describe_sdk_error(exc)) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(_describe_sdk_error(exc)) from exc
        except httpx2.TimeoutException as exc:
            raise ProviderTimeout(f"{type(exc).__name__} while streaming") from exc
        except httpx2.HTTPError as exc:
            raise ProviderError(f"{type(exc).__name__} while streaming") from exc
        except _MALFORMED as exc:
            raise ProviderError(f"malformed stream chunk: {type(exc).__name__}") from exc
        if left <= 0:
            logger.warning("stream cut at %d characters", self.reply_max_chars)
        actions = _actions_from_tool_calls(
            (_StreamedCall(c["name"], c["arguments"]) for _, c in sorted(calls.items())), context
        )
        text = cap_reply_text("".join(written), self.reply_max_chars)
        if not text and not actions:
            raise ProviderError("the model streamed neither text nor a tool call")
        if not text:
            text = confirmation_for(actions, context)
            yield text
        yield Reply(
            text=text, actions=actions, provider=self.name, answered_objection=_answered_objection(actions, context)
        )

    def _sampling_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        return options


class WholeRequestDeadline(httpx2.BaseTransport):
    """One deadline for a whole request: connect, first byte and every read of the body.

    httpx's timeouts bound each phase and each read on its own, so a server that hangs after
    the headers, or sends a byte just inside every read time-out, keeps the request (and the
    worker thread waiting on it) alive long after the turn's budget. The body is cut off with
    a ``ReadTimeout`` at the first read past the deadline, which the SDK reports as a time-out.
    """

    def __init__(self, inner: httpx2.BaseTransport, *, deadline_s: float) -> None:
        self._inner = inner
        self._deadline_s = deadline_s

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        deadline = time.monotonic() + self._deadline_s
        response = self._inner.handle_request(request)
        response.stream = _BodyBeforeDeadline(response.stream, deadline=deadline, request=request)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self._inner.close()


class _BodyBeforeDeadline(httpx2.SyncByteStream):
    def __init__(self, inner: Any, *, deadline: float, request: httpx2.Request) -> None:
        self._inner = inner
        self._deadline = deadline
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                self.close()
                raise httpx2.ReadTimeout("the whole-request deadline passed while reading", request=self._request)
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def cap_reply_text(text: str, max_chars: int) -> str:
    """The reply, stripped and at most ``max_chars`` long, cut after the last whole sentence.

    A caller should hear complete sentences, so the cut falls after the last ``.``, ``!`` or
    ``?`` inside the limit; with no sentence end in its second half, it falls at a word and
    ends with a full stop.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", head)]
    if ends and ends[-1] >= max_chars // 2:
        cut = head[: ends[-1]]
    else:
        words = text[: max_chars - 1]  # room for the full stop
        if not text[max_chars - 1].isspace():
            words = words.rsplit(None, 1)[0] if " " in words.strip() else words
        cut = words.rstrip().rstrip(",;:-") + "."
    logger.warning("reply cut from %d to %d characters", len(text), len(cut))
    return cut


# --- the prompt -----------------------------------------------------------------------------


def build_messages(context: ConversationContext) -> list[dict[str, str]]:
    """System prompt, then the transcript as user (caller) / assistant (agent) messages.

    The current utterance is appended unless the engine already put it at the end of the
    transcript, so the model never sees the caller say the same thing twice. On the opening
    turn the greeting is asked for in a user message, because several chat templates
    (vLLM, Ollama) fail or ramble when a conversation has no user message at all.
    """
    messages: list[dict[str, str]] = [{"role": "system", "content": build_system_prompt(context)}]
    for turn in context.transcript:
        if not turn.text.strip():
            continue
        role = "assistant" if turn.speaker == "agent" else "user"
        messages.append({"role": role, "content": turn.text})

    utterance = context.caller_utterance
    if utterance is None:
        messages.append({"role": "user", "content": OPENING_TURN_INSTRUCTION})
    else:
        last = context.transcript[-1] if context.transcript else None
        already_there = last is not None and last.speaker == "caller" and last.text.strip() == utterance.strip()
        if not already_there:
            messages.append({"role": "user", "content": utterance.strip() or "[the caller said nothing]"})
    return messages


def build_system_prompt(context: ConversationContext) -> str:
    """Everything the client trained, the learned memory and the customer, as one prompt.

    Sections are omitted when empty so a freshly created (blank) agent gets a short prompt
    instead of a page of empty headings the model would try to fill in.
    """
    now = context.now_local
    purpose = context.call_purpose or ("the customer called us" if context.call_type == "inbound" else "a sales call")
    parts: list[str] = [
        f"You are {context.agent_name}, a phone sales agent for {context.company_name}. "
        f"Personality: {context.personality_type}. Speak {context.language}.",
        "You are on a live phone call: answer in one to three short spoken sentences, no lists, "
        "no markdown, no emojis. Ask at most one question at a time. Never invent prices or "
        "facts that are not given below. If the customer asks not to be called again, apologise, "
        "call mark_do_not_call and end the call. Use the tools to record what happens; always "
        "also say something to the customer.",
        f"Call: {context.call_type}; purpose: {purpose}.",
        f"Current local time for the customer: {now.strftime('%A')} {now.isoformat(timespec='minutes')}"
        f" ({_tz_label(now)}). Resolve relative times against it; morning means 10:00, afternoon "
        "14:00, evening 18:00. Give schedule_callback times as local ISO-8601 without offset.",
    ]
    if context.script.strip():
        parts.append(f"Script to follow:\n{context.script.strip()}")
    if context.product_info:
        parts.append(f"Product information:\n{_render_mapping(context.product_info)}")
    if context.business_info:
        parts.append(f"About the business:\n{_render_mapping(context.business_info)}")
    if context.objection_responses:
        lines = [f"- {key}: {answer}" for key, answer in context.objection_responses.items()]
        parts.append(
            "Trained objection answers (use them, and record_objection with the matching key):\n" + "\n".join(lines)
        )
    hints = memory_hints(context.memory)
    if hints:
        parts.append("What worked in earlier calls:\n" + "\n".join(f"- {hint}" for hint in hints))
    if context.faq:
        parts.append("FAQ:\n" + "\n".join(f"Q: {q}\nA: {a}" for q, a in context.faq.items()))
    if context.sales_techniques:
        parts.append("Sales techniques to use: " + "; ".join(context.sales_techniques))
    if context.client_instructions.strip():
        parts.append(f"Instructions from {context.company_name}:\n{context.client_instructions.strip()}")
    parts.append(_render_customer(context))
    if context.previous_call is not None:
        parts.append(_render_previous_call(context.previous_call, context.customer))
    return "\n\n".join(parts)


def _render_previous_call(memory: PreviousCall, customer: CustomerSnapshot) -> str:
    """The memory across calls as a short structured section, with what to do with it."""
    lines = [f"- When: {memory.on:%A %d %B %Y}; outcome: {memory.outcome.replace('_', ' ') or 'none recorded'}"]
    if memory.requested_callback:
        lines.append(f"- This call is the callback the customer asked for. Why: {memory.callback_reason}")
    if memory.asked_about:
        lines.append("- They asked about: " + ", ".join(memory.asked_about))
    if memory.caller_said:
        lines.append("- They said: " + " | ".join(f'"{said}"' for said in memory.caller_said))
    if customer.call_preference_time:
        lines.append(f"- Preferred time of day for calls: {customer.call_preference_time}")
    if memory.open_objections:
        lines.append("- Open objections (not yet answered): " + ", ".join(memory.open_objections))
    use = (
        "Open by saying you are calling back as they asked and about what, then answer what they asked."
        if memory.requested_callback
        else "Greet them as a returning customer and pick up where the last call stopped."
    )
    return "The previous call with this customer:\n" + "\n".join(lines) + "\n" + use


def memory_hints(memory: Mapping[str, Any]) -> list[str]:
    """Turn the learned memory into a few sentences the model can act on.

    Only objection answers that were used are ranked, best conversion first, so the model
    leans on what converted for this client rather than on what was merely trained.
    """
    hints: list[str] = []
    answers = memory.get("objection_answers") or {}
    ranked: list[tuple[float, float, str, int, int, int]] = []
    if isinstance(answers, Mapping):
        for key, stats in answers.items():
            if not isinstance(stats, Mapping):
                continue
            uses = _as_int(stats.get("uses"))
            if uses <= 0:
                continue
            converted = _as_int(stats.get("converted"))
            interested = _as_int(stats.get("interested"))
            ranked.append((converted / uses, interested / uses, str(key), uses, converted, interested))
    ranked.sort(key=lambda row: (-row[0], -row[1], row[2]))
    for _rate, _interest, key, uses, converted, interested in ranked[:5]:
        hints.append(f"the answer to '{key}' was used {uses} times: {converted} converted, {interested} got interested")
    for insight in memory.get("insights") or ():
        if isinstance(insight, str) and insight.strip():
            hints.append(insight.strip())
    return hints


def _render_customer(context: ConversationContext) -> str:
    customer = context.customer
    lines = [
        f"Name: {customer.name or 'unknown'}",
        f"Interest level: {customer.interest_level}",
        f"Previous calls: {customer.previous_calls}",
    ]
    if customer.call_preference_time:
        lines.append(f"Prefers to be called: {customer.call_preference_time}")
    if customer.objections:
        lines.append("Earlier objections: " + ", ".join(customer.objections))
    if customer.notes:
        lines.append("Notes: " + "; ".join(customer.notes))
    return "The customer:\n" + "\n".join(lines)


def _render_mapping(data: Mapping[str, Any]) -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, list | tuple):
            rendered = "; ".join(str(item) for item in value)
        elif isinstance(value, Mapping):
            rendered = json.dumps(value, ensure_ascii=False, default=str)
        else:
            rendered = str(value)
        lines.append(f"- {key}: {rendered}")
    return "\n".join(lines)


def _tz_label(moment: datetime) -> str:
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"
    key = getattr(moment.tzinfo, "key", None)
    return f"{offset}, {key}" if key else offset


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --- tool calls -> actions --------------------------------------------------------------------


class _StreamedCall:
    """A tool call joined from stream deltas, shaped like the SDK's (``.function.name/.arguments``)."""

    def __init__(self, name: str, arguments: str) -> None:
        self.function = self
        self.name = name
        self.arguments = arguments


# A model's streamed tool calls are bounded like its text: a few calls of a few kilobytes.
_STREAMED_CALLS_MAX = 8
_STREAMED_ARGUMENTS_MAX = 4000


def _gather_tool_call(calls: dict[int, dict[str, str]], part: Any) -> None:
    index = getattr(part, "index", None)
    if not isinstance(index, int) or (index not in calls and len(calls) >= _STREAMED_CALLS_MAX):
        return
    call = calls.setdefault(index, {"name": "", "arguments": ""})
    function = getattr(part, "function", None)
    name = getattr(function, "name", None)
    if isinstance(name, str) and name:
        call["name"] = name[:64]
    arguments = getattr(function, "arguments", None)
    if isinstance(arguments, str) and len(call["arguments"]) < _STREAMED_ARGUMENTS_MAX:
        call["arguments"] = (call["arguments"] + arguments)[:_STREAMED_ARGUMENTS_MAX]


def _actions_from_tool_calls(tool_calls: Any, context: ConversationContext) -> tuple[Action, ...]:
    actions: list[Action] = []
    for call in tool_calls:
        function = getattr(call, "function", None)
        if function is None:  # a custom (non-function) tool call: we never offer those
            continue
        action = parse_tool_call(function.name, function.arguments, context)
        if action is not None:
            actions.append(action)
    return tuple(actions)


def parse_tool_call(name: str, arguments: str | None, context: ConversationContext) -> Action | None:
    """One tool call to one action, or ``None`` when it cannot be trusted.

    Models sometimes send invalid JSON, unknown tools or out-of-enum values; those are
    dropped (or, for ``end_call``, coerced to a plain "answered") with a log line instead of
    failing the turn.
    """
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        logger.warning("dropping tool call %s: arguments are not JSON", name)
        return None
    if not isinstance(args, dict):
        logger.warning("dropping tool call %s: arguments are not an object", name)
        return None

    if name == "schedule_callback":
        when = parse_local_datetime(args.get("when"), context.now_local)
        if when is None:
            logger.warning("dropping schedule_callback: unparseable time %r", args.get("when"))
            return None
        return ScheduleCallback(when=when, reason=_text(args.get("reason")))
    if name == "mark_do_not_call":
        return MarkDoNotCall(reason=_text(args.get("reason")) or MarkDoNotCall().reason)
    if name == "set_interest_level":
        level = _text(args.get("level")).lower()
        if level not in INTEREST_LEVELS:
            logger.warning("dropping set_interest_level: unknown level %r", level)
            return None
        return SetInterestLevel(level=level)
    if name == "record_objection":
        key = _objection_key(_text(args.get("key")), context.objection_responses)
        if not key:
            logger.warning("dropping record_objection without a key")
            return None
        return RecordObjection(key=key, text=_text(args.get("text")))
    if name == "transfer_to_human":
        # Models pass a number unasked (under any name); it is kept only to be checked.
        number = next((_text(args.get(k)) for k in ("number", "to", "phone_number") if _text(args.get(k))), "")
        return TransferToHuman(reason=_text(args.get("reason")), requested_number=number[:32])
    if name == "end_call":
        outcome = _text(args.get("outcome")).lower()
        return EndCall(outcome=outcome if outcome in END_OUTCOMES else "answered")
    logger.warning("dropping unknown tool call %s", name)
    return None


def parse_local_datetime(value: Any, now_local: datetime) -> datetime | None:
    """An ISO-8601 string to an aware datetime in ``now_local``'s timezone.

    A naive value is the customer's wall-clock time (that is what the prompt asks for); an
    aware one is converted so the engine always gets the customer's zone.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    tz = now_local.tzinfo
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def confirmation_for(actions: tuple[Action, ...], context: ConversationContext) -> str:
    """Something sensible to say when the model only called tools.

    The caller must always hear a reply, and the most important action decides what it is
    (an opt-out outranks a goodbye, which outranks a callback confirmation).
    """
    by_type = {type(action): action for action in actions}
    if MarkDoNotCall in by_type:
        return "Understood, I'm sorry for the trouble. We won't call you again. Have a good day."
    if TransferToHuman in by_type:
        return "Of course, let me connect you with a colleague now. Please hold for a moment."
    callback = by_type.get(ScheduleCallback)
    if isinstance(callback, ScheduleCallback):
        when = callback.when
        hour = when.strftime("%I").lstrip("0") or "12"
        days_ahead = (when.date() - context.now_local.date()).days
        day = {0: "today", 1: "tomorrow"}.get(days_ahead, f"on {when.strftime('%A, %B')} {when.day}")
        return f"Perfect, I'll call you back {day} at {hour}:{when.strftime('%M %p')}. Thank you!"
    if EndCall in by_type:
        return "Thank you for your time. Goodbye!"
    return "I see. Thank you for telling me."


def _answered_objection(actions: tuple[Action, ...], context: ConversationContext) -> str:
    """Credit the trained answer the model was told to use for the objection it recorded."""
    for action in actions:
        if isinstance(action, RecordObjection) and action.key in context.objection_responses:
            return action.key
    return ""


def _objection_key(raw: str, trained: Mapping[str, str]) -> str:
    """The trained key the model meant (exact, then case-insensitive), else a slug.

    Learning credits answers by key, so "Price" must land on the trained "price".
    """
    if raw in trained:
        return raw
    for key in trained:
        if key.lower() == raw.lower() or _slug(key) == _slug(raw):
            return key
    return _slug(raw)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:64]


def _describe_sdk_error(exc: openai.OpenAIError) -> str:
    """A short, log-safe description: the SDK's class, the HTTP status and the start of its message."""
    status = getattr(exc, "status_code", None)
    kind = f"{type(exc).__name__} (HTTP {status})" if status else type(exc).__name__
    message = str(exc).strip()
    return f"{kind}: {message[:200]}" if message else kind
