"""The built-in phone: the embedded default when no Twilio account is configured.

It stands in for the phone network *and* the person on the other end. Every step is a
signed POST to our own webhook views (the exact requests Twilio would send), so a call on
the simulator exercises the real path: signature check, engine, actions, TwiML. A relay-mode
agent's turns go, as Twilio's do, over its ConversationRelay socket on the running server
(``SIMULATED_PHONE_RELAY_URL``), signed as Twilio signs it: one socket per step
(``calls.relay.phone.relay_step``), so every step stays a request of its own.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.test import RequestFactory
from django.urls import resolve
from django.utils import timezone

from agents.models import AIAgent
from calls.models import CallSession, CallTurn
from calls.relay.phone import relay_step
from calls.screen import Screen, read_twiml
from calls.telephony import webhook_auth_token, webhook_path
from integrations.twilio import CallRequest, IncomingNumber, NumberWebhooks, PlacedCall, SentMessage, sign

logger = logging.getLogger(__name__)


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


class SimulatedGateway:
    """Accepts calls for the simulator to answer; nothing leaves the machine."""

    def place_call(self, req: CallRequest) -> PlacedCall:
        return PlacedCall(sid=new_call_sid(), status="queued", to=req.to, from_=req.from_)

    def hangup(self, call_sid: str) -> None:
        call = CallSession.objects.select_related("ai_agent__client").filter(twilio_call_sid=call_sid).first()
        if call and not call.is_final:
            SimulatedPhone(call.ai_agent).hang_up(call_sid)

    def update_twiml(self, call_sid: str, twiml: str) -> None:
        logger.info("Simulated call %s now plays: %s", call_sid, twiml)

    def send_sms(self, to: str, from_: str, body: str, status_callback: str | None = None) -> SentMessage:
        logger.info("Simulated SMS to %s: %s", to, body)
        return SentMessage(sid="SM" + uuid.uuid4().hex, status="sent")

    def configure_incoming_number(self, phone_number: str, webhooks: NumberWebhooks) -> IncomingNumber:
        # The built-in phone posts to the webhooks directly (SimulatedPhone): nothing to configure.
        logger.info("Simulated number %s answers at %s", phone_number, webhooks.voice_url)
        return IncomingNumber(
            sid="PNsimulated", phone_number=phone_number,
            voice_url=webhooks.voice_url, voice_method="POST",
            voice_fallback_url=webhooks.voice_fallback_url, voice_fallback_method="POST",
            status_callback=webhooks.status_callback, status_callback_method="POST",
        )  # fmt: skip


def relay_server() -> str:
    """Where the built-in phone opens a relay-mode agent's socket: the running server by default."""
    return settings.SIMULATED_PHONE_RELAY_URL or settings.RELAY_BASE_URL


class SimulatedPhone:
    """Drive one agent's webhooks (and a relay agent's socket) as Twilio and a caller would.

    ``relay_socket=False`` takes a relay-mode agent's turns through the turn webhook instead
    (the same engine; the terminal phone's ``--no-socket``, when no server is running).
    """

    def __init__(self, agent: AIAgent, *, relay_socket: bool = True):
        self.agent = agent
        self.relay_socket = relay_socket
        self._factory = RequestFactory()

    def post(self, name: str, params: dict[str, str], **query: object) -> tuple[int, bytes]:
        path = webhook_path(self.agent, name, **query)
        params = {"AccountSid": "ACsimulated", "ApiVersion": "2010-04-01", **params}
        signature = sign(
            auth_token=webhook_auth_token(self.agent.client), url=settings.PUBLIC_BASE_URL + path, params=params
        )
        request = self._factory.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
        match = resolve(path.split("?", 1)[0])
        response = match.func(request, *match.args, **match.kwargs)
        return response.status_code, response.content

    def dial_in(self, *, from_number: str) -> Screen:
        """A customer calls the agent's number."""
        sid = new_call_sid()
        params = {
            "CallSid": sid,
            "From": from_number,
            "To": self.agent.phone_number or "",
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        status, body = self.post("incoming", params)
        return self._closing(read_twiml(sid, status, body))

    def answer(self, call: CallSession, *, machine: bool = False) -> Screen:
        """Pick up an outbound call the agent placed (or let voicemail pick it up)."""
        sid = call.twilio_call_sid
        base = {
            "CallSid": sid,
            "From": self.agent.phone_number or "",
            "To": call.customer_profile.phone_number,
            "Direction": "outbound-api",
        }
        self.post("status", {**base, "CallStatus": "ringing", "SequenceNumber": "1"})
        self.post("status", {**base, "CallStatus": "in-progress", "SequenceNumber": "2"})
        status, body = self.post("answered", {**base, "CallStatus": "in-progress"})
        screen = self._closing(read_twiml(sid, status, body))
        if machine:
            self.post("amd", {**base, "AnsweredBy": "machine_end_beep"})
            self.hang_up(sid)
            return Screen(sid, screen.said, False, True)
        return screen

    def say(self, call_sid: str, text: str) -> Screen:
        """The person says ``text`` (an empty string is silence)."""
        if self.relay_socket and self.agent.voice_mode == AIAgent.VoiceMode.RELAY:
            return relay_step(phone=self, call_sid=call_sid, text=text, server=relay_server())
        last = (
            CallTurn.objects.filter(call__ai_agent=self.agent, call__twilio_call_sid=call_sid)
            .order_by("-sequence")
            .first()
        )
        params = {"CallSid": call_sid, "CallStatus": "in-progress"}
        if text:
            params |= {"SpeechResult": text, "Confidence": "0.93"}
        status, body = self.post("turn", params, n=(last.sequence + 1) if last else 0)
        return self._closing(read_twiml(call_sid, status, body))

    def _closing(self, screen: Screen) -> Screen:
        """The agent ended the call (``<Hangup>``, a transfer): report it completed, as Twilio does."""
        if screen.ended:
            self.hang_up(screen.call_sid)
        return screen

    def hang_up(self, call_sid: str, *, status: str = "completed") -> None:
        call = CallSession.objects.filter(twilio_call_sid=call_sid).first()
        duration = 0
        if call and call.answered_at:
            duration = int((timezone.now() - call.answered_at).total_seconds())
        self.post(
            "status", {"CallSid": call_sid, "CallStatus": status, "CallDuration": str(duration), "SequenceNumber": "9"}
        )
