"""The ``scripted`` conversation provider: the embedded default that needs no key and no network.

It answers from the client's training only, so a client can try its agent the minute it is
trained and every turn still gets an answer when the ``openai`` provider fails or is late
(ADR 0005). The rules it keeps are on :class:`ScriptedProvider`; how it understands callers
is ``intents`` and ``time_phrases``, measured by ``evals/`` (ADR 0010).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversation import intents
from conversation.time_phrases import (
    CALLBACK_DAY_END,
    CALLBACK_DAY_START,
    default_callback_time,
    describe_when,
    is_time_answer,
    mentions_unreadable_time,
    parse_when,
)
from integrations.llm.base import (
    INTEREST_LEVELS,
    Action,
    ConversationContext,
    EndCall,
    MarkDoNotCall,
    RecordObjection,
    Reply,
    ScheduleCallback,
    SetInterestLevel,
    TransferToHuman,
    Turn,
)

PROVIDER_NAME = "scripted"
_CALLER_WILL_CALL = "Caller said they would call back"
_ASK_FOR_TIME = "ask"  # the caller wants a callback at a time we could not read: ask, never guess
_WHEN_QUESTION = "When would be a good time for me to call you back?"
# Two silent caller turns already in the transcript (each prompted): the next silence ends the call.
_SILENCES_BEFORE_GIVING_UP = 2
_REASON_MAX_CHARS = 160
_INTEREST_RANK = {level: rank for rank, level in enumerate(INTEREST_LEVELS)}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# --- wording --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tone:
    """The few words the personality changes; the content always comes from the training."""

    acknowledgements: tuple[str, ...]
    glad: str
    thanks: str
    farewell: str
    check_in: str  # after a trained answer that asks nothing back
    signup_question: str  # a "yes" to it converts
    start_question: str  # a "yes" to it moves on to the buying steps
    still_there: str
    callback_ok: str
    more_questions: str  # after an FAQ answer
    greets_by_clock: bool = False  # "Good morning." rather than "Hi!"


TONES: dict[str, Tone] = {
    "friendly": Tone(
        acknowledgements=("Got it.", "I hear you.", "Okay, I see.", "That makes sense."),
        glad="Great!",
        thanks="Thanks so much",
        farewell="Have a great day!",
        check_in="Does that help?",
        signup_question="Shall I get you signed up today?",
        start_question="Would you like to hear how easy it is to get started?",
        still_there="Are you still there?",
        callback_ok="No problem at all.",
        more_questions="Is there anything else you'd like to know?",
    ),
    "professional": Tone(
        acknowledgements=("Understood.", "I see.", "Thank you for explaining.", "That is a fair point."),
        glad="Excellent.",
        thanks="Thank you",
        farewell="Have a good day.",
        check_in="Does that address your concern?",
        signup_question="Would you like me to set up your account today?",
        start_question="Would you like me to walk you through the next steps?",
        still_there="Hello, are you still on the line?",
        callback_ok="Certainly.",
        more_questions="What else can I answer for you?",
        greets_by_clock=True,
    ),
    "enthusiastic": Tone(
        acknowledgements=("Totally get it!", "Oh, I hear you!", "Okay, love that!", "Makes total sense!"),
        glad="Fantastic!",
        thanks="Thanks a ton",
        farewell="Have an awesome day!",
        check_in="How does that sound?",
        signup_question="Want me to get you signed up right now?",
        start_question="Want to hear how quick it is to get going?",
        still_there="Hey, are you still there?",
        callback_ok="Absolutely, no problem!",
        more_questions="What else can I tell you?",
    ),
    "empathetic": Tone(
        acknowledgements=("I completely understand.", "That's very fair.", "I appreciate you sharing that."),
        glad="Wonderful.",
        thanks="Thank you so much",
        farewell="Take care, and have a lovely day.",
        check_in="Does that help put your mind at ease?",
        signup_question="Would you like me to get you signed up today?",
        start_question="Would it help if I explained how getting started works?",
        still_there="Are you still there? Take your time.",
        callback_ok="Of course, I understand.",
        more_questions="Is there anything else on your mind?",
    ),
}
_SIGNUP_QUESTIONS = tuple(tone.signup_question for tone in TONES.values())
_START_QUESTIONS = tuple(tone.start_question for tone in TONES.values())


def tone_for(personality_type: str) -> Tone:
    """The tone for an agent's personality; unknown ones sound friendly."""
    personality = (personality_type or "").lower()
    if personality in TONES:
        return TONES[personality]
    if any(word in personality for word in ("professional", "formal", "consultative", "corporate")):
        return TONES["professional"]
    if any(word in personality for word in ("enthusias", "energetic", "excited")):
        return TONES["enthusiastic"]
    if any(word in personality for word in ("empath", "caring", "warm")):
        return TONES["empathetic"]
    return TONES["friendly"]


