"""Twilio's webhooks keep working behind the https proxy once plain http is redirected."""

import pytest
from django.test import Client

from calls.models import CallSession
from calls.tests.conftest import TwilioSim

pytestmark = pytest.mark.django_db


@pytest.fixture
def over_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000


def test_a_signed_webhook_forwarded_by_the_https_proxy_is_answered_not_redirected(over_https, trained_agent):
    # Twilio does not follow a redirect of its POST: a 301 here would drop the call.
    sim = TwilioSim(Client(HTTP_X_FORWARDED_PROTO="https"), trained_agent)

    response = sim.incoming()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml") or response["Content-Type"].startswith("application/xml")
    assert "<Say" in response.content.decode()
    assert CallSession.objects.filter(twilio_call_sid=sim.call_sid).exists()


def test_a_webhook_reaching_the_app_over_plain_http_is_redirected(over_https, trained_agent):
    sim = TwilioSim(Client(), trained_agent)
    assert sim.incoming().status_code == 301
    assert not CallSession.objects.filter(twilio_call_sid=sim.call_sid).exists()
