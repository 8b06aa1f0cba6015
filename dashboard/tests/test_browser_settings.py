"""The settings pages in Chromium: change a setting, see a refusal, and the next call uses the saved value.

Screenshots of each page at 1366x768 go to bench/screenshots/ (not committed).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Client, SettingChange, User
from calls.tests.conftest import TwilioSim, fake_twilio, trained_agent  # noqa: F401 (fixtures)
from customers.tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-pass-42"
OWN_SID = "AC" + "4" * 32
OWN_TOKEN = "e" * 32


def sign_in(page, client: Client) -> User:
    user = User.objects.create_user("owner@acme.test", PASSWORD, client=client, role="owner")
    page.goto("/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    return user


def hours_excluding_now(zone_name: str) -> tuple[time, time]:
    """A one-hour working day that does not contain the present moment in ``zone_name``."""
    now = timezone.now().astimezone(ZoneInfo(zone_name))
    return (time(0, 0), time(1, 0)) if now.hour >= 2 else (time(12, 0), time(13, 0))


def test_agent_settings_change_refuse_and_govern_the_next_start_call(page, live_server, trained_agent, screenshots):  # noqa: F811
    user = sign_in(page, trained_agent.client)
    page.get_by_role("link", name="Settings").first.click()
    page.wait_for_url("**/settings/agent/")

    # Voices follow the language: Spanish (Mexico) offers only its voices.
    page.get_by_label("Language").select_option("es-MX")
    voices = page.get_by_label("Voice", exact=True).locator("option").all_inner_texts()
    assert voices and all("Spanish (Mexico)" in v for v in voices)
    page.get_by_label("Language").select_option("en-US")
    page.get_by_label("Voice", exact=True).select_option("Polly.Matthew-Neural")

    # A day that ends before it starts is refused, with the reason next to the field.
    page.get_by_label("Works from").fill("17:00")
    page.get_by_label("Until").fill("09:00")
    page.get_by_role("button", name="Save agent settings").click()
    assert page.get_by_text("The working day must end after it starts.").is_visible()
    trained_agent.refresh_from_db()
    assert trained_agent.working_hours_end == time(18, 0)

    start, end = hours_excluding_now(trained_agent.client.timezone)
    page.get_by_label("Works from").fill(f"{start:%H:%M}")
    page.get_by_label("Until").fill(f"{end:%H:%M}")
    page.get_by_label("Transfer number").fill("+1 415 555 0199")
    page.get_by_role("button", name="Save agent settings").click()
    page.get_by_text("Agent settings saved.").wait_for()
    assert page.locator("[data-changes]").get_by_text("working_hours_end").is_visible()
    assert page.locator("[data-changes]").get_by_text("owner@acme.test").first.is_visible()
    page.screenshot(path=str(screenshots / "settings-agent.png"), full_page=False)

    trained_agent.refresh_from_db()
    assert (trained_agent.working_hours_start, trained_agent.working_hours_end) == (start, end)
    assert trained_agent.voice_model == "Polly.Matthew-Neural"
    assert SettingChange.objects.filter(changed_by=user, field="working_hours_end").exists()

    # The next start-call is refused: it is outside the new working hours.
    CustomerFactory(ai_agent=trained_agent, phone_number="+12125550123", timezone="America/New_York")
    api = APIClient()
    api.force_authenticate(user)
    refused = api.post("/api/agents/ai/start-call/", {"phone_number": "+12125550123"}, format="json")
    assert refused.status_code == 409, refused.json()
    assert f"working hours ({start:%H:%M}-{end:%H:%M}" in refused.json()["error"]["message"]

    # Pause, then resume.
    page.get_by_role("button", name="Pause agent").click()
    page.get_by_text("is paused").first.wait_for()
    page.get_by_role("button", name="Resume agent").click()
    page.get_by_text("is running again").wait_for()


def test_calling_policy_change_refuse_and_the_new_disclosure_is_said_first(
    page,
    live_server,
    client,
    trained_agent,  # noqa: F811
    screenshots,
):
    sign_in(page, trained_agent.client)
    page.goto("/settings/policy/")

    # The timezone list filters as you type; one match is picked.
    page.get_by_label("Search timezones").fill("Chicago")
    assert page.get_by_label("Timezone", exact=True).input_value() == "America/Chicago"

    # Disclosure on with no text: refused, nothing saved.
    page.locator("#id_disclosure_text").fill("")
    page.get_by_role("button", name="Save calling policy").click()
    assert page.get_by_text("Write the disclosure, or turn it off.").is_visible()
    assert Client.objects.get(pk=trained_agent.client_id).timezone == "America/New_York"

    page.get_by_label("Search timezones").fill("Chicago")
    page.locator("#id_disclosure_text").fill("Hello from Acme's AI helper; this call is recorded.")
    page.get_by_label("Outbound calls per day").fill("75")
    page.get_by_label("Record outbound calls").uncheck()
    page.get_by_role("button", name="Save calling policy").click()
    page.get_by_text("Calling policy saved.").wait_for()
    page.screenshot(path=str(screenshots / "settings-policy.png"), full_page=False)

    saved = Client.objects.get(pk=trained_agent.client_id)
    assert (saved.timezone, saved.daily_call_limit, saved.recording_enabled) == ("America/Chicago", 75, False)

    # The next inbound call, through a signed webhook: the new disclosure is the first thing said.
    trained_agent.refresh_from_db()
    greeting = TwilioSim(client, trained_agent).incoming()
    assert greeting.status_code == 200
    first_say = next(ET.fromstring(greeting.content).iter("Say")).text
    assert first_say.startswith("Hello from Acme's AI helper; this call is recorded.")


def test_telephony_connect_own_twilio_and_pick_a_number(page, live_server, trained_agent, fake_twilio, screenshots):  # noqa: F811
    fake_twilio.add_account(OWN_SID, OWN_TOKEN)
    fake_twilio.add_number("+14155550177", sid="PN" + "c" * 32)
    sign_in(page, trained_agent.client)
    page.goto("/settings/telephony/")

    page.get_by_label("Account SID").fill(OWN_SID)
    page.get_by_label("Auth token").fill("0" * 32)
    page.get_by_role("button", name="Connect Twilio account").click()
    assert page.get_by_text("Twilio said: Authenticate (error 20003).").first.is_visible()
    assert page.get_by_label("Auth token").input_value() == ""  # a token is never sent back

    page.get_by_label("Auth token").fill(OWN_TOKEN)
    page.get_by_role("button", name="Connect Twilio account").click()
    page.get_by_text(f"Twilio account {OWN_SID}").first.wait_for()
    assert OWN_TOKEN not in page.content()

    page.get_by_label("Agent phone number").select_option("+14155550177")
    page.get_by_role("button", name="Save phone number").click()
    page.get_by_text("+14155550177 now rings Sarah.").wait_for()
    assert OWN_TOKEN not in page.content()
    page.screenshot(path=str(screenshots / "settings-telephony.png"), full_page=False)

    trained_agent.refresh_from_db()
    assert trained_agent.phone_number == "+14155550177"
    update = next(r for r in fake_twilio.received if r["method"] == "POST")
    assert update["account"] == OWN_SID
    assert update["form"]["VoiceUrl"] == [
        f"https://agents.example.com/webhooks/twilio/{trained_agent.public_id}/incoming/"
    ]
