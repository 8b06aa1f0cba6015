"""Sign-up, sign-in, the user's API tokens and the client's own settings.

Authentication is a token (docs/adr/0002-api-auth.md, 0008-hashed-api-tokens.md):
``POST /api/auth/login/`` returns a new token that the frontend sends as
``Authorization: Token <token>``; only its digest is stored. The dashboard pages keep using the
session cookie, and the API accepts it too.
"""

from __future__ import annotations

from django.contrib.auth import logout as session_logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import Client, User
from accounts.selectors import api_token_get, api_tokens
from accounts.services import (
    MAX_TOKEN_DAYS,
    api_token_revoke,
    auth_login,
    client_settings_update,
    client_signup,
    password_problems,
)
from accounts.tenancy import TenantApi
from core.api_fields import PhoneNumberField, TimezoneNameField
from core.api_schema import ErrorResponse, errors
from core.errors import REFUSED_BY_RULE

TOO_MANY = {
    429: OpenApiResponse(
        ErrorResponse, description="Too many attempts from this address; wait the Retry-After header's seconds."
    )
}


class LoginThrottle(ScopedRateThrottle):
    """The ``login`` scope's rate, read at request time.

    DRF's throttles copy the rates onto the class when it is imported, so a settings override
    (``override_settings`` in a test, a settings module swapped in a shell) would be ignored.
    """

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class CredentialsApi(APIView):
    """Base of the endpoints that take a password: public, and throttled per address.

    No authentication classes: a stale session cookie must not turn a sign-in into a CSRF
    failure, and these endpoints do not need to know who is asking.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_scope = "login"

    def get_throttles(self):
        return [*super().get_throttles(), LoginThrottle()]


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=User.Role.choices)

    class Meta:
        ref_name = "User"


class ClientOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    timezone = serializers.CharField()

    class Meta:
        ref_name = "Client"


class SignupApi(CredentialsApi):
    class InputSerializer(serializers.Serializer):
        company_name = serializers.CharField(max_length=200)
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(
            min_length=8, max_length=128, trim_whitespace=False, style={"input_type": "password"},
            help_text="At least 8 characters; not all digits, not a common password, not like the email or name "
            "(those rules answer 422).",
        )  # fmt: skip
        full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
        timezone = TimezoneNameField(
            required=False, default="UTC",
            help_text="IANA name, e.g. America/New_York. Decides the client's 'today' and working hours.",
        )  # fmt: skip

        class Meta:
            ref_name = "Signup"

        def validate(self, attrs):
            problems = password_problems(attrs["password"], email=attrs["email"], full_name=attrs["full_name"])
            if problems:
                raise serializers.ValidationError({"password": problems}, code=REFUSED_BY_RULE)
            return attrs

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
        user = UserOutputSerializer()
        client = ClientOutputSerializer()

        class Meta:
            ref_name = "SignedUp"

    @extend_schema(
        operation_id="auth_signup",
        summary="Sign up a client business",
        description="Creates the client (tenant) and its owner user in one go and signs the owner in. "
        "The client starts without an AI agent: create it with POST /api/agents/ai/setup/.",
        request=InputSerializer,
        responses={201: OutputSerializer, **errors(400, 409, 422), **TOO_MANY},
        tags=["auth"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signed_up = client_signup(**data.validated_data)
        body = {"token": signed_up.token, "user": signed_up.user, "client": signed_up.client}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class LoginApi(CredentialsApi):
    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
        expires_in_days = serializers.IntegerField(
            min_value=1, max_value=MAX_TOKEN_DAYS, required=False, allow_null=True, default=None,
            help_text="The token stops working after this many days. Leave out for a token that lasts until revoked.",
        )  # fmt: skip

        class Meta:
            ref_name = "Login"

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
        user = UserOutputSerializer()

        class Meta:
            ref_name = "LoggedIn"

    @extend_schema(
        operation_id="auth_login",
        summary="Sign in and get an API token",
        description="Returns a new API token for this device (shown once: only its digest is stored). A wrong "
        "password and an unknown email get the same 422, so this cannot be used to find out who has an account. "
        "Limited per address by the `login` throttle rate; repeated wrong passwords lock the email out from "
        "that address for a while (429).",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 422), **TOO_MANY},
        tags=["auth"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = auth_login(request=request._request, **data.validated_data)
        return Response(self.OutputSerializer({"token": token, "user": user}).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_logout",
        summary="Sign out",
        description="Revokes the API token the request was made with (the user's other devices stay signed "
        "in; see /api/auth/tokens/), or ends the session when the request came with the dashboard's "
        "session cookie.",
        request=None,
        responses={204: OpenApiResponse(description="Signed out."), **errors(401)},
        tags=["auth"],
    )
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            api_token_revoke(token=request.auth)
        else:
            session_logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="token_key", help_text="The token's first characters: its public id.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True, help_text="When it stops working; null: until revoked.")
    current = serializers.SerializerMethodField(help_text="Whether this request was made with it.")

    class Meta:
        ref_name = "ApiToken"

    def get_current(self, token: AuthToken) -> bool:
        used = self.context.get("used")
        return used is not None and used.pk == token.pk


class ApiTokenListApi(APIView):
    """The signed-in user's own API tokens: each sign-in (device) has one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_tokens_list",
        summary="List your API tokens",
        description="Every API token of the signed-in user that still works, newest first. The token itself is "
        "never shown again after sign-in; `id` names it here.",
        responses={200: ApiTokenOutputSerializer(many=True), **errors(401)},
        tags=["auth"],
    )
    def get(self, request):
        used = request.auth if isinstance(request.auth, AuthToken) else None
        tokens = api_tokens(user=request.user)[:100]
        return Response(ApiTokenOutputSerializer(tokens, many=True, context={"used": used}).data)


class ApiTokenDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="auth_tokens_revoke",
        summary="Revoke one of your API tokens",
        description="Signs out the device that uses it at once. Another user's token is not found (404).",
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), **errors(401, 404)},
        tags=["auth"],
    )
    def delete(self, request, token_id: str):
        api_token_revoke(token=api_token_get(user=request.user, token_id=token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(TenantApi):
    class OutputSerializer(serializers.Serializer):
        user = UserOutputSerializer()
        client = ClientOutputSerializer()
        has_agent = serializers.BooleanField(help_text="False until POST /api/agents/ai/setup/ has been done.")

        class Meta:
            ref_name = "Me"

    @extend_schema(
        operation_id="auth_me",
        summary="Who am I",
        description="The signed-in user, their client, and whether the client has set up its AI agent yet.",
        responses={200: OutputSerializer, **errors(401, 403)},
        tags=["auth"],
    )
    def get(self, request):
        # The reverse one-to-one is read by name: accounts may not import agents (DESIGN.md layers).
        has_agent = Client.objects.filter(pk=self.client.pk, agent__isnull=False).exists()
        body = {"user": request.user, "client": self.client, "has_agent": has_agent}
        return Response(self.OutputSerializer(body).data)


class ClientSettingsApi(TenantApi):
    """The client's call policy. It lives on the client, not the agent, so it has its own door."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        company_name = serializers.CharField(max_length=200, required=False, source="name")
        timezone = TimezoneNameField(required=False)
        transfer_phone_number = PhoneNumberField(
            max_length=32, required=False, allow_blank=True,
            help_text="Where 'talk to a human' is dialled; normalised to E.164. Empty to clear.",
        )  # fmt: skip
        daily_call_limit = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
        disclosure_enabled = serializers.BooleanField(required=False)
        disclosure_text = serializers.CharField(max_length=300, required=False, allow_blank=True)
        recording_enabled = serializers.BooleanField(required=False, help_text="Record outbound calls.")

        class Meta:
            ref_name = "ClientSettingsUpdate"

    class OutputSerializer(serializers.Serializer):
        company_name = serializers.CharField(source="name")
        slug = serializers.SlugField()
        timezone = serializers.CharField()
        transfer_phone_number = serializers.CharField()
        daily_call_limit = serializers.IntegerField()
        disclosure_enabled = serializers.BooleanField()
        disclosure_text = serializers.CharField()
        recording_enabled = serializers.BooleanField()

        class Meta:
            ref_name = "ClientSettings"

    @extend_schema(
        operation_id="account_settings_read",
        summary="Read the client's call policy",
        description="Transfer number, outbound calls per day, the AI/recording disclosure and the timezone.",
        responses={200: OutputSerializer, **errors(401, 403)},
        tags=["account"],
    )
    def get(self, request):
        return Response(self.OutputSerializer(self.client).data)

    @extend_schema(
        operation_id="account_settings_update",
        summary="Change the client's call policy",
        description="Transfer number, outbound calls per day, the AI/recording disclosure, whether outbound "
        "calls are recorded and the client's timezone. Only the fields sent change; each change is kept with "
        "who made it.",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors(400, 401, 403, 422)},
        tags=["account"],
    )
    def patch(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client = client_settings_update(client=self.client, changed_by=request.user, **data.validated_data)
        return Response(self.OutputSerializer(client).data)
