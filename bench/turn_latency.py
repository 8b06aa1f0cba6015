#!/usr/bin/env python
"""Turn latency of live calls, against the floor of a durable turn, on gunicorn + PostgreSQL.

    .venv/bin/python bench/turn_latency.py [--profile]    # 1-2 minutes; see bench/README.md

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
   (Before it, a few calls one at a time show the latencies without contention.)
4. Saturated runs: ``--clients`` callers with no pauses, first making calls, then on the floor.
5. Prints latency percentiles, their ratios, SQL statements per turn, throughput and CPU per
   request, and the statements a turn and the floor send PostgreSQL; ``--profile`` adds an
   in-process breakdown of where a turn's time goes. Stops gunicorn and drops the database at
   the end, also on error, Ctrl-C or SIGTERM.
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
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

PUBLIC_BASE_URL = "http://bench.local"
SIGNING_TOKEN = "bench-simulated-phone-token-0123"  # the simulated phone's, bench only
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
AREA_CODES = ("212", "415", "312", "617", "206", "305", "713", "303")


def caller_number(k: int) -> str:
    """A valid, distinct US number for caller ``k`` (0 <= k < 80,000)."""
    return f"+1{AREA_CODES[(k // 10_000) % len(AREA_CODES)]}555{k % 10_000:04d}"


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
        self._log = None

    def start(self, timeout_s: float = 30.0) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            conn.close()
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
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group: the master and its workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self._log is not None:
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
    index: int = 0  # which turn of its call (1 = the first after the greeting)


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

    def post(self, kind: str, path: str, params: dict[str, str], index: int = 0) -> tuple[int, str]:
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
                    int(server_us) / 1000 if server_us else None, started, ended, index,
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


def run_call(
    phone: Phone, agent_id: str, script: list[str], *, pause, stop: threading.Event, number: str,
    without_engine: bool = False,
) -> int:  # fmt: skip
    """One inbound call: the greeting, then each sentence of ``script`` as a turn. Returns turns taken.

    ``without_engine``: the turns go to the read floor (bench/floor.py) instead of the turn webhook.
    """
    sid = "CA" + uuid.uuid4().hex
    status, twiml = phone.post(
        "greeting",
        f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": number, "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )
    path = next_turn_path(twiml) if status == 200 else None
    if path and without_engine:
        path = f"/bench/read-floor/{agent_id}/?n=1"
    if path is None:
        phone.recorder.problem(f"greeting {status}: {twiml[:200]}")
        return 0
    for i, sentence in enumerate(script):
        if stop.is_set():
            return i
        pause()
        status, twiml = phone.post(
            "turn",
            path,
            {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence, "Confidence": "0.92"},
            index=i + 1,
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


def paced_run(
    port: int, agent_id: str, *, calls: int, turns: int, pause_s: float, keepalive: bool, without_engine: bool = False
) -> Recorder:
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
                run_call(
                    phone, agent_id, script, pause=pause, stop=stop, number=caller_number(index),
                    without_engine=without_engine,
                )  # fmt: skip
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
    completed: int  # requests of ``kind`` completed in the window
    requests: int  # all requests completed in the window (the turn run's greetings too)
    latencies: list[float]
    cpu: dict[str, float]  # CpuMeter.stop()


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def machine_ticks() -> tuple[int, int, int]:
    """(busy, stolen, total) jiffies of all CPUs, from /proc/stat. Stolen time is time a virtual
    machine's CPUs were ready to run but the host ran something else: noise from outside."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        idle = values[3] + values[4]
        return sum(values) - idle, values[7], sum(values)
    return 0, 0, 0


