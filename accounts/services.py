"""Writes to accounts: sign-up, API tokens, the client's call policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypedDict, Unpack

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.crypto import get_random_string
from django.utils.text import slugify
from knox.models import AuthToken

from accounts.models import Client, SettingChange, User
from core.errors import Conflict, DomainError, ValidationFailed
from core.phone import normalize_e164
from core.timezones import is_timezone_name

# One message for an unknown email and a wrong password, so the login form cannot be used to
# find out who has an account.
BAD_CREDENTIALS_MESSAGE = "Unable to sign in with that email and password."
EMAIL_TAKEN_MESSAGE = "An account with this email already exists. Sign in instead, or use another email."
SLUG_MAX_LENGTH = 80
# Each sign-in is a token of its own (a device); past this many, the oldest is revoked so a
# script that signs in on every run cannot grow the table without end.
MAX_TOKENS_PER_USER = 50
MAX_TOKEN_DAYS = 365


class InvalidCredentials(DomainError):
    status = 422  # well-formed, refused: the schema cannot say which passwords are right
    code = "invalid_credentials"


@dataclass(frozen=True)
class SignedUp:
    client: Client
    user: User
    token: str


def _unique_slug(name: str) -> str:
    """A slug for ``name`` no other client has: ``acme``, then ``acme-2``, ``acme-3``...

    A race between two sign-ups with the same name is settled by the unique constraint;
    the caller retries with a random suffix.
    """
    base = slugify(name)[: SLUG_MAX_LENGTH - 10].strip("-") or "client"
    taken = set(Client.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def password_problems(password: str, *, email: str = "", full_name: str = "") -> list[str]:
    """What Django's password validators (settings.AUTH_PASSWORD_VALIDATORS) object to, if anything."""
    try:
        validate_password(password, user=User(email=email, full_name=full_name))
    except ValidationError as exc:
        return list(exc.messages)
    return []


def _check_password(password: str, *, email: str, full_name: str) -> None:
    # Checked here as well as in the API so no door (API, form, shell) can skip the validators.
    problems = password_problems(password, email=email, full_name=full_name)
    if problems:
        raise ValidationFailed(" ".join(problems), code="weak_password", details={"fields": {"password": problems}})


def client_signup(
    *,
    company_name: str,
    email: str,
    password: str,
    full_name: str = "",
    timezone: str = "UTC",
) -> SignedUp:
    """Create a client business, its owner and the owner's API token, all or nothing.

    A half-done sign-up (a client with no owner) would be a tenant nobody can sign in to,
    so the three rows are written in one transaction.
    """
    company_name = company_name.strip()
    email = User.objects.normalize_email(email.strip()).lower()
    full_name = full_name.strip()
    if not company_name:
        raise ValidationFailed("A company name is required.", details={"fields": {"company_name": ["Required."]}})
    if not is_timezone_name(timezone):
        raise ValidationFailed(f"'{timezone}' is not a known timezone (use an IANA name like America/New_York).")
    _check_password(password, email=email, full_name=full_name)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(EMAIL_TAKEN_MESSAGE, code="email_taken")
    try:
        with transaction.atomic():
            client = None
            for attempt in range(5):
                slug = _unique_slug(company_name)
                if attempt:
                    slug = f"{slug[: SLUG_MAX_LENGTH - 7]}-{get_random_string(6).lower()}"
                try:
                    with transaction.atomic():
                        client = Client.objects.create(name=company_name, slug=slug, timezone=timezone)
                    break
                except IntegrityError:
                    continue  # another sign-up took the slug between our read and our write
            if client is None:
                raise Conflict("Could not pick a unique address for this company; please try again.")
            user = User.objects.create_user(email, password, full_name=full_name, client=client, role=User.Role.OWNER)
            token = api_token_create(user=user)
    except IntegrityError:
        # Two sign-ups with the same email raced past the check above.
        raise Conflict(EMAIL_TAKEN_MESSAGE, code="email_taken") from None
    return SignedUp(client=client, user=user, token=token)


def api_token_create(*, user: User, expires_in_days: int | None = None) -> str:
    """A new API token for ``user``; only its SHA-512 digest is stored, so it is shown this once.

    ``expires_in_days`` (1-365) makes it stop working on its own; None: until revoked.
    """
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationFailed(f"A token lasts 1 to {MAX_TOKEN_DAYS} days.")
    expiry = timedelta(days=expires_in_days) if expires_in_days else None
    _, token = AuthToken.objects.create(user=user, expiry=expiry)
    surplus = (
        AuthToken.objects.filter(user=user).order_by("-created").values_list("pk", flat=True)[MAX_TOKENS_PER_USER:]
    )
    AuthToken.objects.filter(pk__in=list(surplus)).delete()
    return token


