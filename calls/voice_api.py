"""Voice endpoints: start an outbound call, and drive the built-in simulated phone."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.models import AIAgent
from agents.tenancy import AgentApi
from callbacks.selectors import callback_get
from calls.dispatch import callback_place_now
from calls.models import CallSession
from calls.numbers import agent_phone_number_configure
from calls.outbound import call_place_to_number
from calls.screen import Screen
from calls.selectors import call_by_sid, call_id_by_sid
from calls.simulated_phone import SimulatedPhone
from calls.telephony import telephony_domain_error, uses_simulated_phone
from core.api_fields import PhoneNumberField
from core.api_schema import errors
from core.errors import REFUSED_BY_RULE, Conflict, ValidationFailed
from core.phone import normalize_e164
from integrations.twilio import TelephonyError


class CallStartedSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CallStarted"

    id = serializers.UUIDField()
    twilio_call_sid = serializers.CharField(allow_null=True)
    call_type = serializers.CharField()
    status = serializers.CharField()
    customer_id = serializers.UUIDField(source="customer_profile_id")
    phone_number = serializers.CharField(source="customer_profile.phone_number")
    started_at = serializers.DateTimeField()
    simulated = serializers.SerializerMethodField()

    def get_simulated(self, call: CallSession) -> bool:
        return bool(self.context.get("simulated"))


class StartCallApi(AgentApi):
    """``POST /api/agents/ai/start-call/``: check the calling rules, then dial."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StartCall"

        phone_number = PhoneNumberField(required=False, allow_blank=True, max_length=32)
        call_type = serializers.ChoiceField(
            choices=["outbound", "scheduled", "followup"], default="outbound", required=False
        )
        context = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
        scheduled_callback_id = serializers.UUIDField(required=False, allow_null=True)

        def validate(self, attrs):
            if not attrs.get("phone_number") and not attrs.get("scheduled_callback_id"):
                raise serializers.ValidationError(
                    "Give a phone_number or a scheduled_callback_id.", code=REFUSED_BY_RULE
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={201: CallStartedSerializer, **errors(400, 401, 404, 409, 422, 502, 503)},
        summary="Start an AI call",
        description="Refused with 409 (and `next_allowed_at`) when the customer is on the do-not-call list, "
        "outside 08:00-21:00 their time or the agent's working hours, the agent is trained below 20 %, "
        "the customer's timezone is unknown, the daily limit is reached, or the customer is on a call right now "
        "or being dialled (`customer_on_call`). With `scheduled_callback_id` the call carries the callback's "
        "reason and the call it was booked on; `context` is added to that. Twilio refusing the call "
        "(e.g. an invalid number) is 422 with `twilio_code`; Twilio unreachable, timing out or rate-limiting "
        "is 503 and a Twilio server error 502, both with `retry_after` (seconds) and a `Retry-After` header. "
        "A call Twilio did not place is kept in the call log as failed with the reason, and does not count "
        "towards the daily limit.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        agent = self.agent
        callback = None
        call_type = v["call_type"]
        if v.get("scheduled_callback_id"):
            callback = callback_get(agent=agent, callback_id=v["scheduled_callback_id"])
            customer = callback.customer_profile
            if v.get("phone_number") and normalize_e164(v["phone_number"]) != customer.phone_number:
                raise ValidationFailed("phone_number does not match the scheduled callback's customer.")
        try:
            if callback is None:
                call = call_place_to_number(
                    agent=agent, phone_number=v["phone_number"], call_type=call_type, context=v["context"]
                )
            else:
                call = callback_place_now(callback=callback, note=v["context"])
        except TelephonyError as exc:
            raise telephony_domain_error(exc) from exc
        out = CallStartedSerializer(call, context={"simulated": uses_simulated_phone(agent.client)})
        return Response(out.data, status=status.HTTP_201_CREATED)


class ScreenSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulatorScreen"

    call_sid = serializers.CharField()
    call_id = serializers.UUIDField(allow_null=True)
    said = serializers.ListField(child=serializers.CharField())
    listening = serializers.BooleanField()
    ended = serializers.BooleanField()
    transferred_to = serializers.CharField(allow_blank=True)
    tokens = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        help_text="A relay-mode agent's reply as it streamed over its ConversationRelay socket, piece by piece "
        "(joined, they are the reply in `said`); empty for a gather agent and for steps with no reply.",
    )


def _screen(agent: AIAgent, screen: Screen) -> dict:
    return {
        "call_sid": screen.call_sid,
        "call_id": call_id_by_sid(agent=agent, call_sid=screen.call_sid),
        "said": screen.said,
        "listening": screen.listening,
        "ended": screen.ended,
        "transferred_to": screen.transferred_to,
        "tokens": screen.tokens,
    }


