"""The tenant (``Client``) and the people who sign in (``User``)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from core.fields import EncryptedTextField
from core.timezones import validate_timezone_name
from core.validators import validate_e164

DEFAULT_DISCLOSURE = "This call is with an AI assistant and may be recorded for quality."


class Client(models.Model):
    """A client business: the tenant every other row of client data hangs off."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone_name])
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    # The client's own Twilio subaccount; the platform account is used when these are empty.
    twilio_subaccount_sid = models.CharField(max_length=64, blank=True)
    twilio_auth_token = EncryptedTextField(blank=True)

    # Call policy the client controls.
    transfer_phone_number = models.CharField(
        max_length=16, blank=True, validators=[validate_e164], help_text="Where 'talk to a human' is dialled."
    )
    daily_call_limit = models.PositiveIntegerField(default=200, help_text="Outbound calls per day, all agents.")
    disclosure_enabled = models.BooleanField(default=True, help_text="Say the AI/recording disclosure first.")
    disclosure_text = models.CharField(max_length=300, default=DEFAULT_DISCLOSURE, blank=True)
    recording_enabled = models.BooleanField(default=True, help_text="Record outbound calls.")
    # Pacing, enforced at dial time on every outbound path (calls.pacing).
    max_concurrent_calls = models.PositiveSmallIntegerField(
        default=100, help_text="Outbound calls live at once, at most; reserved for this client."
    )
    contact_calls_per_week = models.PositiveSmallIntegerField(
        default=10, help_text="Calls to one customer in any 7 days, at most (campaigns, callbacks, follow-ups)."
    )
    dial_rate_per_second = models.PositiveSmallIntegerField(
        default=1, help_text="Dials per second on the client's own Twilio subaccount (Twilio's default is 1)."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(slug=""), name="client_slug_not_empty"),
            models.CheckConstraint(
                condition=Q(max_concurrent_calls__gte=1, max_concurrent_calls__lte=500), name="client_concurrency_1_500"
            ),
            models.CheckConstraint(
                condition=Q(contact_calls_per_week__gte=1, contact_calls_per_week__lte=50),
                name="client_contact_calls_week_1_50",
            ),
            models.CheckConstraint(
                condition=Q(dial_rate_per_second__gte=1, dial_rate_per_second__lte=100), name="client_dial_rate_1_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_twilio_subaccount(self) -> bool:
        return bool(self.twilio_subaccount_sid and self.twilio_auth_token)


class DialPace(models.Model):
    """The next free dial slot of one Twilio account: a token bucket of one token (calls.pacing).

    Keyed by the account that dials (a client's subaccount SID, or ``platform`` for the account
    shared by clients without one), so clients sharing an account share its calls per second.
    """

    account = models.CharField(max_length=64, unique=True)
    next_slot_at = models.DateTimeField()

    class Meta:
        verbose_name = "dial pace"

    def __str__(self) -> str:
        return f"{self.account}: next dial at {self.next_slot_at:%H:%M:%S.%f}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True, client=None)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Signs in with an email. A client user belongs to exactly one client; staff to none."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="users")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            # Staff run the platform and must not be mistaken for a tenant's user (and vice versa).
            models.CheckConstraint(
                condition=Q(is_staff=True, client__isnull=True) | Q(is_staff=False, client__isnull=False),
                name="user_staff_xor_client",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class SettingChange(models.Model):
    """One changed setting of a client or its agent: who changed it, when, from what to what.

    Written by the services that change settings (``accounts.services``, ``agents.services``),
    so every door (dashboard, API) leaves the same trail. Secrets are stored masked.
    """

    class Area(models.TextChoices):
        AGENT = "agent", "Agent"
        POLICY = "policy", "Calling policy"
        TELEPHONY = "telephony", "Telephony"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="setting_changes")
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    area = models.CharField(max_length=12, choices=Area.choices)
    field = models.CharField(max_length=60)
    old_value = models.CharField(max_length=300, blank=True)
    new_value = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["client", "-changed_at"], name="settingchange_client_time_idx")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} -> {self.new_value}"