def machine_share(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[float, float]:
    """(busy, stolen) fractions of all CPUs between two ``machine_ticks()``."""
    total = max(after[2] - before[2], 1)
    return (after[0] - before[0]) / total, (after[1] - before[1]) / total


class CpuMeter:
    """CPU time over a stretch of the run: ours (gunicorn workers, the bench database's backends,
    this load generator) and everybody else's on the machine (other programs, the host)."""

    def __init__(self, server: Gunicorn, database_url: str):
        self.app_pids, self.db_pids = server.worker_pids(), postgres_pids(database_url)
        self.started = self._snapshot()

    def _snapshot(self) -> tuple:
        return (time.perf_counter(), machine_ticks(), cpu_seconds(self.app_pids), cpu_seconds(self.db_pids),
                time.process_time())  # fmt: skip

    def stop(self) -> dict[str, float]:
        (t0, ticks0, app0, db0, gen0), (t1, ticks1, app1, db1, gen1) = self.started, self._snapshot()
        busy, stolen = machine_share(ticks0, ticks1)
        cpus = os.cpu_count() or 1
        ours = (app1 - app0) + (db1 - db0) + (gen1 - gen0)
        return {
            "seconds": t1 - t0, "busy": busy, "stolen": stolen, "app": app1 - app0, "db": db1 - db0,
            "loadgen": gen1 - gen0, "others": max(0.0, busy * cpus * (t1 - t0) - ours) / (cpus * (t1 - t0)),
        }  # fmt: skip


def background_load(seconds: float = 1.0) -> float:
    """The share of all CPUs busy while this bench does nothing: other programs on the machine."""
    before = machine_ticks()
    time.sleep(seconds)
    return machine_share(before, machine_ticks())[0]


def wait_for_quiet(limit_s: float, threshold: float = 0.15) -> tuple[float, float]:
    """Wait (at most ``limit_s``) for other programs to leave the CPUs mostly idle, so they
    disturb the measurement less. Returns (background load at the start, when measuring began)."""
    first = load = background_load()
    deadline = time.monotonic() + limit_s
    while load > threshold and time.monotonic() < deadline:
        load = background_load()
    return first, load


def postgres_pids(database_url: str) -> list[int]:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in rows]
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
                    number = caller_number(20_000 + (index * 2_000 + n) % 50_000)
                    run_call(phone, agent_id, script, pause=lambda: None, stop=stop, number=number)
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
    meter = CpuMeter(server, database_url)
    window["start"] = time.perf_counter()
    time.sleep(seconds)
    window["end"] = time.perf_counter()
    cpu = meter.stop()
    stop.set()
    for t in threads:
        t.join(35)
    everything = [s for s in recorder.samples if window["start"] <= s.ended < window["end"] and s.status == 200]
    in_window = [s for s in everything if s.kind == kind]
    if errors or recorder.problems:
        raise RuntimeError(f"saturated {kind} run failed: {errors[:3]} {recorder.problems[:3]}")
    return Saturation(
        kind, clients, window["end"] - window["start"], len(in_window), len(everything), [s.ms for s in in_window],
        cpu,
    )  # fmt: skip


def one_at_a_time(port: int, agent_id: str, *, calls: int, turns: int, without_engine: bool = False) -> Recorder:
    """A single caller, no pauses, nothing else running: latency without contention."""
    recorder = Recorder()
    stop = threading.Event()
    phone = Phone(port, recorder)
    try:
        for c in range(calls):
            script = caller_script(random.Random(50_000 + c), turns)
            run_call(
                phone, agent_id, script, pause=lambda: None, stop=stop, number=caller_number(60_000 + c),
                without_engine=without_engine,
            )  # fmt: skip
            run_floor_call(phone, agent_id, script, pause=lambda: None, stop=stop)
    finally:
        phone.close()
    return recorder


def warm_up(port: int, agent_id: str, *, clients: int) -> None:
    """Open every gunicorn thread's database connection and import everything, unmeasured."""
    recorder = Recorder()
    stop = threading.Event()

    def worker(index: int) -> None:
        phone = Phone(port, recorder)
        try:
            for n in range(2):
                script = caller_script(random.Random(90_000 + index * 10 + n), 4)
                number = caller_number(10_000 + index * 10 + n)
                run_call(phone, agent_id, script, pause=lambda: None, stop=stop, number=number)
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


