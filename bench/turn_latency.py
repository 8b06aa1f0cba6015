#!/usr/bin/env python
"""A live call's turn against the floor of a durable turn, on gunicorn + PostgreSQL.

    .venv/bin/python bench/turn_latency.py [--calls 50 --turns 10]    # about a minute

It recreates its own database (``--db-name`` on the server of ``DATABASE_URL``), signs up a
client and trains its agent through the services, and starts the app under gunicorn with
``bench.bench_settings`` (production settings, the scripted engine, the simulated phone's
token, plus the floor view and a middleware that reports each request's SQL statements). Then
``--calls`` callers each dial in and say ``--turns`` things, following each ``<Gather action>``
and signing every request as Twilio does, while as many floor callers with the same pacing
post the same fields to the floor (bench/floor.py) on the same server. It prints the turn's
and the floor's p50/p99 from that one run, their ratio, and the statements per turn, and
checks the targets: p99 within 3x the floor's, a plain turn at most 4 statements. It stops
gunicorn and drops its database at the end, also on error or Ctrl-C.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

PUBLIC_BASE_URL = "http://bench.local"
SIGNING_TOKEN = "bench-simulated-phone-token-0123"  # the simulated phone's, bench only
AGENT_NUMBER = "+14155550100"
TARGET_P99_RATIO = 3.0  # turn p99 / floor p99
TARGET_PLAIN_STATEMENTS = 4  # the agent, the call, its transcript, one INSERT of both turns

# What callers say, mixed so that no call ends (or converts) before its last sentence.
POOLS = [
    ["How much does it cost?", "What comes with the system?", "How long does installation take?",
     "Do you offer a warranty?", "Is my roof suitable?"],
    ["Honestly that sounds too expensive for us.", "I need to think about it.",
     "I'm not sure I have the time for this right now."],
    ["Tell me more.", "Okay, go on.", "Hmm, I see."],
    ["Sorry, I was just making coffee.", "My neighbor got panels last year.", "We moved here in the spring."],
]  # fmt: skip
LAST_WORDS = "Okay, thanks for your time, goodbye."
GATHER_ACTION = re.compile(r'<Gather[^>]*\baction="([^"]+)"')


def caller_number(k: int) -> str:
    return f"+1212555{k % 10_000:04d}"


def caller_script(rng: random.Random, turns: int) -> list[str]:
    """``turns`` sentences taken in turn from each pool (shuffled), ending with a goodbye."""
    pools = [rng.sample(pool, len(pool)) for pool in POOLS]
    said = [pools[i % len(pools)][(i // len(pools)) % len(pools[i % len(pools)])] for i in range(max(turns - 1, 0))]
    rng.shuffle(said)
    return [*said, LAST_WORDS][-turns:] if turns else []


# --- the database and the app ------------------------------------------------------------------


def database_url_named(base_url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(base_url)._replace(path="/" + name))


def recreate_database(base_url: str, name: str, *, create: bool = True) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def app_environment(database_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "600",  # persistent connections, as in production
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
    client = client_signup(
        company_name="Sunrise Solar", email="bench@salesagents.local", password="bench-" + uuid.uuid4().hex,
        full_name="Bench Owner", timezone="America/New_York",
    ).client  # fmt: skip
    agent = agent_setup(
        client=client, name="Sarah", personality_type="friendly", phone_number=AGENT_NUMBER,
        business_info={"company_name": "Sunrise Solar", "product_description": "Rooftop solar with batteries"},
    )  # fmt: skip
    training_add(
        agent=agent, training_type="script",
        training_content="Hi, this is [NAME] from [COMPANY]. We help homeowners switch to solar with no upfront cost.",
    )  # fmt: skip
    training_add(
        agent=agent, training_type="product",
        product_details={"features": ["Tier-1 panels", "10 kWh battery"], "pricing": "$0 down, from $89/month",
                         "benefits": ["Lower bills", "25-year warranty"]},
    )  # fmt: skip
    training_add(
        agent=agent, training_type="objection_handling",
        objection_responses={"price_too_high": "With $0 down, most pay less each month than their old bill.",
                             "need_to_think": "Of course. Can I send you a quick savings estimate?"},
    )  # fmt: skip
    training_add(agent=agent, training_type="techniques", sales_techniques=["rapport_building", "trial_close"])
    training_add(
        agent=agent, training_type="faq",
        faq={"How long does installation take?": "One day after the permit.", "Do you offer a warranty?": "25 years."},
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_DDL)
    agent.refresh_from_db()
    if not agent.can_take_calls:
        raise SystemExit(f"The bench agent is not trained enough to take calls (level {agent.training_level}).")
    return str(agent.public_id)


class Gunicorn:
    """The app under gunicorn (gthread), in its own process group; stopped on exit."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.args = [
            sys.executable, "-m", "gunicorn", "salesagents.wsgi:application", "--chdir", str(ROOT),
            "--bind", f"127.0.0.1:{self.port}", "--worker-class", "gthread", "--workers", str(workers),
            "--threads", str(threads), "--keep-alive", "10", "--timeout", "30", "--log-level", "warning",
        ]  # fmt: skip
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
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

    def log_tail(self) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-40:])

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


