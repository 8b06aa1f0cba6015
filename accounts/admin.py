from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from accounts.models import Client, SettingChange, User


class ClientAdminForm(forms.ModelForm):
    """The Twilio auth token is write-only: staff see whether one is set, never the token itself.

    A decrypted secret on a page ends up in browser caches, screenshots and shoulder-surfing;
    replacing it is all staff ever need.
    """

    new_twilio_auth_token = forms.CharField(
        label="New Twilio auth token",
        required=False,
        max_length=128,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current token.",
    )
    clear_twilio_auth_token = forms.BooleanField(label="Remove the stored token", required=False)

    class Meta:
        model = Client
        fields = [
            "name",
            "slug",
            "timezone",
            "twilio_subaccount_sid",
            "transfer_phone_number",
            "daily_call_limit",
            "disclosure_enabled",
            "disclosure_text",
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_twilio_auth_token") and cleaned.get("clear_twilio_auth_token"):
            raise forms.ValidationError("Either replace the token or remove it, not both.")
        return cleaned

    def save(self, commit=True):
        client = super().save(commit=False)
        if self.cleaned_data.get("clear_twilio_auth_token"):
            client.twilio_auth_token = ""
        elif self.cleaned_data.get("new_twilio_auth_token"):
            client.twilio_auth_token = self.cleaned_data["new_twilio_auth_token"]
        if commit:
            client.save()
            self.save_m2m()
        return client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientAdminForm
    list_display = ["name", "slug", "timezone", "user_count", "has_twilio_subaccount", "daily_call_limit", "created_at"]
    list_filter = ["timezone", "disclosure_enabled"]
    search_fields = ["name", "slug", "twilio_subaccount_sid"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "twilio_auth_token_state"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "timezone", "created_at"]}),
        (
            "Twilio subaccount",
            {
                "fields": [
                    "twilio_subaccount_sid",
                    "twilio_auth_token_state",
                    "new_twilio_auth_token",
                    "clear_twilio_auth_token",
                ]
            },
        ),
        (
            "Call policy",
            {
                "fields": [
                    "transfer_phone_number",
                    "daily_call_limit",
                    "disclosure_enabled",
                    "disclosure_text",
                    "recording_enabled",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_users=Count("users"))

    @admin.display(description="Users", ordering="_users")
    def user_count(self, obj: Client) -> int:
        return obj._users

    @admin.display(description="Own Twilio", boolean=True)
    def has_twilio_subaccount(self, obj: Client) -> bool:
        return obj.has_twilio_subaccount

    @admin.display(description="Twilio auth token")
    def twilio_auth_token_state(self, obj: Client) -> str:
        return "set" if obj.pk and obj.twilio_auth_token else "not set"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "client", "role", "is_staff", "is_active", "date_joined"]
    list_filter = ["role", "is_staff", "is_active"]
    list_select_related = ["client"]
    search_fields = ["email", "full_name", "client__name"]
    autocomplete_fields = ["client"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "client", "role"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "client", "role", "password1", "password2"]})]


@admin.register(SettingChange)
class SettingChangeAdmin(admin.ModelAdmin):
    """The audit trail of settings changes: read-only, an audit is not edited."""

    list_display = ["changed_at", "client", "changed_by", "area", "field", "old_value", "new_value"]
    list_filter = ["area"]
    list_select_related = ["client", "changed_by"]
    search_fields = ["client__name", "changed_by__email", "field"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
