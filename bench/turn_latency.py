#!/usr/bin/env python
"""Turn latency of live calls, against the floor of a durable turn, on gunicorn + PostgreSQL.

    .venv/bin/python bench/turn_latency.py            # about a minute; see bench/README.md

What it does, all on 127.0.0.1:

1. Drops and recreates its own PostgreSQL database (``--db-name`` on the server of
   ``DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/postgres), migrates it, signs up a
   client and sets up and trains its agent through the services, and creates the floor's table.
2. Starts the app under gunicorn (gthread, ``--workers`` x ``--threads``) with
   ``bench.bench_settings``: the production settings, DEBUG off, persistent database
   connections, the scripted engine, the simulated phone's signing token; plus the floor view
   (bench/floor.py) and a middleware that reports each request's SQL statement count.
3. Paced run: ``--calls`` concurrent callers each dial in (the incoming webhook: greeting) and
   then say ``--turns`` things, pausing about ``--pause`` s between turns, following the
   ``<Gather action>`` URL of each answer exactly as Twilio does, every request signed with
   ``RequestValidator`` over PUBLIC_BASE_URL + path. Beside them, on the same server at the same
   time, as many floor callers with the same pacing post the same signed fields to the floor.
4. Saturated run: ``--clients`` callers with no pauses, first on real turns, then on the floor.
5. Prints latency percentiles, their ratios, SQL statements per turn, throughput and CPU per
   request, and stops gunicorn (also on error or Ctrl-C). ``--profile`` adds an in-process
   breakdown of where a turn's time goes, and the statements each request sends PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

PUBLIC_BASE_URL = "http://bench.local"
SIGNING_TOKEN = "bench-simulated-phone-token-0123"  # noqa: S105 - the simulated phone's, bench only
AGENT_NUMBER = "+14155550100"
TARGET_RATIO = 1.5
TARGET_QUERIES = 6

# What callers say. None of these ends a call (no opt-out, refusal or goodbye) before the last turn.
QUESTIONS = [
    "How much does it cost?",
    "What comes with the system?",
    "How long does installation take?",
    "Do you offer a warranty?",
    "Is my roof suitable?",
    "What does the battery do during an outage?",
]
OBJECTIONS = [
    "Honestly that sounds too expensive for us.",
    "We already have a provider for our electricity.",
    "I need to think about it.",
    "I'm not sure I have the time for this right now.",
]
MORE = ["Tell me more.", "Okay, go on.", "Interesting, what else?", "Hmm, I see."]
SMALL_TALK = [
    "Sorry, I was just making coffee.",
    "The weather has been so hot here lately.",
    "My neighbor got panels last year.",
    "We moved into this house in the spring.",
]
LAST_WORDS = ["Okay, thanks for your time, goodbye.", "Alright, bye for now."]


def caller_script(rng: random.Random, turns: int) -> list[str]:
    """``turns`` sentences: a shuffled mix of questions, objections, "tell me more" and small
    talk, ending with a goodbye."""
    pools = [rng.sample(pool, len(pool)) for pool in (QUESTIONS, OBJECTIONS, MORE, SMALL_TALK)]
    said = [pools[i % len(pools)][(i // len(pools)) % len(pools[i % len(pools)])] for i in range(max(turns - 1, 0))]
    rng.shuffle(said)
    return [*said, rng.choice(LAST_WORDS)][-turns:] if turns else []


# --- the database and the app ------------------------------------------------------------------


def bench_database_url(base_url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(base_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def recreate_database(base_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(base_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def app_environment(database_url: str) -> dict[str, str]:
    """The environment of the app under test (and of this process's Django, for set-up)."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "600",  # persistent connections, one per gunicorn thread
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "FIELD_ENCRYPTION_KEY": "bench-" + uuid.uuid4().hex,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SIMULATED_PHONE_AUTH_TOKEN": SIGNING_TOKEN,
        "TELEPHONY_BACKEND": "simulated",
        "LLM_PROVIDER": "scripted",
        "OPENAI_API_KEY": "",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
    }


