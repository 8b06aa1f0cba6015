"""The simulated customers a client can test its agent against, as data.

Each persona is a scripted caller: an ordered list of lines, some of them reactive (said as
soon as the agent's words match ``when``, e.g. answering a question the agent asked), and the
goals a well-trained agent reaches with that kind of customer. The scorecard (``scoring``)
checks those goals against what happened on the call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class LineKind:
    SAY = "say"
    QUESTION = "question"  # a question the training should answer
    OBJECTION = "objection"  # an objection the training should answer
    HUMAN = "human"
    OPT_OUT = "opt_out"
    BYE = "bye"


class GoalKey:
    PRICE_ANSWERED = "price_answered"
    OBJECTIONS_ANSWERED = "objections_answered"
    QUESTIONS_ANSWERED = "questions_answered"
    CALLBACK_BOOKED = "callback_booked"
    HUMAN_OFFERED = "human_offered"
    OPTED_OUT = "opted_out"
    REFUSAL_ACCEPTED = "refusal_accepted"
    VOICEMAIL_LEFT = "voicemail_left"


GOAL_LABELS = {
    GoalKey.PRICE_ANSWERED: "Gave the trained price",
    GoalKey.OBJECTIONS_ANSWERED: "Answered every objection from training",
    GoalKey.QUESTIONS_ANSWERED: "Answered every question from training",
    GoalKey.CALLBACK_BOOKED: "Offered a better time and booked a callback",
    GoalKey.HUMAN_OFFERED: "Transferred to a person or offered a callback",
    GoalKey.OPTED_OUT: "Put the number on the do-not-call list and ended the call",
    GoalKey.REFUSAL_ACCEPTED: "Accepted the refusal and ended the call politely",
    GoalKey.VOICEMAIL_LEFT: "Left the voicemail message instead of pitching",
}


@dataclass(frozen=True)
class Line:
    text: str
    kind: str = LineKind.SAY
    key: str = ""  # the objection or question topic, for the scorecard
    when: str = ""  # a regex on the agent's last words: say this as soon as it matches

    def triggered_by(self, agent_said: str) -> bool:
        return bool(self.when) and re.search(self.when, agent_said, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    description: str
    lines: tuple[Line, ...]
    goals: tuple[str, ...]
    caller_name: str = ""  # what the agent may call them; a plain first name, as a customer would give
    answers_with_voicemail: bool = False  # the agent calls out and a machine picks up


ASKED_A_QUESTION = r"\?"

PERSONAS: tuple[Persona, ...] = (
    Persona(
        key="busy",
        caller_name="Blake",
        name="Busy",
        description="Picks up between meetings, has no time now and asks to be called back tomorrow afternoon.",
        lines=(
            Line("Hi, I'm in the middle of something, what is this about?"),
            Line("I really don't have time for this right now.", LineKind.OBJECTION, "no_time"),
            Line("Can you call me back tomorrow afternoon?", LineKind.SAY, "callback"),
            Line("Thanks, talk then. Bye.", LineKind.BYE),
        ),
        goals=(GoalKey.CALLBACK_BOOKED,),
    ),
    Persona(
        key="price_sensitive",
        caller_name="Priya",
        name="Price-sensitive",
        description="Asks what it costs first, then says it is too expensive.",
        lines=(
            Line("Hi. Before anything else, how much does it cost?", LineKind.QUESTION, "pricing"),
            Line("Hmm, that's too expensive for us.", LineKind.OBJECTION, "price"),
            Line("Okay, I'll think about it. Thanks, bye.", LineKind.BYE),
        ),
        goals=(GoalKey.PRICE_ANSWERED, GoalKey.OBJECTIONS_ANSWERED),
    ),
    Persona(
        key="competitor",
        caller_name="Carlos",
        name="Has a competitor",
        description="Already uses another provider and asks what makes you different.",
        lines=(
            Line("We already work with another company for that.", LineKind.OBJECTION, "competitor"),
            Line("So what makes you different from them?", LineKind.QUESTION, "difference"),
            Line("Alright, thanks for explaining. Goodbye.", LineKind.BYE),
        ),
        goals=(GoalKey.OBJECTIONS_ANSWERED, GoalKey.QUESTIONS_ANSWERED),
    ),
    Persona(
        key="hostile",
        caller_name="Hank",
        name="Hostile",
        description="Annoyed by the call and not interested; repeats it if pressed.",
        lines=(
            Line("Ugh, another sales call. I'm not interested.", LineKind.SAY, "refusal"),
            Line("I said I'm not interested. Goodbye.", LineKind.BYE),
        ),
        goals=(GoalKey.REFUSAL_ACCEPTED,),
    ),
    Persona(
        key="wants_human",
        caller_name="Wendy",
        name="Wants a human",
        description="Will not talk to an AI and asks for a real person.",
        lines=(
            Line("Am I talking to a robot? I want to speak to a real person.", LineKind.HUMAN),
            Line("Yes, a human please.", LineKind.HUMAN, when=ASKED_A_QUESTION),
            Line("Okay. Bye.", LineKind.BYE),
        ),
        goals=(GoalKey.HUMAN_OFFERED,),
    ),
    Persona(
        key="opts_out",
        caller_name="Omar",
        name="Opts out",
        description="Asks to be taken off the list and never called again.",
        lines=(Line("Please take me off your list and stop calling me.", LineKind.OPT_OUT),),
        goals=(GoalKey.OPTED_OUT,),
    ),
    Persona(
        key="voicemail",
        caller_name="Vera",
        name="Voicemail",
        description="The agent calls out and an answering machine picks up.",
        lines=(),
        goals=(GoalKey.VOICEMAIL_LEFT,),
        answers_with_voicemail=True,
    ),
)

PERSONA_KEYS = tuple(p.key for p in PERSONAS)
_BY_KEY = {p.key: p for p in PERSONAS}


def persona_by_key(key: str) -> Persona:
    return _BY_KEY[key]


class ScriptedCaller:
    """Plays one persona: the next line is chosen from what the agent just said.

    A reactive line (``when``) is said as soon as the agent's words match it (once a line
    before it was said); otherwise the
    next unsaid line in order. Each line is said once; None means the caller hangs up.
    """

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.said: list[int] = []  # indexes into persona.lines, in the order spoken

    def next_line(self, agent_said: str) -> Line | None:
        lines = self.persona.lines
        unsaid = [i for i in range(len(lines)) if i not in self.said]
        if not unsaid:
            return None
        # A reactive line answers something the agent said after the conversation started.
        triggered = [i for i in unsaid if lines[i].triggered_by(agent_said) and any(j < i for j in self.said)]
        plain = [i for i in unsaid if not lines[i].when]
        pick = triggered[0] if triggered else (plain[0] if plain else None)
        if pick is None:
            return None
        self.said.append(pick)
        return lines[pick]
