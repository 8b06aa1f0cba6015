"""Conversation evals: labelled caller turns driven through the signed Twilio webhooks (ADR 0010).

Each case is a call played through the door Twilio uses. What the agent *did* is read back from
the database and the TwiML, never from the provider's reply object, so the suite measures what
a caller and the client would notice (the ``expect`` keys: :func:`_check`). The corpus is
``evals/corpus/*.yaml``; ``run_suite`` needs a database (pytest's ``db``, or ``evals/run.py``'s).
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
import yaml
from django.conf import settings
from django.test import Client as HttpClient
from twilio.request_validator import RequestValidator

from accounts.models import Client
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.management.commands.seed_demo import Command as SeedDemo
from calls.models import CallSession, CallTurn
from calls.telephony import webhook_auth_token, webhook_path
from customers.models import CustomerProfile

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
ZONE = ZoneInfo("America/New_York")  # the eval client's and its callers' (+1 212) zone
DEFAULT_NOW = "2026-11-23 10:00"  # a Monday morning
DEFAULT_BUDGET_MS = 2000
TRANSFER_NUMBER = "+14155550199"
KNOWN_KEYS = frozenset(
    {
        "opt_out", "transfer", "callback", "asks_time", "objection", "refusal", "interest", "outcome", "ends",
        "says", "not_says", "none",
    }
)  # fmt: skip
# What "nothing happened" means for small talk.
ACTION_TYPES = frozenset(
    {"mark_do_not_call", "schedule_callback", "transfer_to_human", "record_objection", "end_call", "set_interest_level"}
)
THRESHOLD_OVERALL = 0.95
THRESHOLD_OPT_OUT = 0.98


class CorpusError(ValueError):
    """A corpus file that does not say what it means (unknown key, bad window)."""


@dataclass(frozen=True)
class TurnSpec:
    say: str
    expect: dict
    max_ms: int | None = None


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    now: datetime
    turns: tuple[TurnSpec, ...]


@dataclass
class TurnResult:
    case: Case
    index: int
    say: str
    misses: list[str]
    reply: str
    latency_ms: float
    opt_out_expected: bool
    opt_out_observed: bool

    @property
    def passed(self) -> bool:
        return not self.misses


@dataclass
class Report:
    provider: str
    runs: int
    results: list[TurnResult] = field(default_factory=list)

    def by_category(self) -> dict[str, list[TurnResult]]:
        grouped: dict[str, list[TurnResult]] = defaultdict(list)
        for result in self.results:
            grouped[result.case.category].append(result)
        return dict(grouped)

    @property
    def pass_rate(self) -> float:
        return sum(r.passed for r in self.results) / len(self.results) if self.results else 0.0

    def opt_out_counts(self) -> tuple[int, int, int]:
        """(true positives, false positives, false negatives) over every turn."""
        tp = sum(r.opt_out_expected and r.opt_out_observed for r in self.results)
        fp = sum(r.opt_out_observed and not r.opt_out_expected for r in self.results)
        fn = sum(r.opt_out_expected and not r.opt_out_observed for r in self.results)
        return tp, fp, fn

    @property
    def opt_out_precision(self) -> float:
        tp, fp, _ = self.opt_out_counts()
        return tp / (tp + fp) if tp + fp else 1.0

    @property
    def opt_out_recall(self) -> float:
        tp, _, fn = self.opt_out_counts()
        return tp / (tp + fn) if tp + fn else 1.0

    def meets_thresholds(self) -> bool:
        return (
            self.pass_rate >= THRESHOLD_OVERALL
            and self.opt_out_precision >= THRESHOLD_OPT_OUT
            and self.opt_out_recall >= THRESHOLD_OPT_OUT
        )


# --- the corpus -----------------------------------------------------------------------------------


def _local(text: str) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M").replace(tzinfo=ZONE)


def _turn(raw: object, defaults: dict, where: str) -> TurnSpec:
    if isinstance(raw, str):
        raw = {"say": raw}
    if not isinstance(raw, dict) or not str(raw.get("say", "")).strip():
        raise CorpusError(f"{where}: every turn needs `say`")
    expect = {**defaults, **(raw.get("expect") or {})}
    unknown = set(expect) - KNOWN_KEYS
    if unknown:
        raise CorpusError(f"{where}: unknown expectation {sorted(unknown)}")
    window = expect.get("callback")
    if window not in (None, False):
        if not (isinstance(window, list) and len(window) == 2):
            raise CorpusError(f"{where}: callback is [from, to] or false")
        expect["callback"] = (_local(window[0]), _local(window[1]))
    return TurnSpec(say=str(raw["say"]), expect=expect, max_ms=raw.get("max_ms"))


def load_corpus(directory: Path = CORPUS_DIR) -> list[Case]:
    """Every case of every ``*.yaml`` file, in file order (files sorted by name)."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = data["category"]
        now = _local(data.get("now", DEFAULT_NOW))
        defaults = data.get("expect") or {}
        for number, raw in enumerate(data.get("cases") or [], start=1):
            spec = _turn(raw, defaults, f"{path.name} case {number}")
            cases.append(Case(category=category, name=spec.say, now=now, turns=(spec,)))
        for number, scenario in enumerate(data.get("scenarios") or [], start=1):
            where = f"{path.name} scenario {number}"
            turns = tuple(_turn(raw, defaults, f"{where} turn {i}") for i, raw in enumerate(scenario["turns"], 1))
            scenario_now = _local(scenario["now"]) if "now" in scenario else now
            cases.append(Case(category=category, name=scenario.get("name", where), now=scenario_now, turns=turns))
    return cases


