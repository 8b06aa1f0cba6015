import pytest
from django.db import connection

from accounts.models import Client


@pytest.mark.django_db
def test_twilio_auth_token_is_encrypted_at_rest():
    client = Client.objects.create(
        name="Acme", slug="acme", twilio_subaccount_sid="AC1", twilio_auth_token="s3cr3t-token"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT twilio_auth_token FROM accounts_client WHERE id = %s", [client.pk])
        stored = cursor.fetchone()[0]
    assert "s3cr3t-token" not in stored
    assert Client.objects.get(pk=client.pk).twilio_auth_token == "s3cr3t-token"


@pytest.mark.django_db
def test_old_key_still_decrypts_after_rotation(settings):
    client = Client.objects.create(name="Acme", slug="acme", twilio_auth_token="rotate-me")
    settings.FIELD_ENCRYPTION_KEYS = ["a-brand-new-key", *settings.FIELD_ENCRYPTION_KEYS]
    assert Client.objects.get(pk=client.pk).twilio_auth_token == "rotate-me"
