import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from callbacks.models import ScheduledCallback
from calls.models import CallSession

pytestmark = pytest.mark.django_db


@time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York")), tick=False)
def test_a_person_can_call_the_agent_from_the_terminal(trained_agent, monkeypatch):
    lines = iter(["It's too expensive for us", "call me tomorrow afternoon"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    out = io.StringIO()
    call_command("phone", agent=trained_agent.client.slug, from_number="+1 212 555 0123", stdout=out)
    text = out.getvalue()
    assert "Agent: " in text and "Call ended." in text
    call = CallSession.objects.get()
    assert call.status == "completed" and call.outcome == "callback_requested"
    assert ScheduledCallback.objects.filter(customer_profile__phone_number="+12125550123").exists()


def test_unknown_agent_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No agent"):
        call_command("phone", agent="nobody")


@time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York")), tick=False)
def test_the_terminal_phone_talks_to_a_relay_mode_agent_through_the_turn_webhook(trained_agent, monkeypatch):
    """With --no-socket: the greeting from <ConversationRelay welcomeGreeting>, the turns through the webhook."""
    trained_agent.voice_mode = "relay"
    trained_agent.save(update_fields=["voice_mode"])
    lines = iter(["It's too expensive for us", "call me tomorrow afternoon"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    out = io.StringIO()
    call_command("phone", agent=trained_agent.client.slug, from_number="+1 212 555 0123", no_socket=True, stdout=out)
    text = out.getvalue()
    assert "Agent: This call is with an AI assistant" in text and "Call ended." in text
    assert CallSession.objects.get().outcome == "callback_requested"