# --- the load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: str  # "greeting", "turn", "floor"
    ms: float
    status: int
    statements: int | None  # X-Bench-Queries: Django's statements, BEGIN/COMMIT not counted


class Phone:
    """One caller's keep-alive connection, posting requests signed as Twilio signs them."""

    def __init__(self, port: int, samples: list[Sample]):
        self.port, self.samples = port, samples
        self.conn: http.client.HTTPConnection | None = None
        self.validator = RequestValidator(SIGNING_TOKEN)

    def post(self, kind: str, path: str, params: dict[str, str]) -> tuple[int, str]:
        params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **params}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(PUBLIC_BASE_URL + path, params),
        }
        for attempt in range(2):
            self.conn = self.conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, urllib.parse.urlencode(params), headers)
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the server closed an idle keep-alive connection: nothing was processed
                if attempt:
                    raise
                continue
            ms = (time.perf_counter() - started) * 1000
            statements = response.getheader("X-Bench-Queries")
            self.samples.append(Sample(kind, ms, response.status, int(statements) if statements else None))
            return response.status, body.decode("utf-8", "replace")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def next_turn_path(twiml: str) -> str | None:
    """The path of the ``<Gather action>`` Twilio would post the caller's next words to."""
    found = GATHER_ACTION.search(twiml)
    url = html.unescape(found.group(1)) if found else ""
    return url[len(PUBLIC_BASE_URL) :] if url.startswith(PUBLIC_BASE_URL) else None


def run_call(phone: Phone, agent_id: str, script: list[str], *, pause, number: str, problems: list[str]) -> None:
    """One inbound call: the greeting, then each sentence of ``script`` as a turn."""
    sid = "CA" + uuid.uuid4().hex
    status, twiml = phone.post(
        "greeting",
        f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": number, "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )
    path = next_turn_path(twiml) if status == 200 else None
    for i, sentence in enumerate(script):
        if path is None:
            problems.append(f"the call ended before turn {i + 1} (status {status}): {twiml[:200]}")
            return
        pause()
        params = {"CallSid": sid, "CallStatus": "in-progress", "SpeechResult": sentence, "Confidence": "0.92"}
        status, twiml = phone.post("turn", path, params)
        path = next_turn_path(twiml) if status == 200 else None


def run_floor_call(phone: Phone, agent_id: str, script: list[str], *, pause, problems: list[str]) -> None:
    """As many floor requests as a real call makes, with the same fields and pacing."""
    sid = "CA" + uuid.uuid4().hex
    for i, sentence in enumerate(["", *script]):
        if i:
            pause()
        params = {"CallSid": sid, "CallStatus": "in-progress"} | ({"SpeechResult": sentence} if sentence else {})
        status, body = phone.post("floor", f"/bench/floor/{agent_id}/?n={2 * i + 1}", params)
        if status != 200:
            problems.append(f"floor {status}: {body[:200]}")


def run_callers(port: int, agent_id: str, *, calls: int, turns: int, pause_s: float, seed: int) -> tuple[list, list]:
    """``calls`` real callers and ``calls`` floor callers at once, each pausing about ``pause_s`` (+-20%)."""
    samples: list[Sample] = []
    problems: list[str] = []

    def caller(index: int, floor: bool) -> None:
        rng = random.Random(seed + index * 2 + floor)
        script = caller_script(random.Random(seed + index), turns)  # the floor caller says what its twin says

        def pause() -> None:
            time.sleep(pause_s * rng.uniform(0.8, 1.2))

        phone = Phone(port, samples)
        try:
            time.sleep(rng.uniform(0, pause_s))  # arrivals spread over the first pause
            if floor:
                run_floor_call(phone, agent_id, script, pause=pause, problems=problems)
            else:
                run_call(phone, agent_id, script, pause=pause, number=caller_number(seed + index), problems=problems)
        except Exception as exc:  # noqa: BLE001 - reported with the figures, the run goes on
            problems.append(f"caller failed: {exc!r}")
        finally:
            phone.close()

    threads = [threading.Thread(target=caller, args=(i, f), daemon=True) for i in range(calls) for f in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120 + turns * pause_s * 3)
    return samples, problems


