"""Which phone network a client's calls go through, and the URLs Twilio calls us back on."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from accounts.models import Client
from agents.models import AIAgent
from core.errors import DomainError, ServiceUnavailable, UpstreamFailed, UpstreamRefused, ValidationFailed
from integrations.twilio import (
    NumberNotOnAccount,
    TelephonyError,
    TelephonyGateway,
    TelephonyUnavailable,
    TwilioCredentials,
    TwilioGateway,
    credentials_for,
)

# How long a client should wait before trying again when Twilio is unreachable or overloaded.
RETRY_AFTER_S = 30
RATE_LIMITED_RETRY_AFTER_S = 60


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
        return import_string(settings.SIMULATED_PHONE_GATEWAY)()
    credentials = credentials_for(
        client.twilio_subaccount_sid, client.twilio_auth_token, settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    )
    return TwilioGateway(credentials)


def twilio_account_for(client: Client) -> TwilioCredentials | None:
    """The Twilio account the client's numbers live on, or None on the simulated phone."""
    if uses_simulated_phone(client):
        return None
    return credentials_for(
        client.twilio_subaccount_sid, client.twilio_auth_token, settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    )


def telephony_domain_error(exc: TelephonyError) -> DomainError:
    """What a door (API, dashboard) tells the client when Twilio failed a request.

    Unreachable, timed out or rate-limited: 503 with ``retry_after``; Twilio's own server error:
    502 with ``retry_after``; our credentials refused: 502 (the client cannot fix that by
    retrying); any other refusal: 422 with Twilio's explanation and code.
    """
    twilio = {"twilio_code": exc.code, "twilio_status": exc.status or None}
    if isinstance(exc, NumberNotOnAccount):
        return ValidationFailed(exc.user_message, code="number_not_on_account")
    if isinstance(exc, TelephonyUnavailable):
        if exc.status >= 500:
            return UpstreamFailed(
                "The phone service had an internal error. Please try again in a moment.",
                code="telephony_upstream_error", retry_after=RETRY_AFTER_S, details=twilio,
            )  # fmt: skip
        wait = RATE_LIMITED_RETRY_AFTER_S if exc.status == 429 else RETRY_AFTER_S
        return ServiceUnavailable(exc.user_message, code="telephony_unavailable", retry_after=wait, details=twilio)
    if exc.status in (401, 403):
        return UpstreamRefused(exc.user_message, code="telephony_refused", details=twilio)
    return ValidationFailed(exc.user_message, code="telephony_error", details=twilio)


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
