"""Secrets are write-only in the admin: staff see whether one is set and can replace it."""

import pytest
from django.urls import reverse

from accounts.models import Client

pytestmark = pytest.mark.django_db

TOKEN = "f00dfeedcafe0123456789abcdef4242"


@pytest.fixture
def subaccount_client(client_a):
    client_a.twilio_subaccount_sid = "AC" + "1" * 32
    client_a.twilio_auth_token = TOKEN
    client_a.save()
    return client_a


def _change_url(obj):
    return reverse("admin:accounts_client_change", args=[obj.pk])


def test_client_change_page_never_shows_the_twilio_auth_token(client, staff_user, subaccount_client):
    client.force_login(staff_user)

    page = client.get(_change_url(subaccount_client))

    assert page.status_code == 200
    html = page.content.decode()
    assert TOKEN not in html
    assert "Twilio auth token" in html and ">set<" in html


def test_no_admin_page_renders_the_token(client, staff_user, subaccount_client):
    client.force_login(staff_user)
    for url in [
        reverse("admin:accounts_client_changelist"),
        reverse("admin:accounts_client_history", args=[subaccount_client.pk]),
        reverse("admin:accounts_client_delete", args=[subaccount_client.pk]),
    ]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert TOKEN not in page.content.decode(), url


def _post_change(client, obj, **extra):
    data = {
        "name": obj.name,
        "slug": obj.slug,
        "timezone": obj.timezone,
        "twilio_subaccount_sid": obj.twilio_subaccount_sid,
        "transfer_phone_number": "",
        "daily_call_limit": obj.daily_call_limit,
        "disclosure_enabled": "on",
        "disclosure_text": obj.disclosure_text,
        **extra,
    }
    return client.post(_change_url(obj), data)


def test_staff_keep_replace_or_remove_the_token(client, staff_user, subaccount_client):
    client.force_login(staff_user)

    assert _post_change(client, subaccount_client).status_code == 302
    assert Client.objects.get(pk=subaccount_client.pk).twilio_auth_token == TOKEN

    assert _post_change(client, subaccount_client, new_twilio_auth_token="a-new-token").status_code == 302
    assert Client.objects.get(pk=subaccount_client.pk).twilio_auth_token == "a-new-token"

    assert _post_change(client, subaccount_client, clear_twilio_auth_token="on").status_code == 302
    assert Client.objects.get(pk=subaccount_client.pk).twilio_auth_token == ""
    assert ">not set<" in client.get(_change_url(subaccount_client)).content.decode()