def other_programs_load(seconds: float = 1.0) -> float:
    """The share of all CPUs busy while the bench is idle: noise from other programs."""

    def ticks() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(values) - values[3] - values[4], sum(values)

    busy0, total0 = ticks()
    time.sleep(seconds)
    busy1, total1 = ticks()
    return (busy1 - busy0) / max(total1 - total0, 1)


# --- report --------------------------------------------------------------------------------------


def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def report(samples: list[Sample], problems: list[str]) -> tuple[list[str], bool]:
    ok = [s for s in samples if s.status == 200]
    by = {kind: [s for s in ok if s.kind == kind] for kind in ("turn", "floor", "greeting")}
    lines = [f"{'':12}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'statements':>12}"]
    for kind, got in by.items():
        ms = [s.ms for s in got]
        statements = [s.statements for s in got if s.statements is not None]
        mean = statistics.fmean(statements) if statements else float("nan")
        lines.append(f"{kind:12}{len(ms):>6}{pct(ms, 50):>9.2f}{pct(ms, 99):>9.2f}{mean:>12.2f}")
    turn, floor = [s.ms for s in by["turn"]], [s.ms for s in by["floor"]]
    r50, r99 = pct(turn, 50) / pct(floor, 50), pct(turn, 99) / pct(floor, 99)
    per_turn = Counter(s.statements for s in by["turn"])
    plain = min((n for n in per_turn if n is not None), default=0)
    ratio_ok, statements_ok = r99 <= TARGET_P99_RATIO, 0 < plain <= TARGET_PLAIN_STATEMENTS
    lines += [
        "",
        f"turn/floor: p50 {r50:.2f}x, p99 {r99:.2f}x   (target p99 <= {TARGET_P99_RATIO}x: "
        f"{'met' if ratio_ok else 'MISSED'})",
        "statements per turn (Django's, BEGIN/COMMIT not counted): "
        + ", ".join(f"{n} turns with {k}" for k, n in sorted(per_turn.items(), key=lambda kv: kv[0] or 0))
        + f"; a plain turn sends {plain}   (target <= {TARGET_PLAIN_STATEMENTS}: "
        f"{'met' if statements_ok else 'MISSED'})",
        f"{len(samples)} requests, {len(samples) - len(ok)} not 200, {len(problems)} problems",
        *(f"  problem: {p}" for p in problems[:10]),
    ]
    return lines, ratio_ok and statements_ok and not problems and len(ok) == len(samples)


def interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: gunicorn stopped, database dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server to create the bench database on (default: $DATABASE_URL)",
    )  # fmt: skip
    parser.add_argument("--db-name", default="salesagents_turn_bench", help="dropped and recreated on every run")
    parser.add_argument("--calls", type=int, default=50, help="concurrent callers (and as many floor callers)")
    parser.add_argument("--turns", type=int, default=10, help="things each caller says after the greeting")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between a caller's turns (+-20%%)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url / DATABASE_URL must be a PostgreSQL URL")

    started = time.monotonic()
    env = app_environment(database_url_named(args.database_url, args.db_name))
    print(f"Recreating database {args.db_name} and training an agent ...", flush=True)
    recreate_database(args.database_url, args.db_name)
    os.environ.update(env)
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a bench
    import django

    django.setup()
    from django.db import connection, connections

    server = Gunicorn(env, workers=args.workers, threads=args.threads)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        agent_id = set_up_data()
        version = connection.cursor().connection.info.server_version
        connections.close_all()
        server.start()
        # Unmeasured: opens every thread's database connection and imports everything.
        run_callers(server.port, agent_id, calls=args.workers * args.threads, turns=3, pause_s=0.05, seed=9_000)
        background = other_programs_load()
        print(f"Measuring: {args.calls} calls x {args.turns} turns beside {args.calls} floor callers ...", flush=True)
        samples, problems = run_callers(
            server.port, agent_id, calls=args.calls, turns=args.turns, pause_s=args.pause, seed=0
        )
        lines, ok = report(samples, problems)
        print(
            f"\nturn_latency: gunicorn gthread {args.workers}x{args.threads}, PostgreSQL {version // 10000}, "
            f"{os.cpu_count()} CPUs shared with the load generator; other programs kept them {background:.0%} busy"
        )
        print("\n".join(lines))
        print(f"Total {time.monotonic() - started:.0f} s.")
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception:
        print("\ngunicorn log tail:\n" + server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        server.log.close()
        connections.close_all()
        with contextlib.suppress(Exception):
            recreate_database(args.database_url, args.db_name, create=False)
    if problems or not all(s.status == 200 for s in samples):
        return 2
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
