"""Twilio's doors into the product. Each view is one line of parsing and one service call.

``@twilio_webhook`` does what every webhook must before anything else: find the agent (and
so the tenant and its auth token) from the URL, check ``X-Twilio-Signature`` against the
public URL, parse the POST into a value, and make sure a caller never hears an error page:
any failure becomes polite TwiML (and the transaction is rolled back, nothing half-written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.models import AIAgent
from agents.selectors import agent_by_public_id
from calls import engine, lifecycle
from calls.selectors_voice import LiveCall, live_call
from calls.telephony import webhook_auth_token
from calls.webhook_params import TwilioEvent, parse_event
from core.errors import NotFound
from core.log_context import bind_call_sid
from integrations.twilio import signature_is_valid, twiml

logger = logging.getLogger(__name__)
TWIML = "text/xml; charset=utf-8"


def _twiml(document: str, status: int = 200) -> HttpResponse:
    return HttpResponse(document, content_type=TWIML, status=status)


def twilio_webhook(*, speaks: bool, reads_call: bool = False) -> Callable:
    """``speaks``: the answer is TwiML the caller hears (vs. a status callback nobody hears).

    ``reads_call``: the view works on one existing call (a turn; an outbound call answered). Then the call, its
    agent, client, customer and transcript come in one read, and the turn needs no separate
    agent lookup. Nothing is written before the signature has been checked.
    """

    def decorate(view: Callable[..., str | None]) -> Callable:
        def handle(request: HttpRequest, agent: AIAgent, live: LiveCall | None) -> HttpResponse:
            url = settings.PUBLIC_BASE_URL + request.get_full_path()
            token = webhook_auth_token(agent.client)
            if not signature_is_valid(
                auth_token=token, url=url, params=request.POST, signature=request.headers.get("X-Twilio-Signature")
            ):
                logger.warning("Refused unsigned or forged webhook for agent %s: %s", agent.public_id, url)
                return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
            event = parse_event(request.POST, request.GET)
            if not event.has_valid_sid:
                message = "Sorry, something went wrong with this call. Goodbye."
                return _twiml(twiml.polite_error(message), status=400) if speaks else HttpResponse(status=400)
            bind_call_sid(event.call_sid)
            try:
                document = view(agent, event, live) if reads_call else view(agent, event)
            except Exception:  # the services' transactions have rolled back: nothing half-written
                logger.exception("Webhook %s failed for call %s", view.__name__, event.call_sid)
                return _twiml(twiml.polite_error()) if speaks else HttpResponse(status=204)
            return _twiml(document) if speaks else HttpResponse(status=204)

        def not_in_service() -> HttpResponse:
            return _twiml(twiml.polite_error("Sorry, this number is not in service. Goodbye."), status=404)

        @csrf_exempt
        @require_POST
        @wraps(view)
        def wrapper(request: HttpRequest, agent_id) -> HttpResponse:
            if reads_call:
                live = live_call(agent_public_id=agent_id, call_sid=request.POST.get("CallSid", ""))
                if live is not None:
                    return handle(request, live.call.ai_agent, live)
            try:
                agent = agent_by_public_id(public_id=agent_id)
            except NotFound:
                return not_in_service()
            return handle(request, agent, None)

        return wrapper

    return decorate


@twilio_webhook(speaks=True)
def incoming(agent: AIAgent, event: TwilioEvent) -> str:
    return engine.call_begin(agent=agent, event=event, inbound=True)


@twilio_webhook(speaks=True, reads_call=True)
def answered(agent: AIAgent, event: TwilioEvent, live: LiveCall | None) -> str:
    return engine.call_begin(agent=agent, event=event, inbound=False, live=live)


@twilio_webhook(speaks=True, reads_call=True)
def turn(agent: AIAgent, event: TwilioEvent, live: LiveCall | None) -> str:
    return engine.call_turn(agent=agent, event=event, live=live)


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