def in_process_report(agent_id: str, *, calls: int, turns: int, profile: bool, quiet_wait: float) -> list[str]:
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
        {"CallSid": sid, "From": caller_number(79_998), "To": AGENT_NUMBER, "CallStatus": "ringing"},
    )
    path = next_turn_path(response.content.decode())
    shown: set[int] = set()
    for sentence in caller_script(random.Random(7), turns)[:-1]:
        with CaptureQueriesContext(connection) as captured:
            response = post(path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence})
        path = next_turn_path(response.content.decode())
        count = statement_count(captured.captured_queries)
        if count not in shown:
            shown.add(count)
            framing = _framing(captured.captured_queries)
            lines.append(f"  a turn, {sentence!r}: {count} statements{framing} (Django's query log)")
            lines += [f"    {q['sql'][:150]}" for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        post(f"/bench/floor/{agent_id}/?n=1", {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": "Hi"})
    queries = captured.captured_queries
    lines.append(f"  the floor: {statement_count(queries)} statement{_framing(queries)}")
    lines += [f"    {q['sql'][:150]}" for q in captured.captured_queries]
    lines += protocol_trace(post, agent_id)
    if not profile:
        return lines

    # Where a turn's time goes: first timed by wrapping the steps (no profiler), then profiled.
    timers: Counter[str] = Counter()

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - started

        return wrapper

    measuring: list[str] = []  # the kind of request being measured, if any
    by_statement: Counter[str] = Counter()
    statement_runs: Counter[str] = Counter()

    def sql_timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            timers["sql"] += elapsed
            if measuring == ["turn"]:
                by_statement[statement_label(sql)] += elapsed
                statement_runs[statement_label(sql)] += 1

    def drive(n_calls: int, first: int, on_turn) -> None:
        for c in range(first, first + n_calls):
            sid = "CA" + uuid.uuid4().hex
            response = post(
                f"/webhooks/twilio/{agent_id}/incoming/",
                {"CallSid": sid, "From": caller_number(70_000 + c), "To": AGENT_NUMBER, "CallStatus": "ringing"},
            )
            path = next_turn_path(response.content.decode())
            for sentence in caller_script(random.Random(c), turns):
                if path is None:
                    break
                response = on_turn(path, {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence})
                path = next_turn_path(response.content.decode())

    def floor_request(n: int):
        return post(f"/bench/floor/{agent_id}/?n={n}", {"CallSid": "CAfloor" + "0" * 20, "SpeechResult": "Tell me"})

    steps = [
        (webhooks, "agent_by_public_id"), (webhooks, "signature_is_valid"), (webhooks, "parse_event"),
        (engine, "call_turn"), (engine, "build_context"), (engine, "apply_actions"), (engine, "render_turn"),
        (engine, "_note_call_changes"),
    ]  # fmt: skip
    originals = [(module, name, getattr(module, name)) for module, name in steps]
    provider = engine.conversation_provider()
    original_reply = provider.reply
    measured = Counter()
    each: dict[str, list[float]] = {"turn": [], "floor": []}

    def measure(kind: str, request, *args):
        before = Counter(timers)
        measuring[:] = [kind]
        started = time.perf_counter()
        response = request(*args)
        elapsed = time.perf_counter() - started
        timers[kind + " total"] += elapsed
        each[kind].append(elapsed * 1000)
        measuring.clear()
        timers[kind + " sql"] += timers["sql"] - before["sql"]
        timers[kind + " commit"] += timers["commit"] - before["commit"]
        measured[kind] += 1
        return response

    for module, name, fn in originals:
        setattr(module, name, timed(f"{module.__name__.split('.')[-1]}.{name}", fn))
    provider.reply = timed("provider.reply", original_reply)
    connection.ensure_connection()
    connection._commit = timed("commit", connection._commit)  # COMMIT is not a cursor statement
    first_load, load = wait_for_quiet(quiet_wait)
    ticks = machine_ticks()
    try:
        with connection.execute_wrapper(sql_timer):
            drive(calls, 0, lambda path, params: measure("turn", post, path, params))
            for n in range(measured["turn"]):
                measure("floor", floor_request, n)
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
        provider.reply = original_reply
        del connection._commit
    busy = machine_share(ticks, machine_ticks())[0]
    profiler = cProfile.Profile()

    def profiled(path, params):
        profiler.enable()
        try:
            return post(path, params)
        finally:
            profiler.disable()

    drive(calls, calls, profiled)

    n_turns, n_floor = measured["turn"], measured["floor"]

    def ms(name: str, count: int = n_turns) -> str:
        return f"{timers[name] / count * 1000:6.2f} ms"

    engine_parts = ("engine.build_context", "provider.reply", "engine.apply_actions", "engine.render_turn",
                    "engine._note_call_changes")  # fmt: skip
    timers["engine rest"] = timers["engine.call_turn"] - sum(timers[k] for k in engine_parts)
    timers["django rest"] = timers["turn total"] - sum(
        timers[k] for k in ("webhooks.agent_by_public_id", "webhooks.signature_is_valid", "webhooks.parse_event",
                            "engine.call_turn")
    )  # fmt: skip
    timers["turn python"] = timers["turn total"] - timers["turn sql"] - timers["turn commit"]
    timers["floor python"] = timers["floor total"] - timers["floor sql"] - timers["floor commit"]
    lines += [
        "",
        f"In-process time per request, mean (Django test client: full middleware, no HTTP, one at a time; "
        f"{n_turns} turns)",
        f"  other programs kept the CPUs {first_load:.0%} busy before"
        + (f", {load:.0%} after waiting for quiet" if first_load > load else "")
        + f"; {busy:.0%} busy during it, this process and its PostgreSQL backend being at most one CPU:",
        f"  turn                                   {ms('turn total')}   (median {pct(each['turn'], 50):.2f} ms)",
        f"    waiting on PostgreSQL: statements    {ms('turn sql')}",
        f"                           COMMIT        {ms('turn commit')}",
        f"    Python (everything else)             {ms('turn python')}",
        "    by step (each including its SQL):",
        f"      agent lookup (webhook decorator)   {ms('webhooks.agent_by_public_id')}",
        f"      signature check                    {ms('webhooks.signature_is_valid')}",
        f"      parse_event                        {ms('webhooks.parse_event')}",
        f"      engine.call_turn                   {ms('engine.call_turn')}",
        f"        build_context                    {ms('engine.build_context')}",
        f"        provider.reply (scripted)        {ms('provider.reply')}",
        f"        apply_actions                    {ms('engine.apply_actions')}",
        f"        render_turn (TwiML)              {ms('engine.render_turn')}",
        f"        _note_call_changes               {ms('engine._note_call_changes')}",
        f"        the rest: ORM reads/insert, atomic, COMMIT {ms('engine rest')}",
        f"      Django request/response, middleware, URL resolving {ms('django rest')}",
        "    by statement (driver + PostgreSQL time; runs per turn, ms per run):",
        *[
            f"      {label:34} {statement_runs[label] / n_turns:4.2f} x {by_statement[label] / runs * 1000:5.2f} ms"
            for label, runs in statement_runs.items()
        ],
        f"  floor                                  {ms('floor total', n_floor)}"
        f"   (median {pct(each['floor'], 50):.2f} ms)",
        f"    waiting on PostgreSQL: statements    {ms('floor sql', n_floor)}",
        f"                           COMMIT        {ms('floor commit', n_floor)}",
        f"    Python (everything else)             {ms('floor python', n_floor)}",
        "",
        f"Profile of {calls} more calls' turns (cProfile; times inflated by the profiler), by cumulative time:",
    ]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/work/|django/db|psycopg|twilio", 30)
    lines += ["  " + line for line in _stats_rows(out.getvalue())]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    lines += ["", "  by own time:"]
    lines += ["  " + line for line in _stats_rows(out.getvalue())]
    return lines


def _stats_rows(text: str) -> list[str]:
    """pstats output without its preamble, paths shortened."""
    rows = text.splitlines()
    start = next((i for i, row in enumerate(rows) if row.lstrip().startswith("ncalls")), 0)
    site = str(Path(sys.prefix) / "lib")
    return [
        re.sub(r"\S*site-packages/", "", row.replace(str(ROOT) + "/", "").replace(site, ""))
        for row in rows[start:]
        if row.strip()
    ]


def statement_label(sql: str) -> str:
    """``SELECT calls_callturn``, ``SAVEPOINT``...: what a statement does, to which table."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    return f"{verb} {table.group(1) if table else ''}".strip()


def _framing(queries: list[dict]) -> str:
    """Whether the statements ran inside BEGIN/COMMIT or each as its own transaction."""
    return " + BEGIN/COMMIT" if any(q["sql"] == "BEGIN" for q in queries) else ", each its own transaction"


def statement_count(queries: list[dict]) -> int:
    """Statements other than the BEGIN/COMMIT that Django 5 also logs (the middleware's count)."""
    return sum(1 for q in queries if q["sql"] not in ("BEGIN", "COMMIT", "ROLLBACK"))


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
        {"CallSid": sid, "From": caller_number(79_999), "To": AGENT_NUMBER, "CallStatus": "ringing"},
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
        sent = [
            line.split("\t", 3)[-1].strip()
            for line in text
            if line.startswith("F") and ("\tQuery\t" in line or "\tParse\t" in line)
        ]
        round_trips = sum(1 for line in text if line.startswith("B") and "\tReadyForQuery\t" in line)
        lines.append(f"  {kind}: {round_trips} round trips to PostgreSQL (libpq protocol trace, as under gunicorn):")
        lines += [f"    {s[:150]}" for s in sent]
    return lines


# --- report --------------------------------------------------------------------------------------


def cpu_note(cpu: dict[str, float]) -> str:
    return f"CPUs {cpu['busy']:.0%} busy, other programs {cpu['others']:.0%}, host steal {cpu['stolen']:.0%}"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if p < 100 else max(values)


def report(
    args, recorder: Recorder, alone: Recorder, saturations: list[Saturation], meta: dict[str, str]
) -> tuple[list[str], bool]:
    by = {k: [s for s in recorder.samples if s.kind == k and s.status == 200] for k in ("greeting", "turn", "floor")}
    lines = [
        f"turn_latency: {meta['server']}; {meta['postgres']}; {os.cpu_count()} CPUs, shared with the load generator",
        meta["background"],
        f"paced run: {args.calls} calls x {args.turns} turns (after the greeting), pause {args.pause:.1f} s +-20%, "
        f"beside {args.calls} floor callers",
        f"  (same fields, same pacing, same server) for {meta['paced_s']:.1f} s; {meta['paced_cpu']}",
        *(
            ["  --without-engine: the turns went to the read floor (the turn's read and insert, no engine)"]
            if args.without_engine
            else []
        ),
        "",
        f"{'':20}{'n':>6}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}   {'in Django p50/p99':>18}"
        f"{'statements':>12}",
    ]
    turn_label = "read floor" if args.without_engine else "turn (webhook)"
    for kind, label in (("turn", turn_label), ("floor", "floor"), ("greeting", "greeting (incoming)")):
        ms = [s.ms for s in by[kind]]
        server = [s.server_ms for s in by[kind] if s.server_ms is not None]
        queries = [s.queries for s in by[kind] if s.queries is not None]
        lines.append(
            f"{label:20}{len(ms):>6}{pct(ms, 50):>9.2f}{pct(ms, 90):>9.2f}{pct(ms, 99):>9.2f}{max(ms, default=0):>9.2f}"
            f"   {pct(server, 50):>8.2f} /{pct(server, 99):>8.2f}{statistics.fmean(queries) if queries else 0:>12.2f}"
        )
    turn_ms, floor_ms = [s.ms for s in by["turn"]], [s.ms for s in by["floor"]]
    r50, r99 = pct(turn_ms, 50) / pct(floor_ms, 50), pct(turn_ms, 99) / pct(floor_ms, 99)
    alone_turn = [s.ms for s in alone.samples if s.kind == "turn" and s.status == 200]
    alone_floor = [s.ms for s in alone.samples if s.kind == "floor" and s.status == 200]
    queries = [s.queries for s in by["turn"] if s.queries is not None]
    plain = min(queries, default=0)
    over = sum(q > TARGET_QUERIES for q in queries)
    spread = ", ".join(f"{n} with {q}" for q, n in sorted(Counter(queries).items()))
    ok_ratio = r50 <= TARGET_RATIO and r99 <= TARGET_RATIO
    ok_queries = not over
    ms_by_queries: dict[int, list[float]] = {}
    for sample in by["turn"]:
        ms_by_queries.setdefault(sample.queries, []).append(sample.ms)
    lines += [
        "",
        f"ratio turn/floor: p50 {r50:.2f}, p99 {r99:.2f}   "
        f"(target <= {TARGET_RATIO}: {'met' if ok_ratio else 'MISSED'})",
        f"  one caller at a time, no contention ({len(alone_turn)} turns, {len(alone_floor)} floor requests): "
        f"turn p50 {pct(alone_turn, 50):.2f} ms, floor p50 {pct(alone_floor, 50):.2f} ms, "
        f"ratio {pct(alone_turn, 50) / pct(alone_floor, 50):.2f}",
        "turn p50 in Django by turn number: "
        + ", ".join(
            f"{i}: {pct([s.server_ms for s in by['turn'] if s.index == i and s.server_ms is not None], 50):.1f}"
            for i in sorted({s.index for s in by["turn"]})
        )
        + " ms",
        "turn p50 / p99 by statements sent: "
        + ", ".join(
            f"{q}: {pct(ms_by_queries[q], 50):.2f} / {pct(ms_by_queries[q], 99):.2f} ms ({len(ms_by_queries[q])})"
            for q in sorted(k for k in ms_by_queries if k is not None)
        ),
        f"SQL statements per turn (Django's, savepoints included, BEGIN/COMMIT not): mean "
        f"{statistics.fmean(queries) if queries else float('nan'):.2f}; turns: {spread}",
        f"  (target <= {TARGET_QUERIES}: "
        + ("met" if ok_queries else f"MISSED by {over} of {len(queries)} turns")
        + f"; a plain turn sends {plain}, a turn that also writes the customer or the call more)",
        "",
        f"saturated, no pauses ({saturations[0].clients} clients, {saturations[0].seconds:.0f} s each):",
    ]
    for sat in saturations:
        n = max(sat.requests, 1)
        lines += [
            f"  {sat.kind:6}{sat.completed / sat.seconds:8.1f}/s   p50 {pct(sat.latencies, 50):7.2f} ms"
            f"   p99 {pct(sat.latencies, 99):7.2f} ms   CPU per request: gunicorn {sat.cpu['app'] / n * 1000:5.2f} ms,"
            f" postgres {sat.cpu['db'] / n * 1000:5.2f} ms, load generator {sat.cpu['loadgen'] / n * 1000:5.2f} ms",
            f"  {'':6}({cpu_note(sat.cpu)})",
        ]
    if len(saturations) == 2:
        lines.append(f"  turn/floor throughput {saturations[0].completed / max(saturations[1].completed, 1):.2f}")
    failed = [s for s in recorder.samples if s.status != 200]
    lines += [
        "",
        f"paced run: {len(recorder.samples)} requests, {len(failed)} not 200, "
        f"{recorder.reconnects} keep-alive reconnects, {len(recorder.problems)} problems",
    ]
    lines += [f"  problem: {p}" for p in recorder.problems[:10]]
    return lines, ok_ratio and ok_queries and not failed and not recorder.problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server to create the bench database on (default: $DATABASE_URL, else local postgres)",
    )
    parser.add_argument("--db-name", default="salesagents_turn_bench", help="dropped and recreated on every run")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database for inspection")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between a caller's turns (+-20%%)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: one per CPU)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=16, help="callers in the saturated runs")
    parser.add_argument("--saturate-seconds", type=float, default=10.0)
    parser.add_argument("--no-keepalive", action="store_true", help="a new TCP connection for every request")
    parser.add_argument(
        "--wait-for-quiet", type=float, default=60.0, metavar="SECONDS",
        help="wait at most this long for other programs to leave the CPUs idle before measuring (0: don't)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="also break down where a turn's time goes")
    parser.add_argument(
        "--without-engine", action="store_true",
        help="the paced run's turns go to the read floor: the turn's own read and insert, no conversation engine",
    )  # fmt: skip
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
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a bench
    import django

    django.setup()
    from django.db import connection, connections

    log_path = Path(tempfile.mkstemp(prefix="turn_bench_gunicorn_", suffix=".log")[1])
    server = Gunicorn(env, workers=args.workers, threads=args.threads, log_path=log_path)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    code = 0
    try:
        agent_id = set_up_data()
        pg_version = connection.cursor().connection.info.server_version
        connections.close_all()
        print(f"Starting gunicorn on 127.0.0.1:{server.port} ({args.workers} workers x {args.threads} threads) ...",
              flush=True)  # fmt: skip
        server.start()
        warm_up(server.port, agent_id, clients=args.workers * args.threads * 2)
        first_load, background = wait_for_quiet(args.wait_for_quiet)
        alone = one_at_a_time(server.port, agent_id, calls=5, turns=args.turns, without_engine=args.without_engine)
        print(f"Paced run: {args.calls} calls x {args.turns} turns beside {args.calls} floor callers ...", flush=True)
        meter = CpuMeter(server, database_url)
        recorder = paced_run(
            server.port, agent_id, calls=args.calls, turns=args.turns, pause_s=args.pause,
            keepalive=not args.no_keepalive, without_engine=args.without_engine,
        )  # fmt: skip
        paced_cpu = meter.stop()
        print(f"Saturated runs: {args.clients} clients, {args.saturate_seconds:.0f} s each ...", flush=True)
        saturations = [
            saturate(kind, server, database_url, agent_id, clients=args.clients, seconds=args.saturate_seconds,
                     turns=args.turns)
            for kind in ("turn", "floor")
        ]  # fmt: skip
        server.stop()
        print("In-process statement listing" + (" and profile" if args.profile else "") + " ...", flush=True)
        details = in_process_report(
            agent_id, calls=20, turns=args.turns, profile=args.profile, quiet_wait=min(args.wait_for_quiet, 30)
        )
        meta = {
            "server": f"gunicorn gthread {args.workers} workers x {args.threads} threads"
            + (", no keep-alive" if args.no_keepalive else ", keep-alive"),
            "postgres": f"PostgreSQL {pg_version // 10000}.{pg_version % 10000}",
            "paced_s": paced_cpu["seconds"],
            "paced_cpu": cpu_note(paced_cpu),
            "background": f"other programs kept the CPUs {first_load:.0%} busy before measuring"
            + (f", {background:.0%} after waiting for quiet" if first_load > background else ""),
        }
        lines, ok = report(args, recorder, alone, saturations, meta)
        print()
        print("\n".join(lines))
        print()
        print("What one request sends PostgreSQL (in-process, same database):")
        print("\n".join(details))
        print(f"\nTotal {time.monotonic() - started:.0f} s.")
        if recorder.problems or any(s.status != 200 for s in recorder.samples):
            code = 2
        elif args.strict and not ok:
            code = 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        code = 130
    except Exception:
        tail = server.log_tail()
        if tail:
            print("\ngunicorn log tail:\n" + tail, file=sys.stderr)
        raise
    finally:
        server.stop()
        connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                drop_database(args.database_url, args.db_name)
        with contextlib.suppress(OSError):
            log_path.unlink()
    return code


if __name__ == "__main__":
    sys.exit(main())