def api_token_revoke(*, token: AuthToken) -> None:
    """Sign out the frontend using this token; the user's other tokens keep working."""
    token.delete()


def auth_login(
    *, request: HttpRequest, email: str, password: str, expires_in_days: int | None = None
) -> tuple[User, str]:
    """Check the credentials and return the user with a new API token of their own.

    Goes through Django's ``authenticate`` so inactive users are refused, an unknown email
    costs as much time as a wrong password, and the sign-in lockout (django-axes) counts it.
    """
    user = authenticate(request, username=(email or "").strip().lower(), password=password)
    if user is None:
        raise InvalidCredentials(BAD_CREDENTIALS_MESSAGE)
    return user, api_token_create(user=user, expires_in_days=expires_in_days)


class ClientSettingsChanges(TypedDict, total=False):
    name: str
    timezone: str
    transfer_phone_number: str
    daily_call_limit: int
    disclosure_enabled: bool
    disclosure_text: str
    recording_enabled: bool


CLIENT_SETTINGS_FIELDS = frozenset(ClientSettingsChanges.__annotations__)


def _shown(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if hasattr(value, "strftime") and not hasattr(value, "year"):
        return value.strftime("%H:%M")  # a time of day
    return str(value)[:300]


def setting_changes_record(
    *,
    client: Client,
    changed_by: User | None,
    area: str,
    before: dict[str, object],
    after: dict[str, object],
    secret_fields: frozenset[str] = frozenset(),
) -> list[SettingChange]:
    """Keep who changed which setting from what to what; unchanged fields leave no row.

    Every settings service calls this, so the trail is the same whichever door made the
    change. A secret (an auth token) is recorded as changed, never with its value.
    """
    rows = []
    for field, new in after.items():
        old = before.get(field)
        if old == new:
            continue
        masked = field in secret_fields
        rows.append(
            SettingChange(
                client=client,
                changed_by=changed_by if changed_by and changed_by.pk else None,
                area=area,
                field=field,
                old_value="••••••" if masked and old else _shown(old),
                new_value="••••••" if masked and new else _shown(new),
            )
        )
    return SettingChange.objects.bulk_create(rows)


def client_settings_update(
    *, client: Client, changed_by: User | None = None, **changes: Unpack[ClientSettingsChanges]
) -> Client:
    """Change the client's call policy (transfer number, daily limit, disclosure, recording, timezone).

    The timezone decides what "working hours" and "today" mean for the daily limit, so an
    unknown zone is refused rather than silently read as UTC.
    """
    unknown = set(changes) - CLIENT_SETTINGS_FIELDS
    if unknown:
        raise ValidationFailed(f"These settings cannot be changed: {', '.join(sorted(unknown))}.")
    if "timezone" in changes and not is_timezone_name(changes["timezone"]):
        raise ValidationFailed(
            f"'{changes['timezone']}' is not a known timezone (use an IANA name like America/New_York)."
        )
    if "transfer_phone_number" in changes:
        raw = (changes["transfer_phone_number"] or "").strip()
        changes["transfer_phone_number"] = normalize_e164(raw) if raw else ""
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise ValidationFailed("The company name cannot be empty.")
    before = {field: getattr(client, field) for field in changes}
    with transaction.atomic():
        for field, value in changes.items():
            setattr(client, field, value)
        client.save(update_fields=[*changes])
        setting_changes_record(
            client=client, changed_by=changed_by, area=SettingChange.Area.POLICY, before=before, after=changes
        )
    return client


def client_twilio_credentials_set(
    *, client: Client, account_sid: str, auth_token: str, changed_by: User | None
) -> Client:
    """Store the client's own Twilio account (the token encrypted at rest).

    Only ``calls.numbers.twilio_account_connect`` calls this, after Twilio accepted the pair:
    credentials Twilio refuses would silently break every call and webhook of the client.
    """
    before = {"twilio_subaccount_sid": client.twilio_subaccount_sid, "twilio_auth_token": client.twilio_auth_token}
    after = {"twilio_subaccount_sid": account_sid, "twilio_auth_token": auth_token}
    with transaction.atomic():
        client.twilio_subaccount_sid = account_sid
        client.twilio_auth_token = auth_token
        client.save(update_fields=["twilio_subaccount_sid", "twilio_auth_token"])
        setting_changes_record(
            client=client,
            changed_by=changed_by,
            area=SettingChange.Area.TELEPHONY,
            before=before,
            after=after,
            secret_fields=frozenset({"twilio_auth_token"}),
        )
    return client
