"""The agent's learned memory: what its past call outcomes taught it, as plain JSON counters.

It lives in ``AIAgent.conversation_memory`` so a turn reads it from the agent row it already
has. Only counters, so folding an outcome in is an order-independent addition and retracting
one (a corrected outcome) is the same addition with the opposite sign. Every function is pure
(memory in, new memory out), so the outcome service, the beat task and the tests fold alike.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from agents.models import CALL_WINDOW_END, CALL_WINDOW_START

VERSION = 1
TREND_DAYS = 180
MAX_KEYS = 100
MAX_KEY_LENGTH = 60

CONVERTED = "converted"
# Outcomes that mean the customer showed interest (a conversion is interest too).
INTEREST_OUTCOMES = frozenset({"interested", "converted"})

_KEY_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class OutcomeFacts:
    """What one call's outcome teaches, already reduced to the memory's keys.

    Built by ``calls.outcomes.call_outcome_facts`` from the call row and its turns; kept
    free of Django so folding can be tested (and replayed) without a database.
    """

    outcome: str
    picked_up: bool  # a person answered (not voicemail, no answer or a failed call)
    day: date | None = None  # the call's day in the client's timezone
    hour: int | None = None  # the call's hour (0-23) in the customer's timezone
    objections: frozenset[str] = field(default_factory=frozenset)
    answered_objections: frozenset[str] = field(default_factory=frozenset)


def objection_key(raw: Any) -> str:
    """A stable memory key for an objection: ``"Price too high!"`` -> ``price_too_high``."""
    return _KEY_JUNK.sub("_", str(raw or "").lower()).strip("_")[:MAX_KEY_LENGTH]


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _counter_table(raw: Any, fields: tuple[str, ...], *, key_check=None) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    if not isinstance(raw, Mapping):
        return table
    for key, stats in raw.items():
        key = str(key)
        if key_check and not key_check(key):
            continue
        if not isinstance(stats, Mapping):
            continue
        row = {name: _count(stats.get(name)) for name in fields}
        if any(row.values()):
            table[key] = row
    return table


def _is_hour(key: str) -> bool:
    return key.isdigit() and 0 <= int(key) <= 23 and str(int(key)) == key


def _is_day(key: str) -> bool:
    try:
        date.fromisoformat(key)
    except ValueError:
        return False
    return len(key) == 10


def empty_memory() -> dict[str, Any]:
    """A memory that has learned nothing yet (what a new agent starts with).

    Shape, version 1 (counts are non-negative integers; an absent key means zero)::

        "version": 1,
        "processed_calls": 12,                       # outcomes folded in
        "outcomes": {"interested": 4},               # CallSession.Outcome value -> calls
        "objections": {"price_too_high": {"count": 5, "interested": 2, "converted": 1}},
        "objection_answers": {"price_too_high": {"uses": 4, "interested": 2, "converted": 1}},
        "pickup_hours": {"14": {"attempts": 10, "answered": 6}},   # customer-local hour
        "conversion_trend": {"2025-10-01": {"calls": 8, "conversions": 1}},  # client-local day

    Objections and trained answers count once per call. ``interested`` counts calls that ended
    interested *or* converted, so ``converted <= interested <= count``. An objection key is the
    trained key it matched or a built-in slug, so the keys stay few; the trend keeps the last
    :data:`TREND_DAYS` days and the objection tables the :data:`MAX_KEYS` most frequent keys,
    so the row never grows without bound.
    """
    return {
        "version": VERSION,
        "processed_calls": 0,
        "outcomes": {},
        "objections": {},
        "objection_answers": {},
        "pickup_hours": {},
        "conversion_trend": {},
    }


def coerce_memory(raw: Any) -> dict[str, Any]:
    """A clean version-1 copy of whatever is stored: ``{}``, an older shape, or hand-edited JSON.

    Staff can edit the memory in the admin, so nothing read from the row is trusted: unknown
    keys are kept aside untouched (``extra``), bad counts become 0 and empty rows are dropped.
    """
    raw = raw if isinstance(raw, Mapping) else {}
    memory = empty_memory()
    memory["processed_calls"] = _count(raw.get("processed_calls"))
    outcomes = raw.get("outcomes")
    if isinstance(outcomes, Mapping):
        memory["outcomes"] = {str(k): _count(v) for k, v in outcomes.items() if _count(v)}
    memory["objections"] = _counter_table(raw.get("objections"), ("count", "interested", "converted"))
    memory["objection_answers"] = _counter_table(raw.get("objection_answers"), ("uses", "interested", "converted"))
    memory["pickup_hours"] = _counter_table(raw.get("pickup_hours"), ("attempts", "answered"), key_check=_is_hour)
    memory["conversion_trend"] = _counter_table(
        raw.get("conversion_trend"), ("calls", "conversions"), key_check=_is_day
    )
    for key, value in raw.items():
        if key not in memory:
            memory[key] = copy.deepcopy(value)  # e.g. "insights" written by a later task
    return memory


def _bump(table: dict[str, dict[str, int]], key: str, deltas: Mapping[str, int], fields: tuple[str, ...]) -> None:
    row = table.setdefault(key, dict.fromkeys(fields, 0))
    for name, delta in deltas.items():
        row[name] = max(0, row.get(name, 0) + delta)
    if not any(row.values()):
        del table[key]


def _apply(memory: Any, facts: OutcomeFacts, sign: int) -> dict[str, Any]:
    memory = coerce_memory(memory)
    outcome = facts.outcome
    interested = sign if outcome in INTEREST_OUTCOMES else 0
    converted = sign if outcome == CONVERTED else 0

    memory["processed_calls"] = max(0, memory["processed_calls"] + sign)
    if outcome:
        memory["outcomes"][outcome] = max(0, memory["outcomes"].get(outcome, 0) + sign)
        if not memory["outcomes"][outcome]:
            del memory["outcomes"][outcome]

    fields = ("count", "interested", "converted")
    for key in sorted({objection_key(k) for k in facts.objections} - {""}):
        _bump(memory["objections"], key, {"count": sign, "interested": interested, "converted": converted}, fields)
    fields = ("uses", "interested", "converted")
    for key in sorted({objection_key(k) for k in facts.answered_objections} - {""}):
        _bump(
            memory["objection_answers"], key, {"uses": sign, "interested": interested, "converted": converted}, fields
        )
    if facts.hour is not None and 0 <= facts.hour <= 23:
        _bump(
            memory["pickup_hours"],
            str(facts.hour),
            {"attempts": sign, "answered": sign if facts.picked_up else 0},
            ("attempts", "answered"),
        )
    if facts.day is not None:
        _bump(
            memory["conversion_trend"],
            facts.day.isoformat(),
            {"calls": sign, "conversions": converted},
            ("calls", "conversions"),
        )
    return _bounded(memory)


def _bounded(memory: dict[str, Any]) -> dict[str, Any]:
    trend = memory["conversion_trend"]
    if trend:
        newest = max(date.fromisoformat(day) for day in trend)
        oldest_kept = (newest - timedelta(days=TREND_DAYS - 1)).isoformat()
        memory["conversion_trend"] = {day: row for day, row in sorted(trend.items()) if day >= oldest_kept}
    for name, size in (("objections", "count"), ("objection_answers", "uses")):
        table = memory[name]
        if len(table) > MAX_KEYS:
            kept = sorted(table.items(), key=lambda item: (-item[1][size], item[0]))[:MAX_KEYS]
            memory[name] = dict(kept)
    return memory


def fold_outcome(memory: Any, facts: OutcomeFacts) -> dict[str, Any]:
    """The memory with one more call outcome learned. The input is not modified."""
    return _apply(memory, facts, +1)


def retract_outcome(memory: Any, facts: OutcomeFacts) -> dict[str, Any]:
    """The memory without an outcome folded in earlier (counts never go below zero)."""
    return _apply(memory, facts, -1)


def refold_outcome(memory: Any, old: OutcomeFacts, new: OutcomeFacts) -> dict[str, Any]:
    """A corrected outcome: take the old facts out, put the new ones in.

    Refolding identical facts returns an equal memory, which is what makes recording the
    same outcome twice harmless.
    """
    return fold_outcome(retract_outcome(memory, old), new)


def fold_outcomes(memory: Any, facts: Iterable[OutcomeFacts]) -> dict[str, Any]:
    """Fold a batch (the learning task's incremental run) in one pass."""
    memory = coerce_memory(memory)
    for one in facts:
        memory = fold_outcome(memory, one)
    return memory


# --- reading it back: the insights the dashboard and the engine use ------------------------------


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def objection_label(key: str) -> str:
    """An objection key in words for people ("price_too_high" -> "Price too high")."""
    return key.replace("_", " ").strip().capitalize()


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"


def top_objections(memory: Any, *, limit: int = 5) -> list[dict[str, Any]]:
    """The objections that come up most, each with how its trained answer fared.

    Ranked by how often the objection came up (then by key, so the order is stable). The
    rates are percentages of the calls where the trained answer was given, so a client sees
    which answers work and which need retraining.
    """
    memory = coerce_memory(memory)
    answers = memory["objection_answers"]
    ranked = sorted(memory["objections"].items(), key=lambda item: (-item[1]["count"], item[0]))
    rows = []
    for key, stats in ranked[:limit]:
        answer = answers.get(key, {"uses": 0, "interested": 0, "converted": 0})
        rows.append(
            {
                "key": key,
                "label": objection_label(key),
                "count": stats["count"],
                "interest_rate": _rate(stats["interested"], stats["count"]),
                "conversion_rate": _rate(stats["converted"], stats["count"]),
                "answer_uses": answer["uses"],
                "answer_interest_rate": _rate(answer["interested"], answer["uses"]),
                "answer_conversion_rate": _rate(answer["converted"], answer["uses"]),
            }
        )
    return rows


def _callable_hour(hour: int) -> bool:
    """An hour that starts inside the customer calling window: the only ones worth recommending."""
    return CALL_WINDOW_START.hour <= hour < CALL_WINDOW_END.hour


def best_pickup_hours(memory: Any, *, limit: int = 3, min_attempts: int = 3) -> list[dict[str, Any]]:
    """The customer-local hours when people answer most often.

    Hours with fewer than ``min_attempts`` calls are left out: one lucky call at 07:00 is
    not a pattern worth scheduling around.
    """
    memory = coerce_memory(memory)
    rows = [
        {
            "hour": int(hour),
            "attempts": stats["attempts"],
            "answered": stats["answered"],
            "pickup_rate": _rate(stats["answered"], stats["attempts"]),
        }
        for hour, stats in memory["pickup_hours"].items()
        if stats["attempts"] >= min_attempts and _callable_hour(int(hour))
    ]
    rows.sort(key=lambda row: (-row["pickup_rate"], -row["attempts"], row["hour"]))
    return rows[:limit]


def conversion_trend(memory: Any, *, today: date, days: int = 14) -> list[dict[str, Any]]:
    """Calls and conversions per day for the ``days`` days up to ``today``, zeros included."""
    trend = coerce_memory(memory)["conversion_trend"]
    rows = []
    for offset in range(days - 1, -1, -1):
        day = (today - timedelta(days=offset)).isoformat()
        stats = trend.get(day, {"calls": 0, "conversions": 0})
        rows.append({"date": day, "calls": stats["calls"], "conversions": stats["conversions"]})
    return rows


# --- derived by the learning task: what the engine and the client act on -------------------------

PREFERRED_HOURS = 3
PREFERRED_MIN_ATTEMPTS = 5
MAX_INSIGHTS = 5


def preferred_call_hours(
    memory: Any, *, limit: int = PREFERRED_HOURS, min_attempts: int = PREFERRED_MIN_ATTEMPTS
) -> list[int]:
    """Customer-local hours when people answer *more often than usual*, best first.

    An hour counts with at least ``min_attempts`` calls and a pick-up rate above the agent's
    overall one, so a flat pattern (every hour alike) prefers nothing. The scripted provider
    books a callback the caller gave no time for at the soonest of these hours.
    """
    memory = coerce_memory(memory)
    hours = {hour: row for hour, row in memory["pickup_hours"].items() if _callable_hour(int(hour))}
    attempts = sum(row["attempts"] for row in hours.values())
    answered = sum(row["answered"] for row in hours.values())
    if not attempts:
        return []
    overall = answered / attempts
    rows = [
        row for row in best_pickup_hours(memory, limit=24, min_attempts=min_attempts)
        if row["answered"] / row["attempts"] > overall
    ]  # fmt: skip
    return [row["hour"] for row in rows[:limit]]


def _week(trend: dict[str, dict[str, int]], today: date, weeks_back: int) -> tuple[int, int]:
    calls = conversions = 0
    for offset in range(7 * weeks_back, 7 * (weeks_back + 1)):
        row = trend.get((today - timedelta(days=offset)).isoformat())
        if row:
            calls += row["calls"]
            conversions += row["conversions"]
    return calls, conversions


def learned_insights(memory: Any, *, today: date) -> list[str]:
    """A few plain sentences about what the outcomes show, most useful first (at most five).

    Written into the memory by the learning task, so the dashboard, the daily report and the
    ``openai`` provider's prompt (``memory_hints``) read the same sentences.
    """
    memory = coerce_memory(memory)
    found: list[str] = []
    hours = preferred_call_hours(memory)
    if hours:
        stats = memory["pickup_hours"][str(hours[0])]
        found.append(
            f"Customers pick up most often around {hours[0]:02d}:00 their time "
            f"({stats['answered']} of {_calls(stats['attempts'])}); callbacks without a set time are booked then."
        )
    objections = top_objections(memory, limit=1)
    if objections:
        top = objections[0]
        found.append(f"The most common objection is '{top['label']}' ({_calls(top['count'])}).")
    answers = memory["objection_answers"]
    tried = [(key, row) for key, row in answers.items() if row["uses"] >= 3]
    if tried:
        key, row = max(tried, key=lambda item: (item[1]["converted"] / item[1]["uses"], item[1]["uses"], item[0]))
        if row["interested"]:
            found.append(
                f"The trained answer to '{objection_label(key)}' was followed by interest in {row['interested']} of "
                f"{_calls(row['uses'])} ({row['converted']} converted)."
            )
        weak = sorted(k for k, r in tried if r["uses"] >= 5 and not r["interested"])
        if weak:
            found.append(
                f"The answer to '{objection_label(weak[0])}' has not led to interest in "
                f"{_calls(answers[weak[0]]['uses'])}: retrain it."
            )
    this_calls, this_conv = _week(memory["conversion_trend"], today, 0)
    last_calls, last_conv = _week(memory["conversion_trend"], today, 1)
    if this_calls:
        conversions = f"{this_conv} conversion" if this_conv == 1 else f"{this_conv} conversions"
        sentence = f"Last 7 days: {conversions} from {_calls(this_calls)} ({_rate(this_conv, this_calls)}%)"
        if last_calls:
            before = _rate(last_conv, last_calls)
            now_rate = _rate(this_conv, this_calls)
            direction = "up from" if now_rate > before else "down from" if now_rate < before else "the same as"
            sentence += f", {direction} {before}% the week before"
        found.append(sentence + ".")
    return found[:MAX_INSIGHTS]


def with_learned_summary(memory: Any, *, today: date) -> dict[str, Any]:
    """The memory with its derived keys (``preferred_hours``, ``insights``) brought up to date.

    The learning task (``calls.learning``) calls this; the keys are absent until its first run,
    rewritten on every run and never folded: ``"preferred_hours": [17, 10]`` (customer-local
    hours that pick up best, best first) and ``"insights": ["Customers pick up most ..."]``
    (short sentences for the client and the LLM).
    """
    memory = coerce_memory(memory)
    memory["preferred_hours"] = preferred_call_hours(memory)
    memory["insights"] = learned_insights(memory, today=today)
    return memory
