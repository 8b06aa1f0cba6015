"""Served over https, every door insists on https (issue 11, finding 8).

With an https PUBLIC_BASE_URL and DEBUG off: HSTS, secure cookies, and a redirect of plain http
to https that believes the proxy's X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER), so a request the
proxy received over https is served, not bounced.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_YEAR = 31_536_000


def _settings(public_base_url: str, debug: str = "0") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_COOKIE_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "salesagents.settings",
        "DEBUG": debug,
        "SECRET_KEY": "transport-test-secret",
        "FIELD_ENCRYPTION_KEY": "transport-test-key",
        "PUBLIC_BASE_URL": public_base_url,
    }
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k)"
        " for k in ['SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        " 'SECURE_PROXY_SSL_HEADER']}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_https_public_url_turns_on_hsts_redirect_and_secure_cookies():
    on = _settings("https://agents.example.com")
    assert on == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": ONE_YEAR,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


@pytest.mark.parametrize(("url", "debug"), [("http://127.0.0.1:8000", "0"), ("https://agents.example.com", "1")])
def test_plain_http_or_debug_keeps_them_off(url, debug):
    off = _settings(url, debug)
    assert off["SECURE_SSL_REDIRECT"] is False
    assert off["SECURE_HSTS_SECONDS"] == 0
    assert off["SESSION_COOKIE_SECURE"] is False


@pytest.fixture
def over_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = ONE_YEAR
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(client, over_https):
    response = client.get("/login/?next=/calls/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/?next=/calls/"


@pytest.mark.django_db
def test_https_at_the_proxy_is_served_with_hsts_and_a_csp(client, over_https):
    response = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response.cookies["csrftoken"]["secure"] is True


@pytest.mark.django_db
def test_the_health_check_is_not_redirected(client, over_https):
    assert client.get("/health").status_code == 200
