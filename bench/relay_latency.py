#!/usr/bin/env python
"""ConversationRelay turn latency under uvicorn + PostgreSQL, beside the <Gather> path, same fake LLM.

    .venv/bin/python bench/relay_latency.py [--calls 100] [--prompts 10] [--find-max]

What it does, all on 127.0.0.1:

1. Recreates its own PostgreSQL database (``--db-name`` on the server of ``DATABASE_URL``),
   migrates it and trains a relay-mode agent (bench/turn_latency.py's set-up).
2. Starts a fake OpenAI-compatible server in a process of its own: a streamed answer's first
   token after ``--first-token`` s, then ``--tokens`` tokens at ``--rate`` tokens/s; a whole
   (non-streamed) answer after the time the stream takes to finish, as a real model would.
3. Starts the app under uvicorn (``salesagents.asgi``, the production settings, openai provider).
4. Relay: ``--calls`` concurrent calls dial in (the signed incoming webhook), open the signed
   ConversationRelay socket and say ``--prompts`` things each, about ``--pause`` s apart,
   measuring prompt -> first text token and prompt -> ``last: true``.
5. Gather, after it: ``--gather-calls`` concurrent calls through the turn webhook, measuring
   prompt -> TwiML (the caller's first word comes after that, once the TwiML is synthesised).
6. Prints the figures against the targets; ``--find-max`` then doubles the relay calls until
   the overhead leaves the target. Stops uvicorn and the fake, and drops the database.

"Overhead" is prompt -> first token sent minus the fake model's own first-token time (its
first content chunk comes one token interval after the headers, as OpenAI's do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from bench.turn_latency import (  # noqa: E402
    AGENT_NUMBER,
    PUBLIC_BASE_URL,
    SIGNING_TOKEN,
    app_environment,
    caller_number,
    caller_script,
    database_url_named,
    pct,
    recreate_database,
    set_up_data,
)

RELAY_BASE_URL = "wss://bench.local"
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO, TARGET_CALLS = 15.0, 50.0, 3.0, 500
ANSWER = (
    "Our panels start at eighty nine dollars a month with nothing down, and most homeowners pay less than "
    "their old bill from the first month, so would you like a free roof assessment this week?"
)
ANSWER_WORDS = ANSWER.split(" ")


# --- the fake model, in its own process --------------------------------------------------------


def _serve_fake_llm(first_token_s: float, tokens: int, rate: float, port_out) -> None:
    from integrations.tests.fake_openai import Canned, FakeOpenAIServer, completion, stream_tool_chunks

    words = [(" " if i else "") + ANSWER_WORDS[i % len(ANSWER_WORDS)] for i in range(tokens)]
    words[-1] += "?"
    server = FakeOpenAIServer()
    server.respond_when(
        lambda body: bool(body.get("stream")),
        Canned(sse=stream_tool_chunks(*words), delay_s=first_token_s, trickle_s=1.0 / rate),
    )
    server.default = Canned(body=completion("".join(words)), delay_s=first_token_s + tokens / rate)
    server.requests = _Forgetful()  # 100s of thousands of requests: keep no history
    with server:
        port_out.send(server.base_url)
        threading.Event().wait()  # until terminate()


class _Forgetful(list):
    def append(self, item) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, from /proc."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- the app -----------------------------------------------------------------------------------


class Uvicorn:
    def __init__(self, env: dict[str, str], *, workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.args = [
            sys.executable, "-m", "uvicorn", "salesagents.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
            "--ws", "websockets-sansio", "--no-access-log",
        ]  # fmt: skip
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 40.0) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("uvicorn did not answer /health in time")

    def pids(self) -> list[int]:
        found = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        found.append(int(entry.name))
        return found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


# --- callers -----------------------------------------------------------------------------------


@dataclass
class Results:
    first_ms: list[float] = field(default_factory=list)
    last_ms: list[float] = field(default_factory=list)
    twiml_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _signed_post(port: int, path: str, params: dict[str, str]) -> tuple[int, str, float]:
    params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **params}
    signature = RequestValidator(SIGNING_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    body = urllib.parse.urlencode(params)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": signature})  # fmt: skip
    response = conn.getresponse()
    text = response.read().decode()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return response.status, text, elapsed


async def relay_call(port: int, agent_id: str, k: int, prompts: int, pause: float, results: Results) -> None:
    from websockets.asyncio.client import connect

    rng = random.Random(k)
    sid = "CA" + uuid.uuid4().hex
    await asyncio.sleep(rng.uniform(0, pause))  # callers do not all dial at the same instant
    status, _, _ = await asyncio.to_thread(
        _signed_post, port, f"/webhooks/twilio/{agent_id}/incoming/",
        {"CallSid": sid, "From": caller_number(k), "To": AGENT_NUMBER, "Direction": "inbound", "CallStatus": "ringing"},
    )  # fmt: skip
    if status != 200:
        results.errors.append(f"incoming answered {status}")
        return
    path = f"/relay/{agent_id}/"
    signature = RequestValidator(SIGNING_TOKEN).compute_signature(RELAY_BASE_URL + path, {})
    async with connect(f"ws://127.0.0.1:{port}{path}", additional_headers={"X-Twilio-Signature": signature},
                       open_timeout=30, max_queue=None) as socket:  # fmt: skip
        await socket.send(json.dumps({"type": "setup", "callSid": sid, "from": caller_number(k), "to": AGENT_NUMBER}))
        for words in caller_script(rng, prompts):
            await asyncio.sleep(pause * rng.uniform(0.7, 1.3))
            started = time.perf_counter()
            await socket.send(json.dumps({"type": "prompt", "voicePrompt": words, "lang": "en-US", "last": True}))
            first = None
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if message["type"] == "end":
                    return
                if first is None and message.get("token"):
                    first = (time.perf_counter() - started) * 1000
                if message.get("last"):
                    break
            results.first_ms.append(first if first is not None else float("nan"))
            results.last_ms.append((time.perf_counter() - started) * 1000)


async def relay_run(port: int, agent_id: str, calls: int, prompts: int, pause: float) -> Results:
    results = Results()
    outcomes = await asyncio.gather(
        *(relay_call(port, agent_id, k, prompts, pause, results) for k in range(calls)), return_exceptions=True
    )
    results.errors += [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return results


async def gather_call(port: int, agent_id: str, k: int, prompts: int, pause: float, results: Results) -> None:
    rng = random.Random(10_000 + k)
    sid = "CA" + uuid.uuid4().hex
    await asyncio.sleep(rng.uniform(0, pause))
    base = {"CallSid": sid, "From": caller_number(50_000 + k), "To": AGENT_NUMBER, "Direction": "inbound"}
    await asyncio.to_thread(_signed_post, port, f"/webhooks/twilio/{agent_id}/incoming/",
                            {**base, "CallStatus": "ringing"})  # fmt: skip
    n = 1
    for words in caller_script(rng, prompts):
        await asyncio.sleep(pause * rng.uniform(0.7, 1.3))
        status, _, elapsed = await asyncio.to_thread(
            _signed_post, port, f"/webhooks/twilio/{agent_id}/turn/?n={n}",
            {**base, "CallStatus": "in-progress", "SpeechResult": words, "Confidence": "0.9"},
        )  # fmt: skip
        if status != 200:
            results.errors.append(f"turn answered {status}")
            return
        results.twiml_ms.append(elapsed)
        n += 2


async def gather_run(port: int, agent_id: str, calls: int, prompts: int, pause: float) -> Results:
    results = Results()
    outcomes = await asyncio.gather(
        *(gather_call(port, agent_id, k, prompts, pause, results) for k in range(calls)), return_exceptions=True
    )
    results.errors += [repr(o) for o in outcomes if isinstance(o, BaseException)]
    return results


def figures(label: str, values: list[float]) -> str:
    return f"  {label:<28s} p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms"


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between a caller's prompts (+-30 %%)")
    parser.add_argument("--gather-calls", type=int, default=20)
    parser.add_argument("--first-token", type=float, default=0.3)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--rate", type=float, default=40.0, help="the fake model's tokens per second")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--find-max", action="store_true", help="then double the relay calls up to --max-calls")
    parser.add_argument("--max-calls", type=int, default=800)
    parser.add_argument("--db-name", default="salesagents_relay_bench")
    args = parser.parse_args(argv)

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database_url = database_url_named(base_url, args.db_name)
    recreate_database(base_url, args.db_name)
    env = app_environment(database_url)
    os.environ.update(env)
    import django

    django.setup()
    from agents.models import AIAgent

    agent_id = set_up_data()
    AIAgent.objects.update(voice_mode=AIAgent.VoiceMode.RELAY)
    from django.db import connections

    connections.close_all()

    receive, send = multiprocessing.Pipe(duplex=False)
    fake = multiprocessing.Process(target=_serve_fake_llm, args=(args.first_token, args.tokens, args.rate, send))
    fake.start()
    llm_url = receive.recv()
    env |= {"LLM_PROVIDER": "openai", "OPENAI_API_KEY": "bench", "OPENAI_MODEL": "bench-model",
            "OPENAI_BASE_URL": llm_url, "RELAY_BASE_URL": RELAY_BASE_URL,
            "RELAY_SPEECH_CHARS_PER_SECOND": "100000"}  # fmt: skip
    log_path = Path(tempfile.mkstemp(prefix="relay_bench_uvicorn_", suffix=".log")[1])
    server = Uvicorn(env, workers=args.workers, log_path=log_path)
    model_first_ms = (args.first_token + 1.0 / args.rate) * 1000
    model_whole_ms = (args.first_token + args.tokens / args.rate) * 1000
    try:
        server.start()
        print(
            f"uvicorn {args.workers} worker(s) on 127.0.0.1:{server.port}; fake model: first token "
            f"{model_first_ms:.0f} ms, {args.tokens} tokens at {args.rate:g}/s (whole answer {model_whole_ms:.0f} ms)"
        )
        asyncio.run(relay_run(server.port, agent_id, 3, 2, 0.2))  # warm-up: imports, connections

        cpu_before = cpu_seconds(server.pids())
        relay = asyncio.run(relay_run(server.port, agent_id, args.calls, args.prompts, args.pause))
        relay_cpu = (cpu_seconds(server.pids()) - cpu_before) / max(len(relay.last_ms), 1) * 1000
        cpu_before = cpu_seconds(server.pids())
        gather = asyncio.run(gather_run(server.port, agent_id, args.gather_calls, args.prompts, args.pause))
        gather_cpu = (cpu_seconds(server.pids()) - cpu_before) / max(len(gather.twiml_ms), 1) * 1000

        overhead = [v - model_first_ms for v in relay.first_ms]
        turns, errors = len(relay.first_ms), len(relay.errors)
        print(f"\nrelay, {args.calls} concurrent calls x {args.prompts} prompts ({turns} turns, {errors} errors)")
        print(figures("prompt -> first token sent", relay.first_ms))
        print(figures(f"our overhead (minus the model's {model_first_ms:.0f} ms)", overhead))
        print(f"    targets: p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms")
        print(figures("prompt -> last token", relay.last_ms))
        print(f"  CPU per turn (uvicorn)      {relay_cpu:.2f} ms")
        turns, errors = len(gather.twiml_ms), len(gather.errors)
        print(f"gather, {args.gather_calls} concurrent calls ({turns} turns, {errors} errors)")
        print(figures("prompt -> TwiML", gather.twiml_ms))
        print(f"  CPU per turn (uvicorn)      {gather_cpu:.2f} ms")
        ratio = pct(gather.twiml_ms, 50) / pct(relay.first_ms, 50)
        print(f"time to first word, gather / relay (p50): {ratio:.1f}x (target >= {TARGET_RATIO:g}x; gather's "
              "TwiML must still be synthesised, so the caller's real gap is larger)")  # fmt: skip
        for errors in (relay.errors, gather.errors):
            for error in errors[:5]:
                print("  error:", error)

        if args.find_max:
            held, calls = 0, args.calls
            while calls <= args.max_calls:
                run = asyncio.run(relay_run(server.port, agent_id, calls, min(args.prompts, 5), args.pause))
                over = [v - model_first_ms for v in run.first_ms]
                p50, p99 = pct(over, 50), pct(over, 99)
                ok = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and not run.errors
                print(f"  {calls:4d} concurrent relay calls: overhead p50 {p50:6.1f} ms p99 {p99:6.1f} ms"
                      f" errors {len(run.errors)} -> {'within' if ok else 'outside'} the target")  # fmt: skip
                if not ok:
                    break
                held, calls = calls, calls * 2
            print(f"largest number of concurrent relay calls within the target: {held} (target >= {TARGET_CALLS})")
    finally:
        server.stop()
        fake.terminate()
        fake.join(10)
        connections.close_all()
        recreate_database(base_url, args.db_name, create=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
