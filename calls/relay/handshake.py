"""The socket's URL and its ``X-Twilio-Signature``, checked like a webhook's.

Twilio signs the WebSocket handshake with the auth token of the account that owns the call,
over the public ``wss://`` URL it opened (with no form fields). The URL names the agent, so
the tenant and its token are known before anything else is read; it is rebuilt from
``RELAY_BASE_URL``, never from the Host header an attacker controls.
"""

from __future__ import annotations

import logging

from django.conf import settings

from agents.models import AIAgent
from calls.telephony import webhook_auth_token
from integrations.twilio import signature_is_valid

logger = logging.getLogger(__name__)


def relay_path(agent: AIAgent) -> str:
    return f"/relay/{agent.public_id}/"


def relay_url(agent: AIAgent) -> str:
    """The public URL Twilio opens the socket on (``<ConversationRelay url=...>``)."""
    return settings.RELAY_BASE_URL + relay_path(agent)


def handshake_is_signed(*, agent: AIAgent, path: str, query: str, signature: str | None) -> bool:
    url = settings.RELAY_BASE_URL + path + (f"?{query}" if query else "")
    if signature_is_valid(auth_token=webhook_auth_token(agent.client), url=url, params={}, signature=signature):
        return True
    logger.warning("Refused unsigned or forged relay socket for agent %s: %s", agent.public_id, url)
    return False
