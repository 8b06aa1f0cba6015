"""Every sign-in door locks an email+address pair out after too many wrong passwords.

Issue 11 finding 4: 30 wrong passwords in a row were all answered, then the right one worked.
"""

import pytest
from django.core.cache import cache
from django.test import Client as HttpClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
WRONG = "not-the-password"
ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"


def _dashboard(http, email, password):
    return http.post("/login/", {"username": email, "password": password})


def _admin(http, email, password):
    return http.post("/admin/login/", {"username": email, "password": password, "next": "/admin/"})


def _api(http, email, password):
    return http.post("/api/auth/login/", {"email": email, "password": password}, content_type="application/json")


def _signed_in(door, response) -> bool:
    if door is _api:
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302


DOORS = [_dashboard, _admin, _api]


@pytest.fixture
def account(request, user_a, staff_user):
    # The admin only lets staff in; the dashboard and the API serve client users.
    return (staff_user.email, "staff-pass-123") if request.param is _admin else (user_a.email, PASSWORD)


@pytest.mark.parametrize(("door", "account"), [(d, d) for d in DOORS], indirect=["account"], ids=lambda d: d)
def test_wrong_passwords_lock_the_account_out_from_that_address(settings, door, account):
    email, password = account
    attacker = HttpClient(REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert not _signed_in(door, door(attacker, email, WRONG))
        # Counted in the database, not in one process's memory: wiping the cache changes nothing.
        cache.clear()

    refused = door(attacker, email.upper(), password)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in attacker.session
    if door is _api:
        assert refused.json()["error"]["code"] == "locked_out"
    else:
        assert "Too many failed sign-ins" in refused.content.decode()

    # The same account from another address, and another account from the attacker's, still work.
    assert _signed_in(door, door(HttpClient(REMOTE_ADDR=OFFICE), email, password))


def test_another_account_from_the_locked_address_is_not_affected(settings, user_a, user_b):
    attacker = HttpClient(REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _api(attacker, user_a.email, WRONG)

    assert _api(attacker, user_a.email, PASSWORD).status_code == 429
    assert _api(attacker, user_b.email, PASSWORD).status_code == 200


def test_a_successful_sign_in_resets_the_count(settings, user_a):
    http = HttpClient(REMOTE_ADDR=OFFICE)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _dashboard(http, user_a.email, WRONG)
    assert _dashboard(http, user_a.email, PASSWORD).status_code == 302
    http.post("/logout/")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _dashboard(http, user_a.email, WRONG)
    assert _dashboard(http, user_a.email, PASSWORD).status_code == 302


def test_the_forwarded_address_is_ignored_without_a_trusted_proxy(settings, user_a):
    # Otherwise an attacker would send a new X-Forwarded-For with every guess.
    for n in range(settings.AXES_FAILURE_LIMIT):
        HttpClient(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            "/api/auth/login/", {"email": user_a.email, "password": WRONG}, content_type="application/json"
        )
    assert _api(HttpClient(REMOTE_ADDR=ATTACKER), user_a.email, PASSWORD).status_code == 429