# --- the agent and the calls ----------------------------------------------------------------------


def eval_agent_create() -> AIAgent:
    """The demo client's trained agent, reachable all day, with a number to transfer callers to."""
    client = Client.objects.create(
        name="Sunrise Solar", slug=f"evals-{uuid.uuid4().hex[:8]}", timezone=str(ZONE),
        transfer_phone_number=TRANSFER_NUMBER,
    )  # fmt: skip
    agent = SeedDemo()._agent(client)
    # Callers' own times are what is measured, so the agent works the customer's whole calling window.
    agent.working_hours_start, agent.working_hours_end = clock(8, 0), clock(21, 0)
    agent.save(update_fields=["working_hours_start", "working_hours_end"])
    return agent


class _Phone:
    """Twilio's side of one call: form posts signed over PUBLIC_BASE_URL + path, as Twilio signs them."""

    def __init__(self, http: HttpClient, agent: AIAgent, caller: str):
        self.http, self.agent, self.caller = http, agent, caller
        self.call_sid = "CA" + uuid.uuid4().hex
        self.validator = RequestValidator(webhook_auth_token(agent.client))
        self.next_turn = 0

    def post(self, name: str, params: dict, **query):
        path = webhook_path(self.agent, name, **query)
        params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": self.call_sid, **params}
        signature = self.validator.compute_signature(settings.PUBLIC_BASE_URL + path, params)
        return self.http.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)

    def ring(self):
        response = self.post(
            "incoming",
            {"From": self.caller, "To": self.agent.phone_number, "Direction": "inbound", "CallStatus": "ringing"},
        )
        self.next_turn = 1
        return response

    def say(self, text: str):
        response = self.post(
            "turn", {"CallStatus": "in-progress", "SpeechResult": text, "Confidence": "0.9"}, n=self.next_turn
        )
        self.next_turn += 2
        return response


def _twiml(response) -> tuple[str, set[str]]:
    if response.status_code != 200:
        return f"HTTP {response.status_code}", set()
    root = ET.fromstring(response.content)  # noqa: S314 - the TwiML our own view just rendered
    return " ".join((e.text or "").strip() for e in root.iter("Say")), {e.tag for e in root.iter()}