class SimulatorDialInApi(AgentApi):
    """Call the agent from the built-in phone, as a customer would."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulatorDialIn"

        from_number = PhoneNumberField(required=False, default="+12025550143", max_length=32)

    @extend_schema(
        request=InputSerializer,
        responses={201: ScreenSerializer, **errors(400, 401, 404)},
        summary="Simulator: call the agent",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        screen = SimulatedPhone(self.agent).dial_in(from_number=normalize_e164(data.validated_data["from_number"]))
        return Response(_screen(self.agent, screen), status=status.HTTP_201_CREATED)


class SimulatorSayApi(AgentApi):
    """Say something on a simulated call (an empty text is silence).

    A relay-mode agent is spoken to over its ConversationRelay socket, as Twilio speaks to it.
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulatorSay"

        text = serializers.CharField(allow_blank=True, max_length=2000)

    @extend_schema(
        request=InputSerializer,
        responses={200: ScreenSerializer, **errors(400, 401, 404, 503)},
        summary="Simulator: say something",
        description="An empty text is silence. A relay-mode agent is spoken to as Twilio speaks to it: over a "
        "signed ConversationRelay socket to the running server (`SIMULATED_PHONE_RELAY_URL`, by default "
        "`RELAY_BASE_URL`), one socket per step; `tokens` is its reply as it streamed. 503 with `retry_after` "
        "when that socket does not answer.",
    )
    def post(self, request, call_sid: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call = call_by_sid(agent=self.agent, call_sid=call_sid)
        screen = SimulatedPhone(self.agent).say(call.twilio_call_sid, data.validated_data["text"])
        return Response(_screen(self.agent, screen))


class SimulatorAnswerApi(AgentApi):
    """Pick up an outbound call the agent placed to the simulated phone."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulatorAnswer"

        machine = serializers.BooleanField(default=False, help_text="Let voicemail pick up instead of a person.")

    @extend_schema(
        request=InputSerializer,
        responses={200: ScreenSerializer, **errors(400, 401, 404, 409)},
        summary="Simulator: answer an outbound call",
    )
    def post(self, request, call_sid: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call = call_by_sid(agent=self.agent, call_sid=call_sid)
        if call.is_final or call.answered_at:
            raise Conflict("This call is not ringing.")
        screen = SimulatedPhone(self.agent).answer(call, machine=data.validated_data["machine"])
        return Response(_screen(self.agent, screen))


class SimulatorHangUpApi(AgentApi):
    @extend_schema(request=None, responses={200: ScreenSerializer, **errors(401, 404)}, summary="Simulator: hang up")
    def post(self, request, call_sid: str):
        call = call_by_sid(agent=self.agent, call_sid=call_sid)
        if not call.is_final:
            SimulatedPhone(self.agent).hang_up(call.twilio_call_sid)
        return Response(_screen(self.agent, Screen(call_sid=call.twilio_call_sid, ended=True)))


class PhoneNumberConfiguredSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PhoneNumberConfigured"

    sid = serializers.CharField(help_text="Twilio's IncomingPhoneNumber SID.")
    phone_number = serializers.CharField()
    voice_url = serializers.CharField()
    voice_method = serializers.CharField()
    voice_fallback_url = serializers.CharField()
    voice_fallback_method = serializers.CharField()
    status_callback = serializers.CharField(help_text="Twilio calls it when an inbound call ends.")
    status_callback_method = serializers.CharField()
    simulated = serializers.BooleanField(help_text="True on the built-in phone: nothing was sent to Twilio.")


class PhoneNumberConfigureApi(AgentApi):
    """``POST /api/agents/ai/phone-number/configure/``: point the agent's number at its webhooks again."""

    @extend_schema(
        operation_id="agent_phone_number_configure",
        request=None,
        responses={200: PhoneNumberConfiguredSerializer, **errors(401, 403, 404, 422, 502, 503)},
        summary="Connect the agent's Twilio number",
        description="Sets, on the client's Twilio account, the agent's number's voice URL, fallback URL and "
        "status callback URL (all POST), so inbound calls reach the agent and are finalised when they end. "
        "Done automatically when the number is set; this re-applies it (e.g. after an edit in the Twilio "
        "console). 422 when the agent has no number or the account does not own it; 503/502 with "
        "`retry_after` when Twilio is unreachable or failing.",
        tags=["agent"],
    )
    def post(self, request):
        agent = self.agent
        number = agent_phone_number_configure(agent=agent)
        out = {**asdict(number), "simulated": uses_simulated_phone(agent.client)}
        return Response(PhoneNumberConfiguredSerializer(out).data)
