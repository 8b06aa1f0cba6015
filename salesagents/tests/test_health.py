"""/health tells a load balancer (and an operator) which dependency is down, and answers fast."""

from __future__ import annotations

import socket

import pytest
from django.db import connection

from salesagents.celery import app as celery_app

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_health_reports_database_and_broker(client):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["failed"]) == ("ok", [])
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "ok"


def test_an_unreachable_broker_is_a_503_naming_the_broker(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{_closed_port()}/0")

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["failed"]) == ("degraded", ["broker"])
    assert body["broker"]["status"] == "error"
    assert body["database"]["status"] == "ok"
    assert body["broker"]["latency_ms"] < 3000


def test_a_failing_database_is_a_503_naming_the_database(client, monkeypatch):
    def refuse(*args, **kwargs):
        # What the driver raises when the server has gone away.
        raise connection.Database.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "create_cursor", refuse)

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert (body["failed"], body["database"]["status"], body["database"]["error"]) == (
        ["database"],
        "error",
        "OperationalError",
    )
    assert body["broker"]["status"] == "ok"