def set_up_data() -> str:
    """Migrate, sign up a client, set up and train its agent; returns the agent's public id."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import client_signup
    from agents.services import agent_setup, training_add
    from bench.floor import FLOOR_DDL

    call_command("migrate", verbosity=0, interactive=False)
    signed_up = client_signup(
        company_name="Sunrise Solar",
        email="bench@salesagents.local",
        password="bench-" + uuid.uuid4().hex,
        full_name="Bench Owner",
        timezone="America/New_York",
    )
    agent = agent_setup(
        client=signed_up.client,
        name="Sarah",
        personality_type="friendly",
        phone_number=AGENT_NUMBER,
        business_info={
            "company_name": "Sunrise Solar",
            "product_description": "Rooftop solar panels with battery storage for homes",
            "value_proposition": "Cut your electricity bill by up to 70% with no upfront cost",
        },
    )
    training_add(
        agent=agent,
        training_type="script",
        training_content=(
            "Hi, this is [NAME] from [COMPANY]. We help homeowners in your area switch to solar with no upfront "
            "cost, and most of our customers cut their electricity bill by more than half. Do you have two minutes?"
        ),
    )
    training_add(
        agent=agent,
        training_type="product",
        product_details={
            "features": ["Tier-1 panels", "10 kWh home battery", "Live energy app"],
            "pricing": "$0 down, from $89/month",
            "benefits": ["Lower bills", "Backup power in outages", "25-year warranty"],
        },
    )
    training_add(
        agent=agent,
        training_type="objection_handling",
        objection_responses={
            "price_too_high": "I hear you. With $0 down, most homeowners pay less each month than their old bill.",
            "need_to_think": "Of course. Can I send you a quick savings estimate to look at?",
            "already_have_provider": "Many of our customers switched from another provider. Let me compare.",
            "no_time": "No problem at all. I'll keep it to two minutes.",
        },
    )
    training_add(
        agent=agent,
        training_type="techniques",
        sales_techniques=["rapport_building", "needs_assessment", "solution_presentation", "trial_close"],
    )
    training_add(
        agent=agent,
        training_type="faq",
        faq={
            "How long does installation take?": "Installation takes one day after the permit is approved.",
            "Do you offer a warranty?": "Yes, 25 years on panels and 10 years on the battery.",
            "Is my roof suitable?": "We check by satellite first, free of charge.",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_DDL)
    agent.refresh_from_db()
    if not agent.can_take_calls:
        raise SystemExit(f"The bench agent is not trained enough to take calls (level {agent.training_level}).")
    return str(agent.public_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """The app under gunicorn, in its own process group; stopped (and waited for) on exit."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.args = [
            sys.executable, "-m", "gunicorn", "salesagents.wsgi:application",
            "--chdir", str(ROOT),
            "--bind", f"127.0.0.1:{self.port}",
            "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "--keep-alive", "10",  # longer than a caller's pause: one connection per call, as a proxy would
            "--timeout", "30", "--graceful-timeout", "5",
            "--log-level", "warning",
        ]  # fmt: skip
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /health within {timeout_s:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The gunicorn master's children (the workers)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group: the master and its workers
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self._log.close()


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # "greeting", "turn", "floor"
    ms: float
    status: int
    queries: int | None
    server_ms: float | None
    started: float
    ended: float


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reconnects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


GATHER_ACTION = re.compile(r'<Gather[^>]*\baction="([^"]+)"')


class Phone:
    """One caller's keep-alive connection to the server, posting requests signed as Twilio signs them."""

    def __init__(self, port: int, recorder: Recorder, *, keepalive: bool = True):
        self.port = port
        self.recorder = recorder
        self.keepalive = keepalive
        self.conn: http.client.HTTPConnection | None = None
        self.validator = RequestValidator(SIGNING_TOKEN)

    def post(self, kind: str, path: str, params: dict[str, str]) -> tuple[int, str]:
        params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **params}
        body = urllib.parse.urlencode(params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(PUBLIC_BASE_URL + path, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        if not self.keepalive:
            headers["Connection"] = "close"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: nothing was processed, so retry once.
                self.close()
                if attempt:
                    raise
                with self.recorder.lock:
                    self.recorder.reconnects += 1
                continue
            ended = time.perf_counter()
            if not self.keepalive or response.will_close:
                self.close()
            queries = response.getheader("X-Bench-Queries")
            server_us = response.getheader("X-Bench-Server-Us")
            self.recorder.add(
                Sample(
                    kind, (ended - started) * 1000, response.status, int(queries) if queries else None,
                    int(server_us) / 1000 if server_us else None, started, ended,
                )
            )  # fmt: skip
            return response.status, data.decode("utf-8", "replace")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def next_turn_path(twiml: str) -> str | None:
    """The path of the ``<Gather action>`` Twilio would post the caller's next words to."""
    found = GATHER_ACTION.search(twiml)
    if not found:
        return None
    url = html.unescape(found.group(1))
    return url[len(PUBLIC_BASE_URL) :] if url.startswith(PUBLIC_BASE_URL) else None


def run_call(phone: Phone, agent_id: str, script: list[str], *, pause, stop: threading.Event, number: str) -> int:
    """One inbound call: the greeting, then each sentence of ``script`` as a turn. Returns turns taken."""
    sid = "CA" + uuid.uuid4().hex
    status, twiml = phone.post(
        "greeting",
        f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": number, "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )
    path = next_turn_path(twiml) if status == 200 else None
    if path is None:
        phone.recorder.problem(f"greeting {status}: {twiml[:200]}")
        return 0
    for i, sentence in enumerate(script):
        if stop.is_set():
            return i
        pause()
        status, twiml = phone.post(
            "turn", path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence, "Confidence": "0.92"}
        )
        path = next_turn_path(twiml) if status == 200 else None
        if path is None:
            if status != 200 or i < len(script) - 1:
                phone.recorder.problem(f"turn {i + 1} ({sentence!r}) ended the call, status {status}: {twiml[:300]}")
            return i + 1
    return len(script)


def run_floor_call(phone: Phone, agent_id: str, script: list[str], *, pause, stop: threading.Event) -> None:
    """A floor "call": as many requests as a real call makes, with the same fields and pacing."""
    sid = "CA" + uuid.uuid4().hex
    for i, sentence in enumerate(["", *script]):
        if stop.is_set():
            return
        if i:
            pause()
        params = {"CallSid": sid, "CallStatus": "in-progress"}
        if sentence:
            params |= {"SpeechResult": sentence, "Confidence": "0.92"}
        status, body = phone.post("floor", f"/bench/floor/{agent_id}/?n={2 * i + 1}", params)
        if status != 200:
            phone.recorder.problem(f"floor {status}: {body[:200]}")


def paced_run(port: int, agent_id: str, *, calls: int, turns: int, pause_s: float, keepalive: bool) -> Recorder:
    """``calls`` real calls and ``calls`` floor calls at once, each pausing about ``pause_s`` between requests."""
    recorder = Recorder()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(index: int, floor: bool) -> None:
        rng = random.Random(index * 2 + floor)
        script = caller_script(random.Random(index), turns)  # the floor caller says what its twin says

        def pause() -> None:
            stop.wait(pause_s * rng.uniform(0.8, 1.2))

        phone = Phone(port, recorder, keepalive=keepalive)
        try:
            stop.wait(rng.uniform(0, pause_s))  # callers arrive spread over the first pause, not all at once
            if floor:
                run_floor_call(phone, agent_id, script, pause=pause, stop=stop)
            else:
                run_call(phone, agent_id, script, pause=pause, stop=stop, number=f"+1212555{index:04d}")
        except BaseException as exc:  # noqa: BLE001 - reported below, the run goes on
            errors.append(exc)
        finally:
            phone.close()

    threads = [
        threading.Thread(target=worker, args=(i, floor), daemon=True) for i in range(calls) for floor in (False, True)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60 + turns * pause_s * 3
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    for exc in errors:
        recorder.problem(f"caller failed: {exc!r}")
    if any(t.is_alive() for t in threads):
        recorder.problem("some callers were still running at the deadline")
    return recorder


@dataclass
class Saturation:
    kind: str
    clients: int
    seconds: float
    completed: int
    latencies: list[float]
    app_cpu_s: float
    db_cpu_s: float
    loadgen_cpu_s: float
    machine_busy: float  # fraction of all CPUs busy


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with contextlib.suppress(OSError):
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values) - idle, sum(values)
    return 0, 0


def postgres_pids(database_url: str) -> list[int]:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(database_url, autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()")]
    return []


def saturate(
    kind: str, server: Gunicorn, database_url: str, agent_id: str, *, clients: int, seconds: float, turns: int
) -> Saturation:
    """``clients`` callers with no pauses for ``seconds``: real calls (``turn``) or the floor."""
    recorder = Recorder()
    stop = threading.Event()
    window: dict[str, float] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        phone = Phone(server.port, recorder)
        n = 0
        try:
            while not stop.is_set():
                script = caller_script(random.Random(10_000 + index * 1000 + n), turns)
                if kind == "turn":
                    run_call(phone, agent_id, script, pause=lambda: None, stop=stop, number=f"+1646{index:03d}{n:04d}")
                else:
                    run_floor_call(phone, agent_id, script, pause=lambda: None, stop=stop)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            phone.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(min(2.0, seconds / 4))  # let the calls get going before the window opens
    app_pids, db_pids = server.worker_pids(), postgres_pids(database_url)
    app0, db0, gen0, (busy0, total0) = cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time(), machine_ticks()
    window["start"] = time.perf_counter()
    time.sleep(seconds)
    window["end"] = time.perf_counter()
    app1, db1, gen1, (busy1, total1) = cpu_seconds(app_pids), cpu_seconds(db_pids), time.process_time(), machine_ticks()
    stop.set()
    for t in threads:
        t.join(35)
    in_window = [
        s for s in recorder.samples if s.kind == kind and window["start"] <= s.ended < window["end"] and s.status == 200
    ]
    if errors or recorder.problems:
        raise RuntimeError(f"saturated {kind} run failed: {errors[:3]} {recorder.problems[:3]}")
    return Saturation(
        kind, clients, window["end"] - window["start"], len(in_window), [s.ms for s in in_window],
        app1 - app0, db1 - db0, gen1 - gen0, (busy1 - busy0) / max(total1 - total0, 1),
    )  # fmt: skip


def warm_up(port: int, agent_id: str, *, clients: int) -> None:
    """Open every gunicorn thread's database connection and import everything, unmeasured."""
    recorder = Recorder()
    stop = threading.Event()

    def worker(index: int) -> None:
        phone = Phone(port, recorder)
        try:
            for n in range(2):
                script = caller_script(random.Random(90_000 + index * 10 + n), 4)
                run_call(phone, agent_id, script, pause=lambda: None, stop=stop, number=f"+1917{index:03d}{n:04d}")
                run_floor_call(phone, agent_id, script, pause=lambda: None, stop=stop)
        finally:
            phone.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if recorder.problems:
        raise RuntimeError("warm-up failed: " + "; ".join(recorder.problems[:5]))


# --- in-process: queries and where the time goes -----------------------------------------------


def in_process_report(agent_id: str, *, calls: int, turns: int, profile: bool) -> list[str]:
    """Runs calls through Django's test client (the full middleware stack, no HTTP) against the
    bench database: the SQL of a plain turn and, with ``profile``, a time breakdown."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from calls import engine, webhooks

    client = Client()
    validator = RequestValidator(SIGNING_TOKEN)

    def post(path: str, params: dict[str, str]):
        params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **params}
        signature = validator.compute_signature(PUBLIC_BASE_URL + path, params)
        return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)

    lines: list[str] = []
    # One call, statement by statement.
    sid = "CA" + uuid.uuid4().hex
    response = post(
        f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": "+13125550199", "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )
    path = next_turn_path(response.content.decode())
    shown: set[int] = set()
    for sentence in caller_script(random.Random(7), turns)[:-1]:
        with CaptureQueriesContext(connection) as captured:
            response = post(path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence})
        path = next_turn_path(response.content.decode())
        count = len(captured.captured_queries)
        if count not in shown:
            shown.add(count)
            lines.append(f"  {count} statements for {sentence!r}:")
            lines += [f"    {q['sql'][:150]}" for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        post(f"/bench/floor/{agent_id}/?n=1", {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": "Hi"})
    lines.append(f"  {len(captured.captured_queries)} statement(s) for the floor:")
    lines += [f"    {q['sql'][:150]}" for q in captured.captured_queries]
    lines += protocol_trace(post, agent_id)
    if not profile:
        return lines

    # Where a turn's time goes: time the engine's steps by wrapping them, over many turns.
    timers: Counter[str] = Counter()

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - started

        return wrapper

    def sql_timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timers["sql"] += time.perf_counter() - started

    patches = [
        (webhooks, "agent_by_public_id"), (webhooks, "signature_is_valid"), (webhooks, "parse_event"),
        (engine, "call_turn"), (engine, "build_context"), (engine, "apply_actions"), (engine, "render_turn"),
        (engine, "_note_call_changes"),
    ]  # fmt: skip
    originals = [(module, name, getattr(module, name)) for module, name in patches]
    provider = engine.conversation_provider()
    original_reply = provider.reply
    for module, name, fn in originals:
        setattr(module, name, timed(f"{module.__name__.split('.')[-1]}.{name}", fn))
    provider.reply = timed("provider.reply", original_reply)
    turn_total = floor_total = 0.0
    turn_count = floor_count = 0
    profiler = cProfile.Profile()
    try:
        with connection.execute_wrapper(sql_timer):
            for c in range(calls):
                sid = "CA" + uuid.uuid4().hex
                response = post(
                    f"/webhooks/twilio/{agent_id}/incoming/",
                    {"CallSid": sid, "From": f"+1415666{c:04d}", "To": AGENT_NUMBER, "CallStatus": "ringing"},
                )
                path = next_turn_path(response.content.decode())
                for sentence in caller_script(random.Random(c), turns):
                    if path is None:
                        break
                    sql_before, started = timers["sql"], time.perf_counter()
                    profiler.enable()
                    response = post(path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence})
                    profiler.disable()
                    turn_total += time.perf_counter() - started
                    timers["turn sql"] += timers["sql"] - sql_before
                    turn_count += 1
                    path = next_turn_path(response.content.decode())
            for n in range(turn_count):
                sql_before, started = timers["sql"], time.perf_counter()
                post(f"/bench/floor/{agent_id}/?n={n}", {"CallSid": "CAfloor" + "0" * 20, "SpeechResult": "Tell me"})
                floor_total += time.perf_counter() - started
                timers["floor sql"] += timers["sql"] - sql_before
                floor_count += 1
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
        provider.reply = original_reply

    def per(name: str, count: int = turn_count) -> str:
        return f"{timers[name] / count * 1000:6.2f} ms"

    engine_other = timers["engine.call_turn"] - sum(
        timers[k]
        for k in ("engine.build_context", "provider.reply", "engine.apply_actions", "engine.render_turn",
                  "engine._note_call_changes")
    )  # fmt: skip
    lines += [
        "",
        f"In-process time per request (Django test client, full middleware, no HTTP; {turn_count} turns):",
        f"  turn total                          {turn_total / turn_count * 1000:6.2f} ms",
        f"    SQL (all statements, round trips) {per('turn sql')}",
        f"    agent lookup (webhook, incl. SQL) {per('webhooks.agent_by_public_id')}",
        f"    signature check                   {per('webhooks.signature_is_valid')}",
        f"    parse_event                       {per('webhooks.parse_event')}",
        f"    engine.call_turn                  {per('engine.call_turn')}",
        f"      build_context                   {per('engine.build_context')}",
        f"      provider.reply (scripted)       {per('provider.reply')}",
        f"      apply_actions                   {per('engine.apply_actions')}",
        f"      render_turn (TwiML)             {per('engine.render_turn')}",
        f"      _note_call_changes              {per('engine._note_call_changes')}",
        f"      the rest (ORM, queries, atomic) {engine_other / turn_count * 1000:6.2f} ms",
        f"  floor total                         {floor_total / floor_count * 1000:6.2f} ms",
        f"    SQL                               {timers['floor sql'] / floor_count * 1000:6.2f} ms",
        "",
        "Hottest functions in turns (cProfile, own time):",
    ]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    lines += ["  " + line for line in out.getvalue().splitlines() if line.strip()][-20:]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
        r"scripted|intents|twiml|voice_response|request_validator|signature|context\.py|engine|query\.py|compiler"
    )
    lines += ["", "Cumulative time in turns, selected modules (cProfile):"]
    lines += ["  " + line for line in out.getvalue().splitlines() if line.strip()][-32:]
    return lines


def protocol_trace(post, agent_id: str) -> list[str]:
    """What one turn and one floor request send PostgreSQL, from libpq's protocol trace:
    every statement, including the BEGIN/COMMIT and health check the driver sends itself."""
    from django.db import close_old_connections, connection

    connection.ensure_connection()
    pgconn = getattr(connection.connection, "pgconn", None)
    if pgconn is None:
        return []
    from psycopg import pq

    sid = "CA" + uuid.uuid4().hex
    response = post(
        f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": "+13125550198", "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )
    path = next_turn_path(response.content.decode())
    lines = []
    for kind, req_path, params in (
        ("a plain turn", path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": "Is my roof suitable?"}),
        ("the floor", f"/bench/floor/{agent_id}/?n=1", {"CallSid": sid, "SpeechResult": "Is my roof suitable?"}),
    ):
        close_old_connections()  # what request_started does under gunicorn (the test client skips it)
        with tempfile.TemporaryFile("w+") as trace:
            connection.connection.pgconn.trace(trace.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                post(req_path, params)
            finally:
                connection.connection.pgconn.untrace()
            trace.seek(0)
            text = trace.read().splitlines()
        sent = [line.split("\t", 3)[-1].strip() for line in text if line.startswith("F") and ("\tQuery\t" in line or "\tParse\t" in line)]
        round_trips = sum(1 for line in text if line.startswith("B") and "\tReadyForQuery\t" in line)
        lines.append(f"  PostgreSQL round trips for {kind}: {round_trips}")
        lines += [f"    {s[:150]}" for s in sent]
    return lines


# --- report --------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if p < 100 else max(values)


def report(args, recorder: Recorder, saturations: list[Saturation], meta: dict[str, str]) -> tuple[list[str], bool]:
    by = {k: [s for s in recorder.samples if s.kind == k and s.status == 200] for k in ("greeting", "turn", "floor")}
    lines = [
        f"turn_latency: {meta['server']}; {meta['postgres']}; {os.cpu_count()} CPUs; load generator on the same machine",
        f"paced run: {args.calls} calls x {args.turns} turns (after the greeting), pause {args.pause:.1f} s +-20%, "
        f"beside {args.calls} floor callers (same fields, same pacing, same server), {meta['paced_s']:.1f} s",
        "",
        f"{'':20}{'n':>6}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}   {'in Django p50/p99 ms':>20}"
        f"{'statements/req':>16}",
    ]
    for kind, label in (("turn", "turn (webhook)"), ("floor", "floor"), ("greeting", "greeting (incoming)")):
        ms = [s.ms for s in by[kind]]
        server = [s.server_ms for s in by[kind] if s.server_ms is not None]
        queries = [s.queries for s in by[kind] if s.queries is not None]
        lines.append(
            f"{label:20}{len(ms):>6}{pct(ms, 50):>9.2f}{pct(ms, 90):>9.2f}{pct(ms, 99):>9.2f}{max(ms, default=0):>9.2f}"
            f"   {pct(server, 50):>9.2f} /{pct(server, 99):>8.2f}{statistics.fmean(queries) if queries else 0:>16.2f}"
        )
    turn_ms, floor_ms = [s.ms for s in by["turn"]], [s.ms for s in by["floor"]]
    r50, r99 = pct(turn_ms, 50) / pct(floor_ms, 50), pct(turn_ms, 99) / pct(floor_ms, 99)
    queries = [s.queries for s in by["turn"] if s.queries is not None]
    mean_q = statistics.fmean(queries) if queries else float("nan")
    spread = ", ".join(f"{q}: {n}" for q, n in sorted(Counter(queries).items()))
    ok_ratio = r50 <= TARGET_RATIO and r99 <= TARGET_RATIO
    ok_queries = max(queries, default=0) <= TARGET_QUERIES
    lines += [
        "",
        f"ratio turn/floor    p50 {r50:.2f}   p99 {r99:.2f}   (target <= {TARGET_RATIO}: {'met' if ok_ratio else 'MISSED'})",
        f"statements per turn mean {mean_q:.2f}, max {max(queries, default=0)}   (turns by count {{{spread}}}; "
        f"target <= {TARGET_QUERIES}: {'met' if ok_queries else 'MISSED'})",
        "",
        f"saturated, no pauses ({saturations[0].clients} clients, {saturations[0].seconds:.0f} s each):",
    ]
    for sat in saturations:
        n = max(sat.completed, 1)
        lines.append(
            f"  {sat.kind:6} {sat.completed / sat.seconds:8.1f} /s   p50 {pct(sat.latencies, 50):7.2f} ms"
            f"   p99 {pct(sat.latencies, 99):7.2f} ms   CPU per request: gunicorn {sat.app_cpu_s / n * 1000:5.2f} ms,"
            f" postgres {sat.db_cpu_s / n * 1000:5.2f} ms, load generator {sat.loadgen_cpu_s / n * 1000:5.2f} ms"
            f"   (machine {sat.machine_busy:.0%} busy)"
        )
    if len(saturations) == 2:
        lines.append(f"  turn/floor throughput {saturations[0].completed / max(saturations[1].completed, 1):.2f}")
    failed = [s for s in recorder.samples if s.status != 200]
    lines.append("")
    lines.append(
        f"requests: {len(recorder.samples)} in the paced run, {len(failed)} not 200, "
        f"{recorder.reconnects} keep-alive reconnects, {len(recorder.problems)} problems"
    )
    lines += [f"  problem: {p}" for p in recorder.problems[:10]]
    return lines, ok_ratio and ok_queries and not failed and not recorder.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres",
                        help="server to create the bench database on (its database is only used to connect)")  # fmt: skip
    parser.add_argument("--db-name", default="salesagents_turn_bench")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database for inspection")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between a caller's turns (+-20%%)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per CPU)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=16, help="callers in the saturated runs")
    parser.add_argument("--saturate-seconds", type=float, default=10.0)
    parser.add_argument("--no-keepalive", action="store_true", help="a new TCP connection for every request")
    parser.add_argument("--profile", action="store_true", help="also break down a turn's time in-process")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url / DATABASE_URL must be a PostgreSQL URL")
    database_url = bench_database_url(args.database_url, args.db_name)
    env = app_environment(database_url)
    started = time.monotonic()
    print(f"Recreating database {args.db_name} and loading a trained agent ...", flush=True)
    recreate_database(args.database_url, args.db_name)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection, connections

    agent_id = set_up_data()
    pg_version = connection.cursor().connection.info.server_version
    connections.close_all()

    log_path = Path(tempfile.mkstemp(prefix="turn_bench_gunicorn_", suffix=".log")[1])
    server = Gunicorn(env, workers=args.workers, threads=args.threads, log_path=log_path)
    interrupted = False

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        print(f"Starting gunicorn on 127.0.0.1:{server.port} ({args.workers} workers x {args.threads} threads) ...",
              flush=True)  # fmt: skip
        server.start()
        warm_up(server.port, agent_id, clients=args.workers * args.threads * 2)
        print(f"Paced run: {args.calls} calls x {args.turns} turns beside {args.calls} floor callers ...", flush=True)
        paced_started = time.perf_counter()
        recorder = paced_run(
            server.port, agent_id, calls=args.calls, turns=args.turns, pause_s=args.pause,
            keepalive=not args.no_keepalive,
        )  # fmt: skip
        paced_s = time.perf_counter() - paced_started
        print(f"Saturated runs: {args.clients} clients, {args.saturate_seconds:.0f} s each ...", flush=True)
        saturations = [
            saturate(kind, server, database_url, agent_id, clients=args.clients, seconds=args.saturate_seconds,
                     turns=args.turns)
            for kind in ("turn", "floor")
        ]  # fmt: skip
        server.stop()
        print("In-process statement listing" + (" and profile" if args.profile else "") + " ...", flush=True)
        details = in_process_report(agent_id, calls=10, turns=args.turns, profile=args.profile)
        meta = {
            "server": f"gunicorn gthread {args.workers} workers x {args.threads} threads"
            + (", no keep-alive" if args.no_keepalive else ", keep-alive"),
            "postgres": f"PostgreSQL {pg_version // 10000}.{pg_version % 10000}",
            "paced_s": paced_s,
        }
        lines, ok = report(args, recorder, saturations, meta)
        print()
        print("\n".join(lines))
        print()
        print("What one request sends (in-process, same database):")
        print("\n".join(details))
        print(f"\nTotal {time.monotonic() - started:.0f} s.")
        if recorder.problems or any(s.status != 200 for s in recorder.samples):
            code = 2
        elif args.strict and not ok:
            code = 1
    except KeyboardInterrupt:
        interrupted = True
        code = 130
    except Exception:
        print("\ngunicorn log tail:\n" + server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                drop_database(args.database_url, args.db_name)
        with contextlib.suppress(OSError):
            log_path.unlink()
    if interrupted:
        print("Interrupted; gunicorn stopped.", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
