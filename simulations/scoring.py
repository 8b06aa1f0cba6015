"""The scorecard of one persona's call: which goals were reached, what the training missed.

Pure functions over what the call left in the database (turns, their recorded actions, the
outcome), so the same scoring holds whichever provider (scripted or an LLM) spoke for the agent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulations.personas import GOAL_LABELS, GoalKey, Line, LineKind, Persona

# How an agent says the training had no answer (the scripted agent's words, and an LLM's usual ones).
UNKNOWN_ANSWER = re.compile(
    r"don'?t want to guess|(?:do not|don'?t) (?:know|have that)|not sure|can'?t answer|cannot answer"
    r"|get back to you with the exact answer",
    re.IGNORECASE,
)
OFFERS_CALLBACK = re.compile(r"call you back|callback|someone from .{1,60}(?:call|get back|reach)", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,.]*")
_WORD = re.compile(r"[a-z]{5,}", re.IGNORECASE)


@dataclass(frozen=True)
class Exchange:
    """One thing the persona said and everything the agent answered before the persona spoke again."""

    line: Line
    reply: str
    actions: tuple[dict, ...] = ()

    def has_action(self, kind: str) -> bool:
        return any(a.get("type") == kind for a in self.actions)


@dataclass(frozen=True)
class CallFacts:
    exchanges: tuple[Exchange, ...]
    actions: tuple[dict, ...]  # every action recorded on the call
    outcome: str
    ended: bool
    do_not_call: bool
    pricing: str = ""  # the trained pricing, as text
    agent_lines: tuple[str, ...] = field(default_factory=tuple)


def pricing_terms(pricing: str) -> list[str]:
    """What a trained price answer must mention: its figures, else its distinctive words."""
    numbers = [n.rstrip(".,") for n in _NUMBER.findall(pricing)]
    return numbers or [w.lower() for w in _WORD.findall(pricing)]


def _answered(exchange: Exchange) -> bool:
    return bool(exchange.reply.strip()) and not UNKNOWN_ANSWER.search(exchange.reply)


def _of_kind(facts: CallFacts, kind: str) -> list[Exchange]:
    return [e for e in facts.exchanges if e.line.kind == kind]


def _callback_booked(actions: Sequence[dict]) -> bool:
    return any(a.get("type") == "schedule_callback" and not a.get("refused") for a in actions)


def _goal_reached(goal: str, facts: CallFacts) -> bool:
    if goal == GoalKey.PRICE_ANSWERED:
        terms = pricing_terms(facts.pricing)
        asked = [e for e in _of_kind(facts, LineKind.QUESTION) if e.line.key == "pricing"]
        return bool(terms and asked) and all(_answered(e) and any(t in e.reply.lower() for t in terms) for e in asked)
    if goal == GoalKey.OBJECTIONS_ANSWERED:
        raised = _of_kind(facts, LineKind.OBJECTION)
        return bool(raised) and all(e.has_action("answered_objection") for e in raised)
    if goal == GoalKey.QUESTIONS_ANSWERED:
        asked = _of_kind(facts, LineKind.QUESTION)
        return bool(asked) and all(_answered(e) for e in asked)
    if goal == GoalKey.CALLBACK_BOOKED:
        return _callback_booked(facts.actions)
    if goal == GoalKey.HUMAN_OFFERED:
        offered = any(OFFERS_CALLBACK.search(text) for text in facts.agent_lines)
        return (
            any(a.get("type") == "transfer_to_human" for a in facts.actions)
            or _callback_booked(facts.actions)
            or offered
        )
    if goal == GoalKey.OPTED_OUT:
        return facts.do_not_call and facts.ended
    if goal == GoalKey.REFUSAL_ACCEPTED:
        return facts.ended and facts.outcome in ("not_interested", "do_not_call")
    if goal == GoalKey.VOICEMAIL_LEFT:
        return facts.outcome == "voicemail" and any(a.get("type") == "voicemail" for a in facts.actions)
    raise ValueError(f"Unknown simulation goal {goal!r}")


def score(persona: Persona, facts: CallFacts) -> dict:
    """The persona's scorecard, as stored in the run's results."""
    goals = [{"key": g, "label": GOAL_LABELS[g], "reached": _goal_reached(g, facts)} for g in persona.goals]
    objections = [
        {"text": e.line.text, "reply": e.reply}
        for e in _of_kind(facts, LineKind.OBJECTION)
        if not e.has_action("answered_objection")
    ]
    questions = [
        {"text": e.line.text, "reply": e.reply} for e in _of_kind(facts, LineKind.QUESTION) if not _answered(e)
    ]
    return {
        "goals": goals,
        "goals_reached": sum(1 for g in goals if g["reached"]),
        "unanswered_objections": objections,
        "unanswered_questions": questions,
    }
