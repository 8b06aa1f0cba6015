"""The conversation-provider contract shared by every LLM backend.

The engine in ``calls`` builds a :class:`ConversationContext` from the database and hands
it to a provider; the provider answers with a :class:`Reply` (what to say and what to do),
written as a stream of text pieces first (``stream_reply``, the one way to ask; ``collected``
reads a stream whole).
Both are frozen plain values so providers stay free of Django and trivially testable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

INTEREST_LEVELS = ("cold", "warm", "hot", "converted")
END_OUTCOMES = (
    "answered",
    "interested",
    "not_interested",
    "converted",
    "callback_requested",
    "voicemail",
    "do_not_call",
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "agent" | "caller"
    text: str


@dataclass(frozen=True)
class CustomerSnapshot:
    name: str = ""
    phone_number: str = ""
    interest_level: str = "cold"
    objections: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    previous_calls: int = 0
    call_preference_time: str = ""


@dataclass(frozen=True)
class PreviousCall:
    """What the agent remembers of its last conversation with this customer (memory across calls).

    Read once when the call begins, so every turn of a callback knows why it was booked and
    what the caller wanted, and the agent can pick up where the last call stopped.
    """

    on: date  # the day of the earlier call, customer-local
    outcome: str = ""  # the earlier call's outcome ("callback_requested", ...)
    # Set when this call is the callback the customer asked for: the callback's reason.
    callback_reason: str = ""
    asked_about: tuple[str, ...] = ()  # product topics the caller asked about: pricing, features, ...
    caller_said: tuple[str, ...] = ()  # the caller's last words on that call, each bounded
    # Objections recorded on the customer that the earlier call did not answer.
    open_objections: tuple[str, ...] = ()

    @property
    def requested_callback(self) -> bool:
        return bool(self.callback_reason)


@dataclass(frozen=True)
class ConversationContext:
    """Everything a provider may use to answer one caller utterance."""

    agent_name: str
    company_name: str
    now_local: datetime  # aware, in the customer's timezone (or the client's when unknown)
    script: str = ""
    personality_type: str = "friendly"
    language: str = "en-US"
    product_info: dict = field(default_factory=dict)  # features, pricing, benefits, description
    objection_responses: dict[str, str] = field(default_factory=dict)  # key -> trained answer
    faq: dict[str, str] = field(default_factory=dict)  # question -> answer
    sales_techniques: tuple[str, ...] = ()
    client_instructions: str = ""
    business_info: dict = field(default_factory=dict)
    # Learned memory: e.g. {"objection_answers": {key: {"uses": n, "converted": n, "interested": n}},
    # "pickup_hours": {"14": {"attempts": n, "answered": n}}, ...}
    memory: dict = field(default_factory=dict)
    customer: CustomerSnapshot = field(default_factory=CustomerSnapshot)
    call_type: str = "inbound"
    call_purpose: str = ""
    previous_call: PreviousCall | None = None  # None: a first conversation
    transcript: tuple[Turn, ...] = ()
    caller_utterance: str | None = None  # None on the opening turn


@dataclass(frozen=True)
class ScheduleCallback:
    when: datetime  # aware; the engine moves it into a time the customer may be called
    reason: str = ""


@dataclass(frozen=True)
class MarkDoNotCall:
    reason: str = "caller asked not to be called"


@dataclass(frozen=True)
class SetInterestLevel:
    level: str  # one of INTEREST_LEVELS


@dataclass(frozen=True)
class RecordObjection:
    key: str  # the trained objection key it matched, or a short slug of a new one
    text: str = ""  # what the caller said


@dataclass(frozen=True)
class TransferToHuman:
    reason: str = ""
    # A number the model named, as it wrote it. Never dialled as such: the engine dials only
    # the client's configured transfer number (a model must not send a caller anywhere).
    requested_number: str = ""


@dataclass(frozen=True)
class EndCall:
    outcome: str = "answered"  # one of END_OUTCOMES


Action = ScheduleCallback | MarkDoNotCall | SetInterestLevel | RecordObjection | TransferToHuman | EndCall


@dataclass(frozen=True)
class Reply:
    text: str
    actions: tuple[Action, ...] = ()
    provider: str = ""
    # Set when the configured provider failed and another one answered (shown as an alert).
    fallback_reason: str = ""
    # The trained objection key whose answer was used, so learning can credit it.
    answered_objection: str = ""


class ProviderError(Exception):
    """A provider could not produce a reply (time-out, bad response, unreachable)."""


class ProviderTimeout(ProviderError):
    """The provider's own deadline passed: reported as a time-out, like the turn budget's."""


@runtime_checkable
class ConversationProvider(Protocol):
    """What the engine asks of a provider: the reply as a stream, on both transports (ADR 0017)."""

    name: str

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        """The reply as it is written: text pieces (``str``), then exactly one complete :class:`Reply`.

        The final ``Reply`` carries the actions (tool calls complete only at the end of a
        stream) and its ``text`` is the answer: the pieces joined (or, when the model only
        called tools, a confirmation that was also yielded as a piece), cut at a sentence
        when the model wrote past the length cap (the pieces stop at the cap itself).

        ``live``: each piece reaches the caller as it comes (ConversationRelay), so an answer
        that breaks off after its first piece ends with what was said. False: the transport
        collects the whole stream before saying anything (the ``<Gather>`` webhook), so such an
        answer may be replaced whole, as one that fails before its first piece is.
        """
        ...


def collected(stream: Iterable[str | Reply]) -> Reply:
    """The stream's whole reply, read to its end (a transport that says nothing until then)."""
    replies = [item for item in stream if isinstance(item, Reply)]
    if len(replies) != 1:
        raise RuntimeError(f"a reply stream ended with {len(replies)} replies instead of one")
    return replies[0]
