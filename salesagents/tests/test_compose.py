"""docker-compose.yml works as written: each service's own command, run against PostgreSQL and Redis.

Docker is not needed: the test reads the compose file, interpolates its ``${VAR:-default}``
values as compose does, points the service host names (postgres, redis) at the test servers and
a fresh database, and runs the commands from the project directory in compose's order:
``migrate`` to completion, then web (answers /health), worker (ready, and runs a task sent
through Redis, logging JSON with the sender's request id) and beat (started, the periodic tasks
in django-celery-beat's tables).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings
from django_guid import clear_guid, set_guid
from kombu.utils.url import as_url
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from calls.management.commands.setup_periodic_tasks import PERIODIC_TASKS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
START_SECONDS = 40  # the slowest start (the web server importing Django) is ~5 s here


def interpolate(value: str, shell: dict) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` and ``$$``."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if shell.get(name):
            return shell[name]
        if op == ":?":
            raise AssertionError(f"compose would refuse to start: {arg}")
        return arg or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value)).replace("$$", "$")


def service_env(name: str, shell: dict, servers: dict) -> dict:
    environment = {key: interpolate(value, shell) for key, value in COMPOSE["services"][name]["environment"].items()}
    # The containers reach "postgres" and "redis" by name; here they are the test's servers.
    environment.update(servers)
    return {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp"),
            **environment}  # fmt: skip


def start(name: str, env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            shlex.split(COMPOSE["services"][name]["command"]), cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to every process group at once (each shuts down warm, in parallel), then wait."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for(check, what: str, process: subprocess.Popen, log: Path, deadline: float):
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        assert process.poll() is None, f"{what}: exited {process.returncode}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {START_SECONDS} s\n{log.read_text(errors='replace')[-3000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_database():
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    name = f"compose_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432, "user": db.get("USER"),
              "password": db.get("PASSWORD") or None}  # fmt: skip
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = as_url("postgres", host=server["host"], port=int(server["port"]), user=server["user"],
                 password=server["password"], path=name)  # fmt: skip
    yield url, {**server, "dbname": name}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_services_start_after_migrate_and_postgres_and_redis_are_healthy():
    services = COMPOSE["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert "setup_periodic_tasks" in services["migrate"]["command"]
    assert services["postgres"]["healthcheck"]["test"] and services["redis"]["healthcheck"]["test"]
    assert services["web"]["command"].startswith("uvicorn salesagents.asgi:application")


def test_each_service_runs_its_own_command(fresh_database, tmp_path, settings):
    database_url, connect = fresh_database
    settings.CELERY_TASK_ALWAYS_EAGER = False  # this test sends a task through Redis to the worker
    shell = {"SECRET_KEY": "compose-test-secret-key-" + uuid.uuid4().hex, "FIELD_ENCRYPTION_KEY": uuid.uuid4().hex,
             "PUBLIC_BASE_URL": "https://agents.example.com", "WEB_CONCURRENCY": "1"}  # fmt: skip
    servers = {"DATABASE_URL": database_url, "REDIS_URL": settings.REDIS_URL}

    migrate = subprocess.run(
        shlex.split(COMPOSE["services"]["migrate"]["command"]), cwd=ROOT, env=service_env("migrate", shell, servers),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-3000:]
    with psycopg.connect(**connect) as conn:
        tasks = dict(conn.execute("SELECT name, task FROM django_celery_beat_periodictask WHERE enabled").fetchall())
    assert {spec.name: spec.task for spec in PERIODIC_TASKS}.items() <= tasks.items()

    port = free_port()
    listen = {"UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(port)}  # compose's are 0.0.0.0:8000
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker", "beat")}
    processes = {
        "web": start("web", {**service_env("web", shell, servers), **listen}, logs["web"]),
        "worker": start("worker", service_env("worker", shell, servers), logs["worker"]),
        "beat": start("beat", service_env("beat", shell, servers), logs["beat"]),
    }
    try:
        deadline = time.monotonic() + START_SECONDS

        def health():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    return json.loads(response.read())
            except OSError:
                return None

        body = wait_for(health, "web /health", processes["web"], logs["web"], deadline)
        assert (body["database"]["status"], body["broker"]["status"], body["broker"]["transport"]) == (
            "ok", "ok", "redis"
        )  # fmt: skip

        # The same process serves the ConversationRelay socket: an unsigned handshake is refused.
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(f"ws://127.0.0.1:{port}/relay/{uuid.uuid4()}/", open_timeout=5)
        assert refused.value.response.status_code == 403

        wait_for(lambda: b" ready." in logs["worker"].read_bytes(), "worker ready", processes["worker"],
                 logs["worker"], deadline)  # fmt: skip
        # A task sent through Redis the way a request sends one: the worker runs it and its JSON
        # log line names the sender's request id.
        from calls.tasks import learn_outcomes

        request_id = uuid.uuid4().hex
        set_guid(request_id)
        try:
            learn_outcomes.apply_async()
        finally:
            clear_guid()

        def task_line():
            for line in logs["worker"].read_text(errors="replace").splitlines():
                if line.startswith("{") and "calls.learn_outcomes" in line and "succeeded" in line:
                    return json.loads(line)
            return None

        line = wait_for(task_line, "worker runs calls.learn_outcomes", processes["worker"], logs["worker"], deadline)
        assert line["request_id"] == request_id and line["level"] == "INFO"

        wait_for(lambda: b"beat: Starting" in logs["beat"].read_bytes(), "beat started", processes["beat"],
                 logs["beat"], deadline)  # fmt: skip
        time.sleep(1)
        assert processes["beat"].poll() is None, logs["beat"].read_text(errors="replace")[-3000:]
    finally:
        stop(list(processes.values()))
