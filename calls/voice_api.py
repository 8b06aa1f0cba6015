"""Voice endpoints: start an outbound call, and drive the built-in simulated phone."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from agents.tenancy import AgentApi
from callbacks.claims import callback_cancel_claimed, callback_claim_for_dial, callback_release
from callbacks.selectors import callback_get
from calls.dispatch import LIVE_STATUSES
from calls.models import CallSession
from calls.outbound import call_place, call_place_to_number
from calls.selectors_voice import call_by_sid
from calls.simulated_phone import Screen, SimulatedPhone
from calls.telephony import uses_simulated_phone
from core.api_schema import errors
from core.errors import CallNotAllowed, Conflict, ValidationFailed
from core.phone import normalize_e164


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

        phone_number = serializers.CharField(required=False, allow_blank=True, max_length=32)
        call_type = serializers.ChoiceField(
            choices=["outbound", "scheduled", "followup"], default="outbound", required=False
        )
        context = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
        scheduled_callback_id = serializers.UUIDField(required=False, allow_null=True)

        def validate(self, attrs):
            if not attrs.get("phone_number") and not attrs.get("scheduled_callback_id"):
                raise serializers.ValidationError("Give a phone_number or a scheduled_callback_id.")
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={201: CallStartedSerializer, **errors(400, 401, 404, 409, 422)},
        summary="Start an AI call",
        description="Refused with 409 (and `next_allowed_at`) when the customer is on the do-not-call list, "
        "outside 08:00-21:00 their time or the agent's working hours, the agent is trained below 20 %, "
        "the customer's timezone is unknown, or the daily limit is reached. Twilio errors are 422.",
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
            call_type = "scheduled" if call_type == "outbound" else call_type
        if callback is None:
            call = call_place_to_number(
                agent=agent, phone_number=v["phone_number"], call_type=call_type, context=v["context"]
            )
        else:
            call = _place_callback_now(agent=agent, callback=callback, call_type=call_type, context=v["context"])
        out = CallStartedSerializer(call, context={"simulated": uses_simulated_phone(agent.client)})
        return Response(out.data, status=status.HTTP_201_CREATED)


def _place_callback_now(*, agent, callback, call_type: str, context: str) -> CallSession:
    """Dial a scheduled callback by hand: claimed like the dispatcher does, given back if refused."""
    if CallSession.objects.filter(callback=callback, status__in=LIVE_STATUSES).exists():
        raise Conflict("A call for this callback is already in progress.")
    callback = callback_claim_for_dial(callback=callback)
    try:
        return call_place(
            agent=agent, customer=callback.customer_profile, call_type=call_type, context=context, callback=callback
        )
    except CallNotAllowed as refused:
        if refused.code == "do_not_call":
            callback_cancel_claimed(callback=callback, reason=refused.message)
        else:
            # Refused for now (hours, daily limit): it stays booked, the attempt unspent.
            callback_release(callback=callback, at=callback.scheduled_datetime, reason=refused.message)
        raise


class ScreenSerializer(serializers.Serializer):
    class Meta:
        ref_name = "SimulatorScreen"

    call_sid = serializers.CharField()
    call_id = serializers.UUIDField(allow_null=True)
    said = serializers.ListField(child=serializers.CharField())
    listening = serializers.BooleanField()
    ended = serializers.BooleanField()
    transferred_to = serializers.CharField(allow_blank=True)


def _screen(agent, screen: Screen) -> dict:
    call = CallSession.objects.filter(ai_agent=agent, twilio_call_sid=screen.call_sid).only("id").first()
    return {
        "call_sid": screen.call_sid,
        "call_id": call.pk if call else None,
        "said": screen.said,
        "listening": screen.listening,
        "ended": screen.ended,
        "transferred_to": screen.transferred_to,
    }


class SimulatorDialInApi(AgentApi):
    """Call the agent from the built-in phone, as a customer would."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulatorDialIn"

        from_number = serializers.CharField(required=False, default="+12025550143", max_length=32)

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
    """Say something on a simulated call (an empty text is silence)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimulatorSay"

        text = serializers.CharField(allow_blank=True, max_length=2000)

    @extend_schema(
        request=InputSerializer,
        responses={200: ScreenSerializer, **errors(400, 401, 404)},
        summary="Simulator: say something",
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
