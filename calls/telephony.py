"""Which phone network a client's calls go through, and the URLs Twilio calls us back on."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from django.conf import settings
from django.urls import reverse

from accounts.models import Client
from agents.models import AIAgent
from integrations.twilio import TelephonyGateway, TwilioGateway, credentials_for

WEBHOOKS = ("incoming", "answered", "turn", "status", "recording", "amd", "fallback")


def uses_simulated_phone(client: Client) -> bool:
    """The built-in phone is used unless Twilio is configured and the client has credentials to use."""
    if settings.TELEPHONY_BACKEND == "simulated":
        return True
    return (
        credentials_for(
            client.twilio_subaccount_sid,
            client.twilio_auth_token,
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
        )
        is None
    )


def gateway_for(client: Client) -> TelephonyGateway:
    """The client's subaccount when it has one, the platform account otherwise, else the simulator."""
    if uses_simulated_phone(client):
        from calls.simulated_phone import SimulatedGateway

        return SimulatedGateway()
    credentials = credentials_for(
        client.twilio_subaccount_sid, client.twilio_auth_token, settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    )
    return TwilioGateway(credentials)


def webhook_auth_token(client: Client) -> str:
    """The token Twilio signs this client's webhooks with (the simulator signs with its own)."""
    if uses_simulated_phone(client):
        return settings.SIMULATED_PHONE_AUTH_TOKEN
    if client.twilio_subaccount_sid and client.twilio_auth_token:
        return client.twilio_auth_token
    return settings.TWILIO_AUTH_TOKEN


@lru_cache(maxsize=4096)
def _path(public_id: UUID, name: str) -> str:
    # URL reversing costs more than the rest of building a turn's TwiML; paths never change.
    return reverse(f"twilio-{name}", kwargs={"agent_id": public_id})


def webhook_path(agent: AIAgent, name: str, **query: object) -> str:
    path = _path(agent.public_id, name)
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


def webhook_url(agent: AIAgent, name: str, **query: object) -> str:
    """The public URL Twilio must call: PUBLIC_BASE_URL + path, never a guessed host."""
    return settings.PUBLIC_BASE_URL + webhook_path(agent, name, **query)
