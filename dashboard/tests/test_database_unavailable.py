"""While the database is unreachable the API answers its JSON error shape with 503, and pages a plain 503.

The outage is simulated where the first read of a request happens; the real one (PostgreSQL
stopped under a running server) is calls/tests/test_outage_postgres.py.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _database_down(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_an_api_read_during_an_outage_is_the_json_error_with_503(api_a, agent_a, monkeypatch):
    from calls import api

    monkeypatch.setattr(api, "call_list", _database_down)
    response = api_a.get("/api/calls/")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["error"]["code"] == "unavailable"


def test_the_token_lookup_failing_is_the_json_error_with_503_too(user_a, agent_a, monkeypatch):
    from knox.auth import TokenAuthentication

    _, token = AuthToken.objects.create(user=user_a)
    monkeypatch.setattr(TokenAuthentication, "authenticate_credentials", _database_down)
    response = APIClient().get("/api/calls/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": "The service is briefly unavailable. Please retry in a few seconds.",
    }


def test_a_dashboard_page_during_an_outage_is_a_plain_503(client, user_a, agent_a, monkeypatch):
    from dashboard.views import calls as views_calls

    client.force_login(user_a)
    monkeypatch.setattr(views_calls, "call_list", _database_down)
    response = client.get("/calls/")
    assert response.status_code == 503
    assert b"briefly unavailable" in response.content
