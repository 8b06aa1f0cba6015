"""Connecting an agent's Twilio number: the product sets its webhooks through the real SDK, against the fake."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from agents.models import AIAgent

pytestmark = pytest.mark.django_db
CONFIGURE = "/api/agents/ai/phone-number/configure/"
ACCOUNT = "AC" + "1" * 32
NUMBER = "+14155550199"


def _webhooks(agent) -> dict[str, list[str]]:
    base = f"https://agents.example.com/webhooks/twilio/{agent.public_id}"
    return {
        "VoiceUrl": [f"{base}/incoming/"],
        "VoiceMethod": ["POST"],
        "VoiceFallbackUrl": [f"{base}/fallback/"],
        "VoiceFallbackMethod": ["POST"],
        "StatusCallback": [f"{base}/status/"],
        "StatusCallbackMethod": ["POST"],
    }


def _assert_configured(fake, agent, number: str, sid: str = "PN" + "a" * 32) -> None:
    lookup, update = fake.received[-2:]
    assert lookup["method"] == "GET" and lookup["account"] == ACCOUNT
    assert lookup["path"].startswith(f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?")
    assert lookup["query"]["PhoneNumber"] == [number]
    assert update["method"] == "POST"
    assert update["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{sid}.json"
    assert update["form"] == _webhooks(agent)  # exactly these parameters, nothing else


def test_setting_the_agents_number_points_it_at_the_agents_webhooks(api_a, agent_a, agent_b, fake_twilio):
    fake_twilio.add_number(NUMBER)
    fake_twilio.add_number(agent_b.phone_number, sid="PN" + "b" * 32)
    # Other changes leave the number alone; another agent's number is refused before Twilio is asked.
    assert api_a.patch("/api/agents/ai/", {"agent_name": "Zoe"}, format="json").status_code == 200
    taken = api_a.patch("/api/agents/ai/", {"phone_number": agent_b.phone_number}, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "phone_in_use"
    assert fake_twilio.received == []
    response = api_a.patch("/api/agents/ai/", {"phone_number": "(415) 555-0199"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["phone_number"] == NUMBER
    _assert_configured(fake_twilio, agent_a, NUMBER)
    assert fake_twilio.numbers[NUMBER]["status_callback"].endswith(f"/{agent_a.public_id}/status/")


def test_a_number_the_account_does_not_own_is_a_422_and_is_not_saved(api_a, agent_a, fake_twilio):
    fake_twilio.add_number("+14155550111")  # a partial match of the filter does not count
    response = api_a.patch("/api/agents/ai/", {"phone_number": "+14155550199", "agent_name": "Zoe"}, format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "number_not_on_account" and "+14155550199" in error["message"]
    agent_a.refresh_from_db()
    assert agent_a.phone_number == "+14155550100" and agent_a.name == "Sarah"
    assert [r["method"] for r in fake_twilio.received] == ["GET"]


def test_setting_the_number_while_twilio_is_down_is_a_503_and_changes_nothing(api_a, agent_a, fake_twilio):
    fake_twilio.stop()
    response = api_a.patch("/api/agents/ai/", {"phone_number": NUMBER}, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["error"]["retry_after"] == 30
    agent_a.refresh_from_db()
    assert agent_a.phone_number == "+14155550100"


def test_setting_up_an_agent_with_a_number_configures_it(api_b, client_b, fake_twilio):
    fake_twilio.add_number(NUMBER, sid="PN" + "b" * 32)
    response = api_b.post("/api/agents/ai/setup/", {"agent_name": "Ben", "phone_number": NUMBER}, format="json")
    assert response.status_code == 201, response.json()
    _assert_configured(fake_twilio, AIAgent.objects.get(client=client_b), NUMBER, sid="PN" + "b" * 32)


def test_the_configure_action_reapplies_the_webhooks(api_a, agent_a, fake_twilio):
    fake_twilio.add_number(agent_a.phone_number)
    response = api_a.post(CONFIGURE)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["sid"] == "PN" + "a" * 32 and body["simulated"] is False
    assert body["voice_url"] == _webhooks(agent_a)["VoiceUrl"][0]
    assert body["status_callback"] == _webhooks(agent_a)["StatusCallback"][0]
    _assert_configured(fake_twilio, agent_a, agent_a.phone_number)


def test_the_configure_action_acts_only_on_the_callers_own_agent(api_b, agent_a, agent_b, fake_twilio):
    fake_twilio.add_number(agent_a.phone_number)
    fake_twilio.add_number(agent_b.phone_number, sid="PN" + "b" * 32)
    assert api_b.post(CONFIGURE).status_code == 200
    assert fake_twilio.numbers[agent_a.phone_number]["status_callback"] == ""
    _assert_configured(fake_twilio, agent_b, agent_b.phone_number, sid="PN" + "b" * 32)


def test_the_configure_action_with_a_twilio_error(api_a, agent_a, fake_twilio):
    fake_twilio.replies.append((500, {"code": 20500, "message": "Internal Server Error", "status": 500}))
    response = api_a.post(CONFIGURE)
    assert response.status_code == 502 and response.json()["error"]["retry_after"] == 30
    fake_twilio.replies.append((401, {"code": 20003, "message": "Authenticate", "status": 401}))
    response = api_a.post(CONFIGURE)
    assert response.status_code == 502 and response.json()["error"]["code"] == "telephony_refused"
    assert "authentication failed" in response.json()["error"]["message"]


def test_the_configure_action_without_a_number_is_a_422(api_a, agent_a, fake_twilio):
    AIAgent.objects.filter(pk=agent_a.pk).update(phone_number=None)
    response = api_a.post(CONFIGURE)
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_phone_number"
    assert fake_twilio.received == []


def test_the_configure_action_on_the_simulated_phone_sends_nothing(api_a, agent_a):
    response = api_a.post(CONFIGURE)
    assert response.status_code == 200
    assert response.json()["simulated"] is True
    assert response.json()["voice_url"].endswith(f"/{agent_a.public_id}/incoming/")


def test_the_configure_action_needs_a_signed_in_client(client, agent_a, fake_twilio):
    assert client.post(CONFIGURE).status_code in (401, 403)
    assert fake_twilio.received == []


def test_the_command_configures_every_agents_number(agent_a, agent_b, fake_twilio, capsys):
    fake_twilio.add_number(agent_a.phone_number)
    fake_twilio.add_number(agent_b.phone_number, sid="PN" + "b" * 32)
    call_command("configure_twilio_numbers")
    for agent in (agent_a, agent_b):
        assert fake_twilio.numbers[agent.phone_number]["voice_url"] == _webhooks(agent)["VoiceUrl"][0]
    assert str(agent_b.public_id) in capsys.readouterr().out


def test_the_command_for_one_agent_and_its_failures(agent_a, agent_b, fake_twilio):
    fake_twilio.add_number(agent_b.phone_number, sid="PN" + "b" * 32)
    call_command("configure_twilio_numbers", "--agent", str(agent_b.public_id))
    assert {r["path"].split("?")[0].rsplit("/", 1)[1] for r in fake_twilio.received} == {
        "IncomingPhoneNumbers.json",
        "PN" + "b" * 32 + ".json",
    }
    with pytest.raises(CommandError, match="1 number"):
        call_command("configure_twilio_numbers", "--agent", str(agent_a.public_id))  # not on the account
    with pytest.raises(CommandError, match="public id"):
        call_command("configure_twilio_numbers", "--agent", "nope")
