"""API tokens: one per sign-in, stored hashed, listed and revoked by their owner (issue 11, finding 10)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN, TOKENS, ME = "/api/auth/login/", "/api/auth/tokens/", "/api/auth/me/"
PASSWORD = "correct-horse-battery"


def _sign_in(user, **extra) -> str:
    response = APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _api(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_tokens_are_stored_hashed(user_a):
    token = _sign_in(user_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest, token_key FROM knox_authtoken")
        stored = cursor.fetchall()
    assert len(stored) == 1
    digest, key = stored[0]
    assert token not in digest and len(digest) == 128 and token.startswith(key) and len(key) < len(token) // 2


def test_a_user_lists_their_own_tokens_and_sees_which_one_is_in_use(user_a, user_b):
    laptop = _sign_in(user_a)
    phone = _sign_in(user_a)
    _sign_in(user_b)

    response = _api(phone).get(TOKENS)

    assert response.status_code == 200
    listed = response.json()
    assert [t["current"] for t in listed] == [True, False]
    assert {t["id"] for t in listed} == {phone[:15], laptop[:15]}
    assert all(t["expiry"] is None for t in listed)
    assert laptop not in response.content.decode() and phone not in response.content.decode()


def test_revoking_a_token_signs_out_that_device_only(user_a):
    laptop, phone = _sign_in(user_a), _sign_in(user_a)

    assert _api(phone).delete(f"{TOKENS}{laptop[:15]}/").status_code == 204

    assert _api(laptop).get(ME).status_code == 401
    assert _api(phone).get(ME).status_code == 200


@pytest.mark.parametrize("owner", ["same_client", "other_client"])
def test_another_users_token_is_not_found_and_keeps_working(user_a, user_b, client_a, owner):
    other = UserFactory(client=client_a, role="member") if owner == "same_client" else user_b
    theirs = _sign_in(other)
    mine = _sign_in(user_a)

    response = _api(mine).delete(f"{TOKENS}{theirs[:15]}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _api(theirs).get(ME).status_code == 200


def test_a_token_with_an_expiry_stops_working_after_it(user_a):
    token = _sign_in(user_a, expires_in_days=7)
    listed = _api(token).get(TOKENS).json()
    expiry = listed[0]["expiry"]
    assert expiry is not None

    with time_machine.travel(timezone.now() + timedelta(days=8)):
        after = _api(token).get(ME)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("days", [0, 366, "soon"])
def test_an_expiry_out_of_bounds_is_refused_with_a_message(user_a, days):
    response = APIClient().post(
        LOGIN, {"email": user_a.email, "password": PASSWORD, "expires_in_days": days}, format="json"
    )
    assert response.status_code == 400
    assert "expires_in_days" in response.json()["error"]["message"]


def test_tokens_need_a_signed_in_user():
    assert APIClient().get(TOKENS).status_code == 401
    assert APIClient().delete(f"{TOKENS}abc/").status_code == 401
