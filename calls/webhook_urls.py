"""Twilio webhook routes, mounted at /webhooks/twilio/; every URL names the agent's public id."""

from django.urls import path

from calls import webhooks

urlpatterns = [
    path(f"<uuid:agent_id>/{name}/", getattr(webhooks, name), name=f"twilio-{name}")
    for name in ("incoming", "answered", "turn", "status", "recording", "amd", "fallback", "relay_action")
]
