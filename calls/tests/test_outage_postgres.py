"""PostgreSQL stopped under a running server: callers hear a polite goodbye, callbacks get 503,
the API its JSON 503; when the database returns, the next requests are served at once.

The test starts its own throwaway cluster (initdb/pg_ctl, on a free port, in a temporary
directory) and a gunicorn process on it, so stopping that cluster disturbs nobody else.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.db import connection
from twilio.request_validator import RequestValidator

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_BASE_URL = "https://agents.example.com"
PHONE_TOKEN = "outage-test-phone-token-0123456789"
SETUP = """
import json
from knox.models import AuthToken
from accounts.tests.factories import ClientFactory, UserFactory
from agents.tests.factories import AIAgentFactory
client = ClientFactory(name="Acme Solar", slug="acme-solar")
user = UserFactory(client=client, email="owner@acme.test", role="owner")
agent = AIAgentFactory(client=client, name="Sarah", phone_number="+14155550100", training_level=85, status="active")
print(json.dumps({"agent": str(agent.public_id), "token": AuthToken.objects.create(user=user)[1]}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres() -> dict:
    """PostgreSQL refuses to run as root: the cluster's commands run as the postgres user then."""
    return {"user": "postgres"} if os.geteuid() == 0 else {}


class Cluster:
    def __init__(self, bin_dir: Path, data: Path, port: int):
        self.bin, self.data, self.port = bin_dir, data, port

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"), "-o", options]
        subprocess.run(
            [*command, "-w", "-t", "30", *args], check=True, capture_output=True, timeout=60, **_as_postgres()
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the outage is PostgreSQL's")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no initdb to start a throwaway PostgreSQL cluster")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="sa-outage-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True, timeout=120, **_as_postgres(),
    )  # fmt: skip
    db = Cluster(bin_dir, data, _free_port())
    db.pg_ctl("start")
    try:
        yield db
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60, **_as_postgres(),
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def server(cluster):
    """gunicorn on a port it picks itself, on the throwaway cluster, migrated, with one client and agent."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "salesagents.test_settings", "DATABASE_URL": cluster.url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TELEPHONY_BACKEND": "simulated", "LLM_PROVIDER": "scripted",
        "SIMULATED_PHONE_AUTH_TOKEN": PHONE_TOKEN, "CELERY_TASK_ALWAYS_EAGER": "true", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    made = subprocess.run(
        [*manage, "shell", "-c", SETUP], env=env, cwd=ROOT, check=True, capture_output=True, text=True, timeout=120
    )
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "salesagents.wsgi", "--bind", "127.0.0.1:0", "--workers", "1", "--timeout", "30"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if "Listening at:" in line:
                port = int(line.rsplit(":", 1)[1].split()[0].rstrip(")"))
        assert port, "gunicorn did not start"
        yield Server(f"http://127.0.0.1:{port}", ids["agent"], ids["token"], cluster)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class Server:
    def __init__(self, base: str, agent: str, token: str, cluster: Cluster):
        self.base, self.agent, self.token, self.cluster = base, agent, token, cluster

    def request(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, str, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # As behind the TLS-terminating proxy PUBLIC_BASE_URL names (else the https redirect answers).
        headers = {"X-Forwarded-Proto": "https", **(headers or {})}
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read()

    def webhook(self, name: str, params: dict, query: str = "") -> tuple[int, str, bytes]:
        path = f"/webhooks/twilio/{self.agent}/{name}/{query}"
        signature = RequestValidator(PHONE_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
        return self.request(path, params, {"X-Twilio-Signature": signature})

    def call(self, call_sid: str) -> tuple[int, str, bytes]:
        params = {"CallSid": call_sid, "From": "+12125550123", "To": "+14155550100", "CallStatus": "ringing"}
        return self.webhook("incoming", params)

    def status(self, call_sid: str) -> int:
        return self.webhook("status", {"CallSid": call_sid, "CallStatus": "completed", "SequenceNumber": "5"})[0]

    def api_calls(self) -> tuple[int, str, bytes]:
        return self.request("/api/calls/", headers={"Authorization": f"Token {self.token}"})


def verbs(answer: tuple[int, str, bytes]) -> set[str]:
    assert answer[1].startswith("text/xml"), answer
    return {e.tag for e in ET.fromstring(answer[2]).iter()}


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def test_a_database_outage_ends_calls_politely_answers_503_and_recovers_at_once(server):
    first = new_sid()
    greeting = server.call(first)
    assert greeting[0] == 200 and "Gather" in verbs(greeting)
    assert server.api_calls()[0] == 200

    server.cluster.pg_ctl("-m", "immediate", "stop")
    during = new_sid()
    for sid in (first, during):  # a call in progress (its turn) and a new one
        answer = server.webhook("turn", {"CallSid": sid, "SpeechResult": "Hello?"}, "?n=1") if sid == first else None
        answer = answer or server.call(sid)
        assert answer[0] == 200 and "Hangup" in verbs(answer) and "Gather" not in verbs(answer)
    assert server.status(first) == 503
    api = server.api_calls()
    assert api[0] == 503 and api[1].startswith("application/json")
    assert json.loads(api[2])["error"]["code"] == "unavailable"

    server.cluster.pg_ctl("start")
    back = time.monotonic()
    assert server.call(new_sid())[0] == 200 and server.api_calls()[0] == 200
    assert server.status(first) == 204
    assert time.monotonic() - back < 1.0