def _check(spec: TurnSpec, *, reply: str, verbs: set[str], records: list[dict], customer: CustomerProfile,
           call: CallSession, booked: list[ScheduledCallback], latency_ms: float) -> list[str]:  # fmt: skip
    """What the turn missed of its ``expect``; the keys:

    - ``opt_out``: the customer's do-not-call flag (every turn checks it, default false);
    - ``transfer``: a ``<Dial>`` in the answer (every turn checks it, default false);
    - ``callback``: a callback booked on this turn, inside ``[from, to]`` in the customer's local
      time (``false``: none booked); ``asks_time``: none booked, the call goes on, the agent asks when;
    - ``objection``: the objection key recorded on this turn (``false``: none recorded);
    - ``refusal``: the trained not-interested answer or a close as not interested;
    - ``interest``: the customer's interest level after the turn;
    - ``outcome``: the call's outcome; ``ends``: the answer hangs up;
    - ``says`` / ``not_says``: text the answer must (not) contain, e.g. a trained fact;
    - ``none``: small talk, nothing done at all;
    - ``max_ms``: the turn's latency budget.
    """
    expect, misses = spec.expect, []
    kinds = [r.get("type") for r in records]
    objections = [r.get("key") for r in records if r.get("type") == "record_objection"]
    ended = "Hangup" in verbs
    local_booked = [b.scheduled_datetime.astimezone(ZONE) for b in booked]
    shown = ", ".join(f"{b:%a %d %H:%M}" for b in local_booked) or "none"

    if customer.is_do_not_call != bool(expect.get("opt_out", False)):
        misses.append(f"opt_out expected {bool(expect.get('opt_out', False))}, got {customer.is_do_not_call}")
    if ("Dial" in verbs) != bool(expect.get("transfer", False)):
        misses.append(f"transfer expected {bool(expect.get('transfer', False))}, got {'Dial' in verbs}")
    window = expect.get("callback")
    if window is False and booked:
        misses.append(f"no callback expected, booked {shown}")
    elif isinstance(window, tuple):
        low, high = window
        if not any(low <= moment <= high for moment in local_booked):
            misses.append(f"callback in {low:%a %d %H:%M}-{high:%a %d %H:%M} expected, booked {shown}")
    if expect.get("asks_time"):
        asked = "?" in reply and any(w in reply.lower() for w in ("when", "what time", "which day", "time"))
        if booked or ended or not asked:
            misses.append(f"asking back for a time expected, booked {shown}, ended {ended}")
    if "objection" in expect:
        wanted = expect["objection"]
        if wanted is False and objections:
            misses.append(f"no objection expected, recorded {objections}")
        elif wanted and wanted not in objections:
            misses.append(f"objection {wanted} expected, recorded {objections or 'none'}")
    if expect.get("refusal"):
        closed = any(r.get("type") == "end_call" and r.get("outcome") == "not_interested" for r in records)
        if "not_interested" not in objections and not closed:
            misses.append("a refusal expected (trained answer or close)")
    if "interest" in expect and customer.interest_level != expect["interest"]:
        misses.append(f"interest {expect['interest']} expected, got {customer.interest_level}")
    if "outcome" in expect and call.outcome != expect["outcome"]:
        misses.append(f"outcome {expect['outcome']} expected, got {call.outcome or 'none'}")
    if "ends" in expect and ended != bool(expect["ends"]):
        misses.append(f"ends expected {bool(expect['ends'])}, got {ended}")
    for text in _as_list(expect.get("says")):
        if text.lower() not in reply.lower():
            misses.append(f"reply should contain {text!r}")
    for text in _as_list(expect.get("not_says")):
        if text.lower() in reply.lower():
            misses.append(f"reply should not contain {text!r}")
    if expect.get("none"):
        done = sorted({k for k in kinds if k in ACTION_TYPES})
        if done or ended or "Dial" in verbs:
            misses.append(f"no action expected, got {done or ('hang-up' if ended else 'dial')}")
    budget = spec.max_ms or DEFAULT_BUDGET_MS
    if latency_ms > budget:
        misses.append(f"took {latency_ms:.0f} ms, budget {budget} ms")
    return misses


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def run_case(*, http: HttpClient, agent: AIAgent, case: Case, caller: str) -> list[TurnResult]:
    """One call through the webhooks, each turn checked against what landed in the database."""
    results: list[TurnResult] = []
    with time_machine.travel(case.now, tick=False):
        phone = _Phone(http, agent, caller)
        greeting = phone.ring()
        if greeting.status_code != 200:
            raise RuntimeError(f"incoming webhook answered {greeting.status_code} for {case.name!r}")
        call = CallSession.objects.get(twilio_call_sid=phone.call_sid)
        customer = call.customer_profile
        for index, spec in enumerate(case.turns):
            was_do_not_call = customer.is_do_not_call
            before = set(ScheduledCallback.objects.filter(customer_profile=customer).values_list("pk", flat=True))
            started = time.perf_counter()
            response = phone.say(spec.say)
            latency_ms = (time.perf_counter() - started) * 1000
            reply, verbs = _twiml(response)
            agent_turn = CallTurn.objects.filter(call=call, speaker="agent").order_by("-sequence").first()
            records = (
                list(agent_turn.actions or []) if agent_turn and agent_turn.sequence == phone.next_turn - 1 else []
            )
            customer.refresh_from_db()
            call.refresh_from_db()
            booked = list(
                ScheduledCallback.objects.filter(customer_profile=customer, status="scheduled").exclude(pk__in=before)
            )
            misses = _check(
                spec, reply=reply, verbs=verbs, records=records, customer=customer, call=call, booked=booked,
                latency_ms=latency_ms,
            )  # fmt: skip
            if response.status_code != 200:
                misses.insert(0, f"webhook answered HTTP {response.status_code}")
            results.append(
                TurnResult(
                    case=case, index=index, say=spec.say, misses=misses, reply=reply, latency_ms=latency_ms,
                    opt_out_expected=bool(spec.expect.get("opt_out", False)),
                    opt_out_observed=customer.is_do_not_call and not was_do_not_call,
                )
            )  # fmt: skip
    return results