# Needs questions by the sales technique the client trained (matched on words of its name).
_TECHNIQUE_QUESTIONS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("need", "discovery", "spin", "question", "consultative", "qualif", "assessment"),
        (
            "What matters most to you in a solution like this?",
            "What's the biggest challenge you're dealing with on this right now?",
        ),
    ),
    (("pain", "problem"), ("What frustrates you most about how things work today?",)),
    (
        ("solution", "value", "presentation"),
        ("If you could fix one thing about your current setup, what would it be?",),
    ),
    (("trial", "close", "closing"), ("How does that sound so far?",)),
    (("rapport", "relationship"), ("How are things going on your end these days?",)),
    (
        ("social", "proof", "testimonial", "referral", "story"),
        ("Would it help to hear how customers like you use it?",),
    ),
    (("urgency", "scarcity"), ("Would it help to have this in place before the end of the month?",)),
    (("assumptive",), ("When would you like to get started?",)),
)
_DEFAULT_QUESTIONS = (
    "What matters most to you in a solution like this?",
    "How are you handling this today?",
    "How does that sound so far?",
)
_ASKED_FOR_TIME = re.compile(
    r"\b(good|better|best|convenient) time\b|\bwhen (can|should|could|would|may|shall) (i|we)\b|"
    r"\bwhen (is|would be|works)\b|\bwhat time\b"
)
_ANY_TIME = re.compile(r"\b(any ?time|whenever|does not matter|you (pick|choose)|up to you|i do not know)\b")
_ASKED_IF_FREE = re.compile(
    r"\b(have|got) (a |two |a quick |a few |a couple of |one )?(minute|minutes|moment|second|sec)\b|\b(good|bad) time\b"
)
_OFFERED_CALLBACK = re.compile(r"\bcall(ed)? (you )?back\b|\bcall you (later|tomorrow|again)\b")
_PLACEHOLDER = re.compile(
    r"\[\s*(agent[ _]?name|agent|name|company[ _]?name|company|customer[ _]?name|customer|product[ _]?name|product)"
    r"\s*\]",
    re.IGNORECASE,
)
# How the agent names a product topic the caller asked about on an earlier call.
_TOPIC_NAMES = {
    "pricing": "the pricing",
    "features": "the features",
    "benefits": "the benefits",
    "description": "what we offer",
}
_SPEAKING_AS_SUBJECT = re.compile(r"^(we|our|it|this|the|i|they|a|an)\b", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, in order; joined with spaces they give ``text`` back."""
    return [piece for piece in _SENTENCE_END.split(text.strip()) if piece]


def sentence_stream(reply: Reply) -> Iterator[str | Reply]:
    """A whole reply streamed as a provider streams: its sentences (joined, they are its text), then the reply."""
    sentences = split_sentences(reply.text)
    for index, sentence in enumerate(sentences):
        yield sentence if index == len(sentences) - 1 else sentence + " "
    yield reply


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _inline(text: str) -> str:
    """``text`` for use inside a sentence: no final stop, lower case unless it starts an acronym."""
    text = " ".join(str(text).split()).rstrip(".!")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _join(items: Sequence[str]) -> str:
    items = [item for item in items if item]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def _stable_index(seed: str, size: int) -> int:
    """A repeatable pick among ``size`` wordings (``hash()`` changes between processes)."""
    return zlib.crc32(seed.encode("utf-8")) % size if size else 0


# --- one turn ------------------------------------------------------------------------------------


def learned_callback_time(now_local: datetime, memory: Mapping[str, Any]) -> datetime:
    """When to call back a caller who named no time: the usual default, moved to an hour that picks up.

    The learning task keeps ``memory["preferred_hours"]`` (customer-local hours whose pick-up
    rate beats the agent's average). The soonest of them later on the default's day, inside the
    09:00-19:00 a default callback keeps to, wins; with none, the default stands.
    """
    default = default_callback_time(now_local)
    hours = memory.get("preferred_hours") if isinstance(memory, Mapping) else None
    slots = [
        default.replace(hour=hour, minute=0)
        for hour in (hours if isinstance(hours, list) else ())
        if type(hour) is int and CALLBACK_DAY_START.hour <= hour <= CALLBACK_DAY_END.hour
    ]
    return min((slot for slot in slots if slot >= default), default=default)


class _Turn:
    """Everything needed to answer one caller utterance, read once from the context."""

    def __init__(self, context: ConversationContext) -> None:
        self.context = context
        self.tone = tone_for(context.personality_type)
        self.utterance = (context.caller_utterance or "").strip()
        self.history = self._history_without_current(context)
        self.agent_lines = [turn.text for turn in self.history if turn.speaker == "agent"]
        self.last_agent = self.agent_lines[-1] if self.agent_lines else ""
        names = (context.customer.name or "").split()
        self.first_name = names[0] if names else ""
        self.company = context.company_name or context.business_info.get("company_name", "") or "our company"
        self.product = context.product_info or {}

    @staticmethod
    def _history_without_current(context: ConversationContext) -> tuple[Turn, ...]:
        transcript = context.transcript
        if (
            transcript
            and context.caller_utterance is not None
            and transcript[-1].speaker == "caller"
            and intents.normalize(transcript[-1].text) == intents.normalize(context.caller_utterance)
        ):
            return transcript[:-1]
        return transcript

    # --- small readers -------------------------------------------------------------------------

    def fill(self, text: str) -> str:
        """Trained text with [NAME], [COMPANY], [CUSTOMER], [PRODUCT] filled (any case)."""

        def replace(found: re.Match[str]) -> str:
            what = found.group(1).lower().replace(" ", "_")
            if what.startswith("company"):
                return self.company
            if what.startswith("customer"):
                return self.first_name or "there"
            if what.startswith("product"):
                return str(self.product.get("name") or "our product")
            return self.context.agent_name

        return " ".join(_PLACEHOLDER.sub(replace, text or "").split())

    def said_before(self, text: str) -> bool:
        """Has the agent already said ``text`` (normalised) in this call?"""
        wanted = intents.normalize(text)
        return bool(wanted) and any(wanted in intents.normalize(line) for line in self.agent_lines)

    def said_last(self, sentence: str) -> bool:
        wanted = intents.normalize(sentence)
        return any(wanted == intents.normalize(s) for s in split_sentences(self.last_agent))

    def last_agent_asked(self, pattern: re.Pattern[str]) -> bool:
        return "?" in self.last_agent and bool(pattern.search(intents.normalize(self.last_agent)))

    def last_agent_said_any(self, sentences: Sequence[str]) -> bool:
        return any(sentence in self.last_agent for sentence in sentences)

    def current_interest(self) -> str:
        level = self.context.customer.interest_level
        return level if level in _INTEREST_RANK else "cold"

    def raise_interest(self, level: str | None) -> tuple[Action, ...]:
        """SetInterestLevel only when it raises the level: a neutral turn never lowers it."""
        if level is None or _INTEREST_RANK[level] <= _INTEREST_RANK[self.current_interest()]:
            return ()
        return (SetInterestLevel(level),)

    def caller_spoke_before(self) -> bool:
        """A greeting is the first thing a machine says; a person mid-call is not a voicemail."""
        return any(turn.speaker == "caller" and intents.normalize(turn.text) for turn in self.history)

    def interest_shown_in_call(self) -> bool:
        said = [turn.text for turn in self.history if turn.speaker == "caller"] + [self.utterance]
        return any(intents.interest_signal(text) for text in said)

    def acknowledgement(self) -> str:
        """An opening "Got it." that differs from the agent's last sentence."""
        options = self.tone.acknowledgements
        start = _stable_index(self.utterance, len(options))
        for offset in range(len(options)):
            candidate = options[(start + offset) % len(options)]
            if not self.said_last(candidate):
                return candidate
        return options[start]

    def name_suffix(self) -> str:
        return f", {self.first_name}" if self.first_name else ""

    def with_name(self, text: str) -> str:
        """ "Thanks so much" -> "Thanks so much, Jane" when we know the caller's name."""
        return f"{text}, {self.first_name}" if self.first_name else text

    # --- training, as sentences ----------------------------------------------------------------

    def description_line(self) -> str:
        description = self.product.get("description") or self.context.business_info.get("product_description", "")
        description = self.fill(str(description or ""))
        if not description:
            return ""
        if _SPEAKING_AS_SUBJECT.match(description) or description.lower().startswith(self.company.lower()):
            return _sentence(description)
        return _sentence(f"We offer {_inline(description)}")

    def value_line(self) -> str:
        value = self.fill(str(self.context.business_info.get("value_proposition") or ""))
        return _sentence(f"{self.company}'s promise is simple: {_inline(value)}") if value else ""

    def features_line(self) -> str:
        features = [_inline(self.fill(item)) for item in _as_list(self.product.get("features"))]
        return _sentence(f"It comes with {_join(features)}") if features else ""

    def benefits_line(self) -> str:
        benefits = [_inline(self.fill(item)) for item in _as_list(self.product.get("benefits"))]
        return _sentence(f"The main benefits are {_join(benefits)}") if benefits else ""

    def benefit_lines(self) -> list[str]:
        return [
            _sentence(f"A big plus for our customers: {_inline(self.fill(item))}")
            for item in _as_list(self.product.get("benefits"))
        ]

    def pricing_line(self) -> str:
        pricing = self.product.get("pricing")
        if isinstance(pricing, dict):
            parts = [f"{self.fill(str(name))} is {self.fill(str(price))}" for name, price in pricing.items()]
            return _sentence(f"Here's how our pricing works: {_join(parts)}") if parts else ""
        items = [self.fill(item) for item in _as_list(pricing)]
        return _sentence(f"Our pricing is simple: {_join(items)}") if items else ""

    def pitches(self) -> list[str]:
        """What the agent can say to move the sale on, in the order it offers them."""
        lines = [self.value_line(), *self.benefit_lines(), self.description_line(), self.features_line()]
        return [line for line in lines if line]

    def needs_questions(self) -> list[str]:
        questions: list[str] = []
        for technique in self.context.sales_techniques:
            text = self.fill(str(technique))
            if text.endswith("?"):
                questions.append(_sentence(text))
                continue
            words = re.sub(r"[_\-]+", " ", text.lower())
            for keys, options in _TECHNIQUE_QUESTIONS:
                if any(key in words for key in keys):
                    questions.extend(option for option in options if option not in questions)
                    break
        return questions or list(_DEFAULT_QUESTIONS)

    def fresh(self, candidates: Sequence[str]) -> str:
        """The first candidate not said in this call, else the first not said just now."""
        for candidate in candidates:
            if candidate and not self.said_before(candidate):
                return candidate
        for candidate in candidates:
            if candidate and not self.said_last(candidate):
                return candidate
        return ""

    # --- answers -------------------------------------------------------------------------------

    def reply(self, text: str, *actions: Action, answered_objection: str = "") -> Reply:
        return Reply(
            text=" ".join(part for part in text.split() if part),
            actions=tuple(actions),
            provider=PROVIDER_NAME,
            answered_objection=answered_objection,
        )

    def say(self, *sentences: str) -> str:
        return " ".join(sentence for sentence in sentences if sentence)

    def opening(self) -> Reply:
        context = self.context
        agent, company = context.agent_name, self.company
        inbound = context.call_type == "inbound"
        memory = context.previous_call
        returning = context.customer.previous_calls > 0 or memory is not None
        if inbound:
            # Whoever calls in gets an inbound greeting: the trained script opens outbound calls.
            if not returning:
                return self.reply(
                    f"{self.greeting()} Thank you for calling {company}, this is {agent}. How can I help you?"
                )
            welcome = (
                f"Thanks for calling {company}, {self.first_name}!"
                if self.first_name
                else (f"Thanks for calling {company} again!")
            )
            last_time = f"Last time you asked about {self.remembered_topics()}." if self.remembered_topics() else ""
            return self.reply(
                self.say(welcome, f"It's {agent}, good to hear from you again.", last_time, "How can I help you today?")
            )
        hello = f"Hi {self.first_name}" if self.first_name else "Hi"
        if memory is not None and memory.requested_callback:
            about = f" about {self.remembered_topics()}" if self.remembered_topics() else ""
            return self.reply(
                f"{hello}, it's {agent} from {company}, calling back as you asked {self.when_we_spoke()}{about}. "
                "Is now still a good time?"
            )
        if returning and self.first_name:
            purpose = self.purpose_line() or "I wanted to follow up on our last conversation."
            return self.reply(
                f"Hi {self.first_name}, it's {agent} from {company} again. {purpose} Is now still a good time?"
            )
        script = self.fill(re.split(r"\n\s*\n", context.script.strip(), maxsplit=1)[0]) if context.script else ""
        if inbound:
            # The caller rang us: the script's introduction at most, never its cold-call pitch and
            # "do you have a minute?".
            intro = split_sentences(script)[0] if script else ""
            if intro.endswith("?"):
                intro = ""
            if not intro:
                return self.reply(
                    f"{self.greeting()} Thank you for calling {company}, this is {agent}. How can I help you?"
                )
            return self.reply(self.say(intro, f"Thank you for calling {company}.", "How can I help you today?"))
        if script:
            return self.reply(script)
        hello = f"Hi {self.first_name}" if self.first_name else self.greeting().rstrip("!.")
        pitch = self.purpose_line() or self.description_line() or self.value_line()
        return self.reply(self.say(f"{hello}, this is {agent} from {company}.", pitch, "Do you have a quick minute?"))

    def remembered_topics(self) -> str:
        """ "the pricing and the features": what the caller asked about on the earlier call."""
        memory = self.context.previous_call
        if memory is None:
            return ""
        return _join([_TOPIC_NAMES[topic] for topic in memory.asked_about if topic in _TOPIC_NAMES])

    def when_we_spoke(self) -> str:
        """ "yesterday", "on Tuesday", "on November 20": the day of the earlier call, said aloud."""
        memory = self.context.previous_call
        today = self.context.now_local.date()
        if memory is None:
            return ""
        days = (today - memory.on).days
        if days <= 0:
            return "earlier today"
        if days == 1:
            return "yesterday"
        if days < 7:
            return f"on {memory.on:%A}"
        return f"on {memory.on:%B} {memory.on.day}"

    def greeting(self) -> str:
        """ "Good afternoon." for a professional agent, "Hi!" otherwise: by the caller's clock."""
        if not self.tone.greets_by_clock:
            return "Hi!"
        hour = self.context.now_local.hour
        return "Good morning." if hour < 12 else "Good afternoon." if hour < 17 else "Good evening."

    def purpose_line(self) -> str:
        purpose = (self.context.call_purpose or "").strip()
        lowered = purpose.lower()
        if "callback" in lowered or "call back" in lowered or "call_back" in lowered:
            return "I'm calling you back as you asked."
        if "follow" in lowered:
            return "I'm following up on our last conversation."
        return ""  # other purposes are staff notes ("why the call was placed"), not lines to read out

    def silence(self) -> Reply:
        """A gentle prompt; after two silent turns in a row the caller has gone, so end politely."""
        silent_before = 0
        for turn in reversed(self.history):
            if turn.speaker != "caller":
                continue
            if intents.normalize(turn.text):
                break
            silent_before += 1
        if silent_before >= _SILENCES_BEFORE_GIVING_UP:
            return self.reply(
                self.say(
                    "It sounds like we may have lost the connection.",
                    f"Feel free to call {self.company} back any time.",
                    self.tone.farewell,
                ),
                EndCall("answered"),
            )
        prompt = self.tone.still_there
        if intents.normalize(prompt) in intents.normalize(self.last_agent):
            prompt = "Sorry, I didn't catch that. " + prompt
        return self.reply(prompt)

    def opt_out(self) -> Reply:
        return self.reply(
            self.say(
                "Of course. I've removed your number from our call list, and we won't call you again.",
                "Sorry for the bother.",
                self.tone.farewell,
            ),
            MarkDoNotCall(reason=f"Caller asked not to be called: {self.utterance[:_REASON_MAX_CHARS]}"),
            EndCall("do_not_call"),
        )

    def transfer(self) -> Reply:
        return self.reply(
            "Of course. Let me connect you with someone from our team. Please hold for a moment.",
            TransferToHuman(reason=f"Caller asked for a person: {self.utterance[:_REASON_MAX_CHARS]}"),
        )

    def about_ai(self) -> Reply:
        role = "answering for" if self.context.call_type == "inbound" else "calling on behalf of"
        return self.reply(
            f"I'm {self.context.agent_name}, an AI assistant {role} {self.company}. I'm happy to help, and if "
            "you'd rather speak with a person at any point, just say so."
        )

    def hearing_check(self) -> Reply:
        """ "Can you hear me?": yes, and ask the last question again so the call can go on."""
        questions = [s for s in split_sentences(self.last_agent) if s.endswith("?")]
        follow_up = questions[-1] if questions else self.fresh(self.needs_questions())
        return self.reply(self.say("Yes, I can hear you.", follow_up))

    def identity(self) -> Reply:
        about = self.purpose_line() or self.description_line() or self.value_line()
        question = "How can I help you today?" if self.context.call_type == "inbound" else "Do you have a quick minute?"
        return self.reply(self.say(f"This is {self.context.agent_name} from {self.company}.", about, question))

    def callback_time(self) -> tuple[str, bool] | None:
        """Why the caller wants a callback and whether they named the time, or None.

        The reason is :data:`_ASK_FOR_TIME` when they want one but tied it to something we cannot
        put on a clock ("after my appointment"); asked once, a second unreadable answer gets the
        default time rather than the same question again.
        """
        utterance = self.utterance
        named = parse_when(utterance, self.context.now_local) is not None
        asked_for_time = self.last_agent_asked(_ASKED_FOR_TIME)
        reason = self._callback_reason(named, asked_for_time)
        if reason is None or named or reason == _CALLER_WILL_CALL:
            return None if reason is None else (reason, named)
        if mentions_unreadable_time(utterance) and not self.said_last(_WHEN_QUESTION):
            return _ASK_FOR_TIME, False
        return reason, False

    def _callback_reason(self, named: bool, asked_for_time: bool) -> str | None:
        utterance = self.utterance
        if intents.will_call_back(utterance):
            return _CALLER_WILL_CALL
        if intents.asks_for_callback(utterance):
            return "Caller asked for a callback"
        busy = intents.is_busy(utterance) or "busy" in intents.meaning_units(utterance)
        if named and (busy or asked_for_time or intents.mentions_calling_me(utterance) or is_time_answer(utterance)):
            return "Caller asked for a callback"
        if intents.mentions_calling_me(utterance) and mentions_unreadable_time(utterance):
            return "Caller asked for a callback"
        if busy:
            trained = intents.match_objection(utterance, self.context.objection_responses)
            if trained and not self.said_before(self.fill(self.context.objection_responses[trained.key])):
                return None  # the client trained an answer for "no time": give it first
            return "Caller was busy"
        if intents.is_affirmative(utterance) and self.last_agent_asked(_OFFERED_CALLBACK):
            return "Caller accepted a callback"
        if asked_for_time and _ANY_TIME.search(intents.normalize(utterance)):
            return "Caller asked for a callback at any time"
        if intents.is_plain_no(utterance) and self.last_agent_asked(_ASKED_IF_FREE):
            return "Caller had no time to talk"
        return None

    def ask_for_time(self) -> Reply:
        return self.reply(self.say(self.tone.callback_ok, _WHEN_QUESTION))

    def voicemail(self) -> Reply:
        """A greeting read as speech: a short message, no pitch, and the call ends as voicemail."""
        return self.reply(
            self.say(
                f"Hi, this is {self.context.agent_name} from {self.company}.",
                "Sorry we missed you; we'll try again soon.",
                self.tone.farewell,
            ),
            EndCall("voicemail"),
        )

    def callback(self, reason: str, named: bool) -> Reply:
        now = self.context.now_local
        when = parse_when(self.utterance, now) if named else None
        when = when or learned_callback_time(now, self.context.memory)
        promise = (
            f"In case we miss each other, I'll also try you {describe_when(when, now)}."
            if reason == _CALLER_WILL_CALL
            else f"I'll call you back {describe_when(when, now)}."
        )
        return self.reply(
            self.say(
                self.tone.callback_ok,
                promise,
                f"{self.with_name(self.tone.thanks)}, and talk to you then!",
            ),
            ScheduleCallback(when=when, reason=f"{reason}: {self.utterance[:_REASON_MAX_CHARS]}"),
            EndCall("callback_requested"),
        )

    def converted(self) -> Reply:
        welcome = f"Welcome aboard, {self.first_name}!" if self.first_name else "Welcome aboard!"
        return self.reply(
            self.say(
                self.tone.glad,
                welcome,
                "I'll make sure everything is set up, and our team will follow up with the details.",
                f"{self.tone.thanks} for choosing {self.company}.",
                self.tone.farewell,
            ),
            *self.raise_interest("converted"),
            EndCall("converted"),
        )

    def hot(self) -> Reply:
        return self.reply(
            self.say(self.tone.glad, "Getting started is easy.", self.pricing_line(), self.tone.signup_question),
            *self.raise_interest("hot"),
        )

    def warm(self) -> Reply:
        info = self.fresh([*self.pitches(), self.pricing_line()])
        return self.reply(self.say(self.tone.glad, info, self.tone.start_question), *self.raise_interest("warm"))

    def refusal_key(self) -> str | None:
        """The trained answer to give a refusal: the better-matching objection, else "not interested"."""
        responses = self.context.objection_responses
        best = intents.match_objection(self.utterance, responses)
        refusal = intents.match_objection("not interested", responses)
        if refusal is None:
            return best.key if best else None
        refusal_score = intents.objection_score(self.utterance, refusal.key, responses[refusal.key])
        return best.key if best and best.score > refusal_score else refusal.key

    def refusal(self) -> Reply:
        key = self.refusal_key()
        if key and not self.said_before(self.fill(self.context.objection_responses[key])):
            return self.trained_answer(key)
        return self.close_not_interested()

    def close_not_interested(self) -> Reply:
        level = () if self.current_interest() == "converted" else (SetInterestLevel("cold"),)
        return self.reply(
            self.say(f"{self.with_name('I understand')}, and I appreciate your time.", self.tone.farewell),
            *level,
            EndCall("not_interested"),
        )

    def goodbye(self) -> Reply:
        outcome = "interested" if self.interest_shown_in_call() else "answered"
        return self.reply(
            self.say(f"{self.tone.thanks} for your time{self.name_suffix()}.", self.tone.farewell),
            *self.raise_interest(intents.interest_signal(self.utterance)),
            EndCall(outcome),
        )

    def trained_answer(self, key: str) -> Reply:
        answer = _sentence(self.fill(self.context.objection_responses[key]))
        check_in = "" if "?" in answer else self.tone.check_in
        return self.reply(
            self.say(answer, check_in),
            RecordObjection(key=key, text=self.utterance),
            answered_objection=key,
        )

    def objection(self) -> Reply | None:
        responses = self.context.objection_responses
        match = intents.match_objection(self.utterance, responses)
        if match is not None and not intents.is_price_remark_only(self.utterance, match.key, responses[match.key]):
            if not self.said_before(self.fill(responses[match.key])):
                return self.trained_answer(match.key)
            # Asked again after hearing the trained answer: acknowledge, add something new.
            return self.reply(
                self.say(self.acknowledgement(), self.fresh(self.pitches()), "What would make this work for you?"),
                RecordObjection(key=match.key, text=self.utterance),
            )
        slug = intents.builtin_objection(self.utterance)
        if slug == "price_too_high" and not intents.is_complaint(self.utterance):
            slug = None  # "our bill is about two hundred a month" states a fact
        if slug is None or slug in ("not_interested", "no_time"):
            return None
        return self.reply(self.say(*self.untrained_answer(slug)), RecordObjection(key=slug, text=self.utterance))

    def untrained_answer(self, slug: str) -> list[str]:
        """A sensible answer to an objection the client has not trained, from its product facts."""
        first_benefit = next(iter(self.benefit_lines()), "")
        answers = {
            "price_too_high": [
                "I completely understand, budget matters.",
                first_benefit or self.value_line(),
                "What budget did you have in mind?",
            ],
            "already_have_provider": [
                "It's good that you already have something in place.",
                self.value_line() or first_benefit,
                "What would you improve about your current setup if you could?",
            ],
            "need_to_think": [
                "Of course, it's an important decision.",
                "Is there anything specific I can clear up to help you decide?",
            ],
            "send_info": [
                "I'm happy to make sure you have the details.",
                self.description_line(),
                "What would be most useful for you to know?",
            ],
            "need_to_consult": [
                "That makes sense, it's good to decide together.",
                "Would it help if I called you back once you've had a chance to talk it over?",
            ],
            "trust_concern": [
                "That's a fair question to ask.",
                f"I'm happy to answer anything you'd like to check about {self.company}.",
                "What would help you feel comfortable?",
            ],
            "contract_concern": ["That's a fair concern.", "What kind of terms would you be comfortable with?"],
        }
        return [line for line in answers.get(slug, []) if line]

    def answer_question(self) -> Reply | None:
        faq = intents.match_faq(self.utterance, self.context.faq)
        topic = intents.product_topic(self.utterance)
        topic_answer = self.topic_answer(topic) if topic else ""
        if faq is not None and (faq.strong or not topic_answer):
            return self.reply(self.say(_sentence(self.fill(faq.answer)), self.tone.more_questions))
        if topic_answer:
            return self.reply(topic_answer)
        return None

    def unknown_answer(self) -> Reply | None:
        """A content question the training does not answer: promise the exact answer, never guess."""
        topic = intents.product_topic(self.utterance)
        if topic or (intents.is_content_question(self.utterance) and not intents.is_complaint(self.utterance)):
            return self.reply(
                self.say(
                    "That's a good question.",
                    f"I don't want to guess, so I'll make sure someone from {self.company} gets back to you "
                    "with the exact answer.",
                    self.fresh(self.needs_questions()),
                )
            )
        return None

    def trained_fact_answer(self) -> str:
        """ "Is there an app?": a feature, benefit or the description that names what was asked about."""
        if intents.is_complaint(self.utterance):
            return ""
        # Plain words only: a concept such as "price" is an objection's business, not a product fact.
        asked = {unit for unit in intents.meaning_units(self.utterance) if not intents.is_concept(unit)}
        for items, line in (
            (_as_list(self.product.get("features")), self.features_line),
            (_as_list(self.product.get("benefits")), self.benefits_line),
            ([str(self.product.get("description") or self.context.business_info.get("product_description") or "")],
             self.description_line),
        ):  # fmt: skip
            if any(asked & intents.meaning_units(self.fill(item)) for item in items if item):
                return self.say(line(), self.tone.more_questions)
        return ""

    def topic_answer(self, topic: str) -> str:
        if topic == "pricing":
            line = self.pricing_line()
            follow = (
                "Which option sounds like the best fit for you?"
                if isinstance(self.product.get("pricing"), (dict, list, tuple))
                else "How does that compare with what you're paying today?"
            )
            return self.say(line, follow) if line else ""
        if topic == "features":
            line = self.features_line() or self.description_line()
            return self.say(line, "Which of those matters most to you?") if line else ""
        if topic == "benefits":
            line = self.benefits_line() or self.value_line()
            return self.say(line, "Which of those would make the biggest difference for you?") if line else ""
        line = self.description_line() or self.value_line()
        return self.say(line, self.features_line(), "Would that be useful for you?") if line else ""

    def pick_up_where_we_left_off(self) -> Reply | None:
        """A yes to the callback's "is now still a good time?" answers what the caller asked last time."""
        memory = self.context.previous_call
        if memory is None or not memory.requested_callback or len(self.agent_lines) != 1:
            return None
        if not (intents.is_affirmative(self.utterance) and self.last_agent_asked(_ASKED_IF_FREE)):
            return None
        for topic in memory.asked_about:
            answer = self.topic_answer(topic)
            if answer:
                return self.reply(answer)
        return None

    def affirmative_after(self, questions: Sequence[str]) -> bool:
        return intents.is_affirmative(self.utterance) and self.last_agent_said_any(questions)

    def not_yet(self) -> Reply:
        return self.reply(self.say("No problem at all.", "What would you need to see before moving forward?"))

    def continuation(self) -> Reply:
        """Move the sale on: something from the training the caller has not heard, and a question."""
        pitches = self.pitches() or [""]
        questions = self.needs_questions()
        # Walk pitches and questions side by side; what was already said in this call is skipped.
        pairs = [
            (pitches[step % len(pitches)], questions[step % len(questions)])
            for step in range(len(pitches) * len(questions))
        ]

        def first_unsaid(seen: Callable[[str], bool]) -> tuple[str, str] | None:
            return next((pair for pair in pairs if not any(part and seen(part) for part in pair)), None)

        chosen = first_unsaid(self.said_before) or first_unsaid(self.said_last) or pairs[0]
        if intents.is_question(self.utterance):
            opener = ""
        elif intents.is_affirmative(self.utterance) and not self.said_last(self.tone.glad):
            opener = self.tone.glad
        else:
            opener = self.acknowledgement()
        return self.reply(self.say(opener, *chosen))

    # --- the decision --------------------------------------------------------------------------

    def answer(self) -> Reply:
        """Pick the one thing to do with this utterance; earlier rules win (opt-out first)."""
        if self.context.caller_utterance is None:
            return self.opening()
        utterance = self.utterance
        if not intents.normalize(utterance):
            return self.silence()
        if intents.is_opt_out(utterance):
            return self.opt_out()
        if intents.is_voicemail_greeting(utterance) and not self.caller_spoke_before():
            return self.voicemail()
        if intents.wants_human(utterance):
            return self.transfer()
        callback = self.callback_time()
        if callback is not None:
            if callback[0] == _ASK_FOR_TIME:
                return self.ask_for_time()
            reply = self.callback(*callback)
            return self.with_interest(reply)
        signal = intents.interest_signal(utterance)
        if signal == "converted" or self.affirmative_after(_SIGNUP_QUESTIONS):
            return self.converted()
        if intents.asks_if_ai(utterance):
            return self.about_ai()
        if intents.is_hearing_check(utterance):
            return self.hearing_check()
        if intents.asks_identity(utterance):
            return self.identity()
        if intents.is_refusal(utterance):
            return self.refusal()
        if intents.is_goodbye(utterance):
            return self.goodbye()
        if signal == "hot" or self.affirmative_after(_START_QUESTIONS):
            return self.hot()
        if intents.is_plain_no(utterance):
            refusal = self.refusal_key()
            if refusal and self.said_before(self.fill(self.context.objection_responses[refusal])):
                return self.close_not_interested()
            if self.last_agent_said_any(_SIGNUP_QUESTIONS):
                return self.not_yet()
        reply = self.pick_up_where_we_left_off()
        if reply is None and intents.is_question(utterance):
            reply = self.answer_question()
        reply = reply or self.objection()
        if reply is None and intents.is_question(utterance):
            fact = self.trained_fact_answer()
            reply = self.reply(fact) if fact else self.unknown_answer()
        if reply is None and signal == "warm":
            return self.warm()
        return self.with_interest(reply or self.continuation())

    def with_interest(self, reply: Reply) -> Reply:
        """Add the interest the caller showed in passing ("sounds good, what does it cost?")."""
        extra = self.raise_interest(intents.interest_signal(self.utterance))
        if not extra or any(isinstance(action, SetInterestLevel) for action in reply.actions):
            return reply
        return Reply(
            text=reply.text,
            actions=(*extra, *reply.actions),
            provider=reply.provider,
            answered_objection=reply.answered_objection,
        )


class ScriptedProvider:
    """The conversation provider that answers from the client's training alone.

    Training means script, product facts, objection answers, FAQ, sales techniques and business
    info. Rules it keeps:

    - Deterministic: the same context always gives the same reply (no randomness, no ``hash()``),
      so tests and the phone simulator are repeatable.
    - An opt-out wins over everything else said in the same breath: "not interested, stop calling
      me" marks do-not-call.
    - Interest is never lowered by a neutral sentence; only a refusal sets it to cold.
    - Never the same sentence twice in a row: follow-ups rotate through what the client trained
      and skip what the agent has just said.
    - Never claims to be human: "are you a robot?" gets an honest answer. The AI/recording
      disclosure itself is added by the engine, not here.

    ``context.transcript`` is the call so far *without* the current utterance (that is
    ``caller_utterance``); if the engine stored the caller's turn first, the trailing copy is
    ignored, so both conventions work. English only (``context.language`` is not used), and
    ``client_instructions`` are free text for a model, which this provider cannot follow.
    """

    name = PROVIDER_NAME

    def reply(self, context: ConversationContext) -> Reply:
        """The answer whole: what :meth:`stream_reply`, the engine's way to ask, is built from."""
        turn = _Turn(context)
        reply = turn.answer()
        if reply.text and intents.normalize(reply.text) == intents.normalize(turn.last_agent):
            # Same words as last time (e.g. the same question asked twice): say that we repeat.
            reply = Reply(
                text=f"As I mentioned, {reply.text[0].lower()}{reply.text[1:]}",
                actions=reply.actions,
                provider=reply.provider,
                answered_objection=reply.answered_objection,
            )
        return reply

    def stream_reply(self, context: ConversationContext, *, live: bool = True) -> Iterator[str | Reply]:
        """:meth:`reply` sentence by sentence (joined, they are its text), then the reply with its actions.

        ``live`` changes nothing: the scripted answer never breaks off.
        """
        yield from sentence_stream(self.reply(context))
