"""Every settings change through the API is recorded with who made it; secrets are masked."""

from __future__ import annotations

import pytest

from accounts.models import SettingChange
from accounts.services import client_twilio_credentials_set

pytestmark = pytest.mark.django_db


def test_api_changes_to_the_policy_and_the_agent_are_recorded_with_the_user(api_a, user_a, agent_a):
    assert api_a.patch("/api/account/settings/", {"daily_call_limit": 40}, format="json").status_code == 200
    assert api_a.patch("/api/agents/ai/", {"working_hours_end": "17:00"}, format="json").status_code == 200

    rows = {(c.area, c.field, c.old_value, c.new_value, c.changed_by_id) for c in SettingChange.objects.all()}
    assert rows == {
        ("policy", "daily_call_limit", "200", "40", user_a.pk),
        ("agent", "working_hours_end", "18:00", "17:00", user_a.pk),
    }


def test_an_unchanged_value_and_a_refused_change_leave_no_row(api_a, agent_a):
    api_a.patch("/api/account/settings/", {"daily_call_limit": 200}, format="json")
    refused = api_a.patch("/api/agents/ai/", {"working_hours_start": "19:00"}, format="json")

    assert refused.status_code in (400, 422)
    assert not SettingChange.objects.exists()


def test_the_auth_token_is_recorded_masked(client_a, user_a):
    client_twilio_credentials_set(
        client=client_a, account_sid="AC" + "5" * 32, auth_token="s3cret" * 5, changed_by=user_a
    )

    token = SettingChange.objects.get(field="twilio_auth_token")
    assert (token.old_value, token.new_value) == ("—", "••••••")
    assert not SettingChange.objects.filter(new_value__contains="s3cret").exists()
