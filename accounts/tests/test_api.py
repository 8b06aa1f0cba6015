"""Sign-up, sign-in, sign-out, who-am-I, the client's call policy; 401s, throttling, tenancy."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from accounts.models import Client, User
from accounts.services import BAD_CREDENTIALS_MESSAGE, EMAIL_TAKEN_MESSAGE, client_signup
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/api/auth/signup/"
LOGIN = "/api/auth/login/"
LOGOUT = "/api/auth/logout/"
ME = "/api/auth/me/"
SETTINGS = "/api/account/settings/"
PASSWORD = "correct-horse-battery"  # the factories' password


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache, which outlives a test; start each test at zero.
    cache.clear()
    yield
    cache.clear()


def _signup_body(**overrides):
    return {
        "company_name": "Sunrise Solar",
        "email": "Founder@Sunrise.test",
        "password": "a-long-unusual-passphrase",
        "full_name": "Sam Founder",
        "timezone": "America/Chicago",
        **overrides,
    }


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


# --- sign-up ------------------------------------------------------------------------------------


def test_signup_creates_the_client_its_owner_and_a_working_token():
    response = APIClient().post(SIGNUP, _signup_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    client = Client.objects.get(slug="sunrise-solar")
    owner = User.objects.get(email="founder@sunrise.test")
    assert owner.client == client and owner.role == User.Role.OWNER and owner.full_name == "Sam Founder"
    assert owner.check_password("a-long-unusual-passphrase")
    assert client.timezone == "America/Chicago"
    assert body["client"] == {
        "id": client.pk,
        "name": "Sunrise Solar",
        "slug": "sunrise-solar",
        "timezone": "America/Chicago",
    }
    assert body["user"]["email"] == "founder@sunrise.test"
    assert AuthToken.objects.filter(user=owner).count() == 1
    assert body["token"] not in str(list(AuthToken.objects.values_list("digest", "token_key")))  # stored hashed

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = api.get(ME)
    assert me.status_code == 200
    assert me.json()["has_agent"] is False


def test_signup_picks_a_free_slug_when_the_name_is_taken(client_a):
    response = APIClient().post(SIGNUP, _signup_body(company_name="Acme Solar"), format="json")

    assert response.status_code == 201
    assert response.json()["client"]["slug"] == "acme-solar-2"


def test_signup_with_a_weak_password_is_refused_and_creates_nothing():
    response = APIClient().post(SIGNUP, _signup_body(password="12345678"), format="json")

    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_failed"
    assert error["message"].startswith("password: ")
    assert any("too common" in m for m in error["fields"]["password"])
    assert not Client.objects.exists() and not User.objects.exists()


def test_signup_with_an_unknown_timezone_says_which_names_work():
    response = APIClient().post(SIGNUP, _signup_body(timezone="Mars/Olympus"), format="json")

    assert response.status_code == 422
    assert "'Mars/Olympus' is not a known timezone" in _error(response)["message"]


def test_signup_with_a_taken_email_is_a_conflict_whatever_its_case(user_a):
    response = APIClient().post(SIGNUP, _signup_body(email="OWNER@acme.test"), format="json")

    assert response.status_code == 409
    error = _error(response)
    assert error == {"code": "email_taken", "message": EMAIL_TAKEN_MESSAGE}
    assert Client.objects.count() == 1


def test_signup_is_all_or_nothing(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("token store down")

    monkeypatch.setattr(AuthToken.objects, "create", broken)
    with pytest.raises(RuntimeError):
        client_signup(company_name="Half Done", email="half@done.test", password="a-long-unusual-passphrase")
    assert not Client.objects.filter(name="Half Done").exists()
    assert not User.objects.filter(email="half@done.test").exists()


def test_signup_and_login_ignore_a_stale_session_instead_of_failing_csrf(user_a):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(user_a)

    assert api.post(SIGNUP, _signup_body(), format="json").status_code == 201
    assert api.post(LOGIN, {"email": user_a.email, "password": PASSWORD}, format="json").status_code == 200


def test_signup_accepts_json_only():
    response = APIClient().post(SIGNUP, _signup_body(), format="multipart")

    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


# --- login / logout -----------------------------------------------------------------------------


def test_each_login_returns_a_token_of_its_own_and_both_work(user_a):
    first = APIClient().post(LOGIN, {"email": "Owner@Acme.test", "password": PASSWORD}, format="json")
    second = APIClient().post(LOGIN, {"email": "owner@acme.test", "password": PASSWORD}, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["token"] != second.json()["token"]
    assert AuthToken.objects.filter(user=user_a).count() == 2
    for body in (first.json(), second.json()):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
        assert api.get(ME).status_code == 200
    assert first.json()["user"] == {"id": user_a.pk, "email": "owner@acme.test", "full_name": "", "role": "owner"}


@pytest.mark.parametrize(
    "email,password",
    [("owner@acme.test", "wrong-password"), ("nobody@acme.test", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_bad_credentials_get_one_message_whichever_part_is_wrong(user_a, email, password):
    response = APIClient().post(LOGIN, {"email": email, "password": password}, format="json")

    assert response.status_code == 422
    assert _error(response) == {"code": "invalid_credentials", "message": BAD_CREDENTIALS_MESSAGE}
    assert not AuthToken.objects.exists()


def test_an_inactive_user_cannot_sign_in(user_a):
    user_a.is_active = False
    user_a.save()

    response = APIClient().post(LOGIN, {"email": user_a.email, "password": PASSWORD}, format="json")

    assert response.status_code == 422
    assert _error(response)["message"] == BAD_CREDENTIALS_MESSAGE


def test_login_without_a_password_says_so(user_a):
    response = APIClient().post(LOGIN, {"email": user_a.email}, format="json")

    assert response.status_code == 400
    assert _error(response)["message"] == "password: This field is required."


def test_login_is_throttled_per_address_by_the_login_rate(settings, user_a):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    api = APIClient()

    statuses = [
        api.post(LOGIN, {"email": user_a.email, "password": "nope"}, format="json").status_code for _ in range(3)
    ]

    assert statuses == [422, 422, 429]
    throttled = api.post(LOGIN, {"email": user_a.email, "password": PASSWORD}, format="json")
    assert throttled.status_code == 429
    assert _error(throttled)["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def test_logout_revokes_the_token_it_was_sent_with(user_a):
    _, token = AuthToken.objects.create(user=user_a)
    _, other_device = AuthToken.objects.create(user=user_a)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api.post(LOGOUT).status_code == 204
    assert AuthToken.objects.filter(user=user_a).count() == 1
    still = APIClient()
    still.credentials(HTTP_AUTHORIZATION=f"Token {other_device}")
    assert still.get(ME).status_code == 200
    after = api.get(ME)
    assert after.status_code == 401
    assert _error(after) == {"code": "authentication_failed", "message": "Invalid token."}


def test_logout_with_the_dashboard_session_ends_the_session(user_a):
    api = APIClient()
    api.force_login(user_a)
    assert api.get(ME).status_code == 200

    assert api.post(LOGOUT).status_code == 204
    assert api.get(ME).status_code == 401


def test_logout_needs_a_signed_in_user():
    response = APIClient().post(LOGOUT)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# --- me, 401 and throttling shape ---------------------------------------------------------------


def test_me_shows_the_user_and_their_client(api_a, user_a):
    body = api_a.get(ME).json()

    assert body["user"]["email"] == user_a.email
    assert body["client"]["slug"] == "acme-solar"
    assert body["has_agent"] is False


def test_me_says_whether_the_client_has_an_agent(api_a, agent_a, api_b):
    # agent_a belongs to client A; client B has none. (accounts may not import agents' factories.)
    assert api_a.get(ME).json()["has_agent"] is True
    assert api_b.get(ME).json()["has_agent"] is False


def test_me_of_client_b_never_shows_client_a(api_b, client_a, client_b):
    body = api_b.get(ME).json()

    assert body["client"]["id"] == client_b.pk
    assert "acme" not in str(body).lower()


@pytest.mark.parametrize("path", [ME, SETTINGS, "/api/agents/ai/", "/api/agents/ai/training/"])
def test_anonymous_requests_get_401_with_the_error_shape_and_a_challenge(path):
    response = APIClient().get(path)

    assert response.status_code == 401
    assert _error(response) == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == "Token"


def test_staff_are_refused_by_the_client_api(staff_user):
    api = APIClient()
    api.force_authenticate(staff_user)

    response = api.get(ME)

    assert response.status_code == 403
    assert _error(response)["message"] == "This endpoint is for users of a client business."


def test_per_user_throttle_answers_429_with_the_error_shape(settings, monkeypatch, api_a):
    # The test settings switch the default throttles off, and DRF copies the defaults onto the
    # classes at import, so both the settings and the copies are set here.
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
        "DEFAULT_THROTTLE_RATES": rates,
    }
    monkeypatch.setattr(APIView, "throttle_classes", [UserRateThrottle])
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", rates)

    statuses = [api_a.get(ME).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    throttled = api_a.get(SETTINGS)
    assert throttled.status_code == 429
    error = _error(throttled)
    assert error["code"] == "throttled"
    assert error["message"].startswith("Request was throttled.")
    assert "Retry-After" in throttled


# --- the client's call policy -------------------------------------------------------------------


def test_settings_show_the_clients_call_policy(api_a, client_a):
    response = api_a.get(SETTINGS)

    assert response.status_code == 200
    assert response.json() == {
        "company_name": "Acme Solar",
        "slug": "acme-solar",
        "timezone": "America/New_York",
        "transfer_phone_number": "",
        "daily_call_limit": 200,
        "disclosure_enabled": True,
        "disclosure_text": client_a.disclosure_text,
        "recording_enabled": True,
    }


def test_settings_change_only_what_is_sent_and_normalise_the_transfer_number(api_a, client_a):
    response = api_a.patch(
        SETTINGS,
        {"transfer_phone_number": "(415) 555-0199", "daily_call_limit": 50, "disclosure_enabled": False},
        format="json",
    )

    assert response.status_code == 200, response.content
    client_a.refresh_from_db()
    assert client_a.transfer_phone_number == "+14155550199"
    assert (client_a.daily_call_limit, client_a.disclosure_enabled) == (50, False)
    assert client_a.timezone == "America/New_York"
    assert response.json()["transfer_phone_number"] == "+14155550199"


def test_settings_refuse_a_bad_phone_number_with_the_reason(api_a, client_a):
    response = api_a.patch(SETTINGS, {"transfer_phone_number": "call me maybe"}, format="json")

    assert response.status_code == 422
    assert "is not a phone number" in _error(response)["message"]
    client_a.refresh_from_db()
    assert client_a.transfer_phone_number == ""


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"timezone": "Nowhere/Land"}, 422, "timezone: 'Nowhere/Land' is not a known timezone"),
        ({"daily_call_limit": -1}, 400, "daily_call_limit: Ensure this value is greater than or equal to 0."),
        ({"company_name": ""}, 400, "company_name: This field may not be blank."),
    ],
)
def test_settings_validation_errors_name_the_field(api_a, body, status, message):
    response = api_a.patch(SETTINGS, body, format="json")

    assert response.status_code == status
    assert _error(response)["message"].startswith(message)


def test_client_b_changing_its_settings_leaves_client_a_alone(api_b, client_a, client_b):
    before = Client.objects.filter(pk=client_a.pk).values().get()

    response = api_b.patch(SETTINGS, {"daily_call_limit": 7, "timezone": "Asia/Tokyo"}, format="json")

    assert response.status_code == 200
    assert response.json()["slug"] == "bravo-roofing"
    assert Client.objects.filter(pk=client_a.pk).values().get() == before
    client_b.refresh_from_db()
    assert (client_b.daily_call_limit, client_b.timezone) == (7, "Asia/Tokyo")


def test_a_member_of_the_same_client_sees_the_same_settings(client_a, api_a):
    member = UserFactory(client=client_a, role=User.Role.MEMBER)
    api = APIClient()
    api.force_authenticate(member)

    assert api.get(SETTINGS).json() == api_a.get(SETTINGS).json()
