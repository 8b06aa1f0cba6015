"""Connecting an agent's Twilio number to the product: where Twilio sends its calls.

Rule this module protects: an inbound call on an agent's number is answered by that agent's
webhooks and its session is finalised, because the number's status callback is set too (without
it an inbound call would stay ``in_progress`` for ever). It is applied whenever a client sets
the number (``agents.services`` calls :func:`agent_phone_number_configure` through the
``AGENT_PHONE_NUMBER_CONFIGURER`` setting, since ``agents`` may not import ``calls``), and again
on demand (the ``configure_twilio_numbers`` command, ``POST /api/agents/ai/phone-number/configure/``).
"""

from __future__ import annotations

import logging

from accounts.models import Client, User
from accounts.services import client_twilio_credentials_set
from agents.models import AIAgent
from calls import telephony
from calls.telephony import gateway_for, telephony_domain_error, webhook_url
from core.errors import ValidationFailed
from integrations.twilio import (
    IncomingNumber,
    NumberWebhooks,
    OwnedNumber,
    TelephonyError,
    TelephonyUnavailable,
    TwilioAccount,
    TwilioCredentials,
)

logger = logging.getLogger(__name__)


def agent_number_webhooks(agent: AIAgent) -> NumberWebhooks:
    return NumberWebhooks(
        voice_url=webhook_url(agent, "incoming"),
        voice_fallback_url=webhook_url(agent, "fallback"),
        status_callback=webhook_url(agent, "status"),
    )


def agent_phone_number_configure(*, agent: AIAgent) -> IncomingNumber:
    """Point ``agent.phone_number`` on the client's Twilio account at the agent's webhooks.

    On the simulated phone nothing leaves the machine. Raises a domain error the API renders:
    422 when the agent has no number or the account does not own it, 503/502 (with
    ``retry_after``) when Twilio is unreachable or failing.
    """
    if not agent.phone_number:
        raise ValidationFailed("The agent has no phone number. Set one first.", code="no_phone_number")
    try:
        return gateway_for(agent.client).configure_incoming_number(agent.phone_number, agent_number_webhooks(agent))
    except TelephonyError as exc:
        logger.warning("Could not configure %s for agent %s on Twilio: %r", agent.phone_number, agent.public_id, exc)
        raise telephony_domain_error(exc) from exc


def agent_phone_number_configure_if_set(*, agent: AIAgent) -> None:
    """The hook ``agents.services`` calls when a client sets the agent's number (none: nothing to do)."""
    if agent.phone_number:
        agent_phone_number_configure(agent=agent)


def twilio_account_connect(
    *, client: Client, account_sid: str, auth_token: str, changed_by: User | None
) -> TwilioAccount:
    """Check a client's own Twilio credentials with Twilio, then store them.

    Rule: credentials Twilio refuses are never saved (every call and webhook signature of the
    client would fail with them). A refusal is a 422 carrying Twilio's own message and code;
    Twilio unreachable is a 503 with ``retry_after``, and nothing is saved either way.
    """
    gateway = telephony.TwilioGateway(TwilioCredentials(account_sid, auth_token))
    try:
        account = gateway.account_fetch()
    except TelephonyUnavailable as exc:
        logger.warning("Twilio unreachable while checking client %s's account %s: %r", client.pk, account_sid, exc)
        raise telephony_domain_error(exc) from exc
    except TelephonyError as exc:
        code = f" (error {exc.code})" if exc.code is not None else ""
        raise ValidationFailed(
            f"{exc.user_message} Twilio said: {exc.message}{code}.",
            code="twilio_credentials_refused",
            details={"fields": {"auth_token": [f"Twilio said: {exc.message}{code}."]}, "twilio_code": exc.code},
        ) from exc
    client_twilio_credentials_set(client=client, account_sid=account_sid, auth_token=auth_token, changed_by=changed_by)
    return account


def twilio_numbers_list(*, client: Client) -> list[OwnedNumber]:
    """The numbers on the client's own Twilio account, for it to pick its agent's number.

    Only the client's own account is listed: the platform account's numbers belong to every
    tenant, so a client without its own account gets none (and types its number instead).
    """
    if not client.has_twilio_subaccount:
        return []
    gateway = telephony.TwilioGateway(TwilioCredentials(client.twilio_subaccount_sid, client.twilio_auth_token))
    try:
        return gateway.incoming_numbers_list()
    except TelephonyError as exc:
        logger.warning("Could not list the numbers of client %s's Twilio account: %r", client.pk, exc)
        raise telephony_domain_error(exc) from exc
