"""The settings pages through HTTP: each change saved through its service and recorded with who made it,
bad input refused with a message on the field, another client never touched, Twilio through the SDK."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Client, SettingChange
from agents.models import AIAgent
from calls.models import CallSession
from calls.tests.conftest import fake_twilio, trained_agent  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
AGENT_PAGE = "/settings/agent/"
POLICY_PAGE = "/settings/policy/"
TELEPHONY_PAGE = "/settings/telephony/"
OWN_SID = "AC" + "3" * 32
OWN_TOKEN = "f" * 32
NY = ZoneInfo("America/New_York")


def agent_form(**overrides) -> dict:
    return {
        "agent_name": "Sarah",
        "personality_type": "professional",
        "language": "en-US",
        "voice_model": "Polly.Matthew-Neural",
        "working_hours_start": "10:00",
        "working_hours_end": "16:30",
        "transfer_phone_number": "(415) 555-0199",
        "voicemail_message": "Hi, Sarah from Acme Solar. Call us back any time.",
        **overrides,
    }


def policy_form(**overrides) -> dict:
    return {
        "timezone": "America/Chicago",
        "daily_call_limit": "50",
        "disclosure_enabled": "on",
        "disclosure_text": "You are speaking with Acme's AI assistant.",
        "recording_enabled": "",
        **overrides,
    }


# --- agent ---------------------------------------------------------------------------------------------


def test_agent_settings_change_and_are_recorded_with_who_changed_them(page_a, agent_a, user_a):
    page = page_a.get(AGENT_PAGE)
    assert page.status_code == 200
    assert b"Polly.Joanna-Neural" in page.content and b"Polly.Ruth-Neural" in page.content

    response = page_a.post(AGENT_PAGE, agent_form(), follow=True)

    assert b"Agent settings saved." in response.content
    agent_a.refresh_from_db()
    assert (agent_a.personality_type, agent_a.voice_model) == ("professional", "Polly.Matthew-Neural")
    assert (agent_a.working_hours_start, agent_a.working_hours_end) == (time(10), time(16, 30))
    assert agent_a.voicemail_message.startswith("Hi, Sarah from Acme Solar")
    assert agent_a.client.transfer_phone_number == "+14155550199"
    hours = SettingChange.objects.get(client=agent_a.client, field="working_hours_start")
    assert (hours.changed_by, hours.old_value, hours.new_value, hours.area) == (user_a, "09:00", "10:00", "agent")
    # The page shows the trail.
    assert b"owner@acme.test" in response.content and b"working_hours_start" in response.content


def test_working_hours_that_end_before_they_start_are_refused_and_nothing_changes(page_a, agent_a):
    response = page_a.post(AGENT_PAGE, agent_form(working_hours_start="17:00", working_hours_end="09:00"))

    assert response.status_code == 200
    assert b"The working day must end after it starts." in response.content
    agent_a.refresh_from_db()
    assert (agent_a.working_hours_start, agent_a.working_hours_end) == (time(9), time(18))
    assert agent_a.client.transfer_phone_number == ""
    assert not SettingChange.objects.exists()


def test_a_bad_transfer_number_leaves_the_agent_unchanged_too(page_a, agent_a):
    response = page_a.post(AGENT_PAGE, agent_form(transfer_phone_number="call me maybe"))

    assert response.status_code == 200
    assert b'class="error"' in response.content
    agent_a.refresh_from_db()
    assert agent_a.voice_model == "Polly.Joanna-Neural"  # the agent half was rolled back with it
    assert not SettingChange.objects.exists()


def test_a_voice_of_another_language_and_an_unknown_voice_are_refused(page_a, agent_a):
    wrong_language = page_a.post(AGENT_PAGE, agent_form(language="es-MX", voice_model="Polly.Matthew-Neural"))
    assert b"This voice speaks English (US); pick one for Spanish (Mexico)." in wrong_language.content
    unknown = page_a.post(AGENT_PAGE, agent_form(voice_model="Polly.Nobody-Neural"))
    assert b"Select a valid choice" in unknown.content
    agent_a.refresh_from_db()
    assert (agent_a.language, agent_a.voice_model) == ("en-US", "Polly.Joanna-Neural")


def test_pause_and_resume(page_a, agent_a, user_a):
    paused = page_a.post("/settings/agent/status/", {"status": "paused"}, follow=True)
    assert b"is paused" in paused.content
    agent_a.refresh_from_db()
    assert agent_a.status == AIAgent.Status.PAUSED and not agent_a.can_take_calls

    page_a.post("/settings/agent/status/", {"status": "active"})
    agent_a.refresh_from_db()
    assert agent_a.status == AIAgent.Status.ACTIVE
    assert list(SettingChange.objects.filter(field="status").values_list("new_value", flat=True)) == [
        "active",
        "paused",
    ]


def test_settings_pages_change_only_the_signed_in_clients_agent(page_b, agent_a, agent_b, user_b):
    page_b.post(AGENT_PAGE, agent_form(agent_name="Hijacked"))
    page_b.post("/settings/agent/status/", {"status": "paused"})
    page_b.post(POLICY_PAGE, policy_form(daily_call_limit="1"))

    agent_a.refresh_from_db()
    client_a = Client.objects.get(pk=agent_a.client_id)
    assert agent_a.name == "Sarah" and agent_a.status == "active" and client_a.daily_call_limit == 200
    agent_b.refresh_from_db()
    assert agent_b.name == "Hijacked" and agent_b.status == "paused"
    assert not SettingChange.objects.filter(client=client_a).exists()
    # Client A's trail is not on client B's pages.
    SettingChange.objects.create(client=client_a, area="agent", field="name", old_value="x", new_value="SECRET-A")
    assert b"SECRET-A" not in page_b.get(AGENT_PAGE).content


def test_settings_pages_need_a_signed_in_client(client, agent_a):
    for url in (AGENT_PAGE, POLICY_PAGE, TELEPHONY_PAGE):
        assert client.get(url).status_code == 302
    assert client.post(AGENT_PAGE, agent_form(agent_name="Anon")).status_code == 302
    agent_a.refresh_from_db()
    assert agent_a.name == "Sarah"


# --- calling policy -------------------------------------------------------------------------------------


def test_calling_policy_changes_and_is_recorded(page_a, agent_a, user_a):
    page = page_a.get(POLICY_PAGE)
    assert b"data-tz-picker" in page.content and b"dashboard/settings.js" in page.content

    response = page_a.post(POLICY_PAGE, policy_form(), follow=True)

    assert b"Calling policy saved." in response.content
    client = Client.objects.get(pk=agent_a.client_id)
    assert client.timezone == "America/Chicago" and client.daily_call_limit == 50
    assert client.disclosure_text == "You are speaking with Acme's AI assistant." and client.recording_enabled is False
    change = SettingChange.objects.get(field="recording_enabled")
    assert (change.changed_by, change.old_value, change.new_value) == (user_a, "on", "off")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, b"Select a valid choice"),
        ({"daily_call_limit": "-1"}, b"greater than or equal to 0"),
        ({"daily_call_limit": "100001"}, b"less than or equal to 100000"),
        ({"disclosure_text": "x" * 301}, b"at most 300 characters"),
        ({"disclosure_text": "  "}, b"Write the disclosure, or turn it off."),
    ],
)
def test_bad_calling_policy_is_refused_with_a_message(page_a, agent_a, overrides, message):
    response = page_a.post(POLICY_PAGE, policy_form(**overrides))

    assert response.status_code == 200 and message in response.content
    client = Client.objects.get(pk=agent_a.client_id)
    assert client.timezone == "America/New_York" and client.daily_call_limit == 200 and client.recording_enabled
    assert not SettingChange.objects.exists()


@time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=NY), tick=False)
def test_recording_off_places_the_next_call_without_recording(page_a, api_a, trained_agent, fake_twilio):  # noqa: F811
    page_a.post(POLICY_PAGE, policy_form(timezone="America/New_York"))

    response = api_a.post("/api/agents/ai/start-call/", {"phone_number": "+12125550123"}, format="json")

    assert response.status_code == 201, response.json()
    form = fake_twilio.received[-1]["form"]
    assert form["Record"] == ["false"] and "RecordingStatusCallback" not in form


# --- telephony ------------------------------------------------------------------------------------------


def test_bad_twilio_credentials_are_refused_with_twilios_message_and_not_saved(page_a, agent_a, fake_twilio):  # noqa: F811
    fake_twilio.add_account(OWN_SID, OWN_TOKEN)

    response = page_a.post(TELEPHONY_PAGE, {"section": "credentials", "account_sid": OWN_SID, "auth_token": "0" * 32})

    assert response.status_code == 200
    assert b"Twilio said: Authenticate (error 20003)." in response.content
    assert b"0" * 32 not in response.content
    client = Client.objects.get(pk=agent_a.client_id)
    assert client.twilio_subaccount_sid == "" and client.twilio_auth_token == ""
    assert fake_twilio.received[0]["path"] == f"/2010-04-01/Accounts/{OWN_SID}.json"
    assert not SettingChange.objects.exists()


def test_malformed_credentials_never_reach_twilio(page_a, agent_a, fake_twilio):  # noqa: F811
    response = page_a.post(TELEPHONY_PAGE, {"section": "credentials", "account_sid": "AC123", "auth_token": "short"})

    assert b"An Account SID is AC followed by 32 hexadecimal characters." in response.content
    assert b"Ensure this value has at least 16 characters" in response.content
    assert fake_twilio.received == []


def test_connect_own_twilio_then_pick_a_number_configured_with_the_exact_parameters(
    page_a,
    agent_a,
    user_a,
    fake_twilio,  # noqa: F811
):
    fake_twilio.add_account(OWN_SID, OWN_TOKEN)
    fake_twilio.add_number("+14155550177", sid="PN" + "b" * 32)

    connected = page_a.post(
        TELEPHONY_PAGE, {"section": "credentials", "account_sid": OWN_SID, "auth_token": OWN_TOKEN}, follow=True
    )

    assert f"Twilio account {OWN_SID}".encode() in connected.content
    assert OWN_TOKEN.encode() not in connected.content  # never shown again
    client = Client.objects.get(pk=agent_a.client_id)
    assert client.twilio_subaccount_sid == OWN_SID and client.twilio_auth_token == OWN_TOKEN
    assert OWN_TOKEN not in _raw_token(client.pk)  # encrypted at rest
    token_change = SettingChange.objects.get(field="twilio_auth_token")
    assert (token_change.changed_by, token_change.new_value) == (user_a, "••••••")
    # The picker lists the account's numbers (listed with the client's own credentials).
    assert b'<option value="+14155550177"' in connected.content
    listing = fake_twilio.received[-1]
    assert listing["path"].startswith(f"/2010-04-01/Accounts/{OWN_SID}/IncomingPhoneNumbers.json")
    assert listing["account"] == OWN_SID and "PhoneNumber" not in listing["query"]

    picked = page_a.post(TELEPHONY_PAGE, {"section": "number", "phone_number": "+14155550177"}, follow=True)

    assert b"+14155550177 now rings Sarah." in picked.content
    agent_a.refresh_from_db()
    assert agent_a.phone_number == "+14155550177"
    update = next(r for r in fake_twilio.received if r["method"] == "POST")
    base = f"https://agents.example.com/webhooks/twilio/{agent_a.public_id}"
    assert update["path"] == f"/2010-04-01/Accounts/{OWN_SID}/IncomingPhoneNumbers/{'PN' + 'b' * 32}.json"
    assert update["account"] == OWN_SID
    assert {k: v[0] for k, v in update["form"].items()} == {
        "VoiceUrl": f"{base}/incoming/",
        "VoiceMethod": "POST",
        "VoiceFallbackUrl": f"{base}/fallback/",
        "VoiceFallbackMethod": "POST",
        "StatusCallback": f"{base}/status/",
        "StatusCallbackMethod": "POST",
    }
    assert SettingChange.objects.get(field="phone_number").new_value == "+14155550177"


def test_a_number_not_on_the_account_is_refused_and_not_saved(page_a, agent_a, fake_twilio):  # noqa: F811
    client = agent_a.client
    client.twilio_subaccount_sid, client.twilio_auth_token = OWN_SID, OWN_TOKEN
    client.save()

    response = page_a.post(TELEPHONY_PAGE, {"section": "number", "phone_number": "+14155550188"})

    assert response.status_code == 200
    assert b"is not a phone number of the Twilio account" in response.content
    agent_a.refresh_from_db()
    assert agent_a.phone_number == "+14155550100"


def test_another_clients_number_cannot_be_taken(page_a, agent_a, agent_b):
    response = page_a.post(TELEPHONY_PAGE, {"section": "number", "phone_number": agent_b.phone_number})

    # Refused without saying that another client has it.
    assert b"That phone number is not available." in response.content and b"another agent" not in response.content
    agent_a.refresh_from_db()
    agent_b.refresh_from_db()
    assert agent_a.phone_number == "+14155550100" and agent_b.phone_number == "+442071838750"
    assert not CallSession.objects.exists()


def _raw_token(client_id: int) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT twilio_auth_token FROM accounts_client WHERE id = %s", [client_id])
        return cursor.fetchone()[0]


def test_the_agent_page_switches_the_agent_to_conversation_relay_and_back(page_a, agent_a):
    assert b"ConversationRelay (streaming)" in page_a.get(AGENT_PAGE).content
    page_a.post(AGENT_PAGE, agent_form(voice_mode="relay"))
    agent_a.refresh_from_db()
    assert agent_a.voice_mode == "relay"
    page_a.post(AGENT_PAGE, agent_form())  # a form without the field (an older page) keeps the mode
    agent_a.refresh_from_db()
    assert agent_a.voice_mode == "relay"
    page_a.post(AGENT_PAGE, agent_form(voice_mode="gather"))
    agent_a.refresh_from_db()
    assert agent_a.voice_mode == "gather"
