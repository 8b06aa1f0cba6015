"""Twilio's doors into the product. Each view is one service call.

``@twilio_webhook`` runs the steps every webhook takes, in this order, each a small function
doing one job: find the agent (and so the tenant and its auth token) from the URL; check
``X-Twilio-Signature`` against the public URL with that token, before anything else is read
(ADR 0001); parse the POST into a value; call the view's one service. It answers every
failure the way its listener needs (ADR 0007): a caller hears polite TwiML that ends the call;
a callback nobody hears answers 500 on a bug and 503 while the database is down, so Twilio's
debugger shows it and its retries can act. Either way the failure is logged with the call sid,
and the services' transactions have rolled back: nothing is half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.models import AIAgent
from agents.selectors import agent_by_public_id
from calls import engine, lifecycle
from calls.relay.twiml import after_relay
from calls.selectors import live_call
from calls.telephony import webhook_auth_token
from calls.webhook_params import MalformedWebhook, TwilioEvent, parse_event
from core.errors import NotFound
from core.log_context import bind_call_sid
from integrations.twilio import signature_is_valid, twiml

logger = logging.getLogger(__name__)
TWIML = "text/xml; charset=utf-8"
DATABASE_DOWN = (OperationalError, InterfaceError)
REFUSED = "Sorry, something went wrong with this call. Goodbye."
UNAVAILABLE = "Sorry, we can't take your call right now. Please try again later. Goodbye."
NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."


def _twiml(document: str, status: int = 200) -> HttpResponse:
    return HttpResponse(document, content_type=TWIML, status=status)


def _refused(speaks: bool, status: int, words: str, reason: str) -> HttpResponse:
    """Bad input: a clear 4xx (TwiML the caller hears on a spoken webhook)."""
    if speaks:
        return _twiml(twiml.polite_error(words), status=status)
    return HttpResponse(reason, status=status, content_type="text/plain")


def _failed(speaks: bool, status: int, words: str) -> HttpResponse:
    # A caller hears why the call ends (Twilio would read any non-2xx as "an application error").
    return _twiml(twiml.polite_error(words)) if speaks else HttpResponse(status=status)


def _is_signed(request: HttpRequest, agent: AIAgent) -> bool:
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    token = webhook_auth_token(agent.client)
    if signature_is_valid(
        auth_token=token, url=url, params=request.POST, signature=request.headers.get("X-Twilio-Signature")
    ):
        return True
    logger.warning("Refused unsigned or forged webhook for agent %s: %s", agent.public_id, url)
    return False


def twilio_webhook(*, speaks: bool, needs_turn: bool = False) -> Callable:
    """``speaks``: the answer is TwiML the caller hears (vs. a status callback nobody hears).
    ``needs_turn``: the request must carry our ``?n=`` (it keys replayed turns)."""

    def decorate(view: Callable[[AIAgent, TwilioEvent], str | None]) -> Callable:
        def handle(request: HttpRequest, agent_id) -> HttpResponse:
            try:
                agent = agent_by_public_id(public_id=agent_id)
            except NotFound:
                return _refused(speaks, 404, NOT_IN_SERVICE, "Unknown agent.")
            if not _is_signed(request, agent):
                return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
            try:
                event = parse_event(request.POST, request.GET, needs_turn=needs_turn)
            except MalformedWebhook as malformed:
                logger.warning(
                    "Refused webhook %s for call %.64r: %s", view.__name__, request.POST.get("CallSid", ""), malformed
                )
                return _refused(speaks, 400, REFUSED, str(malformed))
            bind_call_sid(event.call_sid)
            document = view(agent, event)
            return _twiml(document) if speaks else HttpResponse(status=204)

        @csrf_exempt
        @require_POST
        @wraps(view)
        def wrapper(request: HttpRequest, agent_id) -> HttpResponse:
            try:
                return handle(request, agent_id)
            except DATABASE_DOWN as down:
                # No traceback: during an outage every request fails the same way.
                logger.error(
                    "Database unavailable: webhook %s for call %.64r: %s",
                    view.__name__, request.POST.get("CallSid", ""), down,
                )  # fmt: skip
                return _failed(speaks, 503, UNAVAILABLE)
            except Exception:
                logger.exception("Webhook %s failed for call %.64r", view.__name__, request.POST.get("CallSid", ""))
                return _failed(speaks, 500, twiml.DEFAULT_APOLOGY)

        return wrapper

    return decorate


@twilio_webhook(speaks=True)
def incoming(agent: AIAgent, event: TwilioEvent) -> str:
    return engine.call_begin(agent=agent, event=event, inbound=True)


@twilio_webhook(speaks=True)
def answered(agent: AIAgent, event: TwilioEvent) -> str:
    return engine.call_begin(agent=agent, event=event, inbound=False)


@twilio_webhook(speaks=True, needs_turn=True)
def turn(agent: AIAgent, event: TwilioEvent) -> str:
    return engine.call_turn(agent=agent, event=event)


@twilio_webhook(speaks=True)
def relay_action(agent: AIAgent, event: TwilioEvent) -> str:
    """The ``<Connect action>`` of a ConversationRelay session: what the call does after the socket."""
    return after_relay(agent=agent, live=live_call(agent=agent, call_sid=event.call_sid))


@twilio_webhook(speaks=False)
def status(agent: AIAgent, event: TwilioEvent) -> None:
    lifecycle.call_status_update(agent=agent, event=event)


@twilio_webhook(speaks=False)
def recording(agent: AIAgent, event: TwilioEvent) -> None:
    lifecycle.call_recording_update(agent=agent, event=event)


@twilio_webhook(speaks=False)
def amd(agent: AIAgent, event: TwilioEvent) -> None:
    lifecycle.call_amd_result(agent=agent, event=event)


@twilio_webhook(speaks=True)
def fallback(agent: AIAgent, event: TwilioEvent) -> str:
    logger.error("Twilio used the fallback URL for call %s (error %s)", event.call_sid, event.error_code)
    return twiml.polite_error()