def run_suite(*, cases: Iterable[Case] | None = None, provider: str = "scripted", repeat: int = 1) -> Report:
    """Every case ``repeat`` times, each on a fresh caller of one freshly trained agent."""
    cases = list(load_corpus() if cases is None else cases)
    report = Report(provider=provider, runs=repeat)
    agent = eval_agent_create()
    http = HttpClient()
    number = 0
    for _ in range(repeat):
        for case in cases:
            number += 1
            report.results.extend(run_case(http=http, agent=agent, case=case, caller=f"+1212200{number:04d}"))
    return report


# --- the table ------------------------------------------------------------------------------------


def format_report(report: Report, *, show_misses: bool = True) -> str:
    lines = [
        f"Conversation evals: provider={report.provider}, runs={report.runs}",
        "",
        f"{'category':<24}{'cases':>7}{'turns':>7}{'passed':>8}{'rate':>9}",
    ]
    for category, results in sorted(report.by_category().items()):
        cases = len({id(r.case) for r in results})
        passed = sum(r.passed for r in results)
        lines.append(f"{category:<24}{cases:>7}{len(results):>7}{passed:>8}{passed / len(results):>9.1%}")
    total = len(report.results)
    passed = sum(r.passed for r in report.results)
    lines.append(f"{'overall':<24}{'':>7}{total:>7}{passed:>8}{report.pass_rate:>9.1%}")
    tp, fp, fn = report.opt_out_counts()
    lines += [
        "",
        f"opt-out precision {report.opt_out_precision:.3f}  recall {report.opt_out_recall:.3f}  "
        f"(true {tp}, false {fp}, missed {fn})",
        f"thresholds: overall >= {THRESHOLD_OVERALL:.0%}, opt-out precision and recall >= {THRESHOLD_OPT_OUT}: "
        + ("met" if report.meets_thresholds() else "NOT MET"),
    ]
    if report.runs > 1:
        flaky = _pass_rates(report)
        lines += ["", "pass rate per turn over runs (below 100%):"]
        lines += [f"  {rate:>5.0%}  [{key[0]}] {key[1]}" for key, rate in flaky if rate < 1]
    misses = [r for r in report.results if not r.passed]
    if show_misses and misses:
        lines += ["", f"misses ({len(misses)}):"]
        for result in misses:
            where = f" (turn {result.index + 1} of {result.case.name!r})" if len(result.case.turns) > 1 else ""
            lines.append(f"  [{result.case.category}] {result.say!r}{where}: {'; '.join(result.misses)}")
            lines.append(f"      agent: {result.reply[:160]}")
    return "\n".join(lines)


def _pass_rates(report: Report) -> list[tuple[tuple[str, str], float]]:
    runs: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for result in report.results:
        runs[(result.case.category, f"{result.case.name} #{result.index + 1}")].append(result.passed)
    return sorted(((key, sum(v) / len(v)) for key, v in runs.items()), key=lambda item: item[1])
