"""The settings pages' forms: input shapes and bounds only; the rules live in the services.

The bounds are the API's (agents.api, accounts.api), so a value one door takes the other takes
too. The rules (working hours in order, a known timezone, E.164 numbers, credentials Twilio
accepts) are checked by the services, and their refusals are shown on the field they name.
"""

from __future__ import annotations

from datetime import time

from django import forms

from agents.models import AIAgent
from dashboard.forms import timezone_choices
from integrations.twilio.twiml import supported_voices

TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
LANGUAGE_NAMES = {
    "de-DE": "German (Germany)", "en-AU": "English (Australia)", "en-GB": "English (UK)", "en-IE": "English (Ireland)",
    "en-IN": "English (India)", "en-NZ": "English (New Zealand)", "en-US": "English (US)",
    "en-ZA": "English (South Africa)", "es-ES": "Spanish (Spain)", "es-MX": "Spanish (Mexico)", "es-US": "Spanish (US)",
    "fr-CA": "French (Canada)", "fr-FR": "French (France)", "it-IT": "Italian", "ja-JP": "Japanese",
    "nl-NL": "Dutch", "pt-BR": "Portuguese (Brazil)", "pt-PT": "Portuguese (Portugal)",
}  # fmt: skip


def voice_choices() -> list[tuple[str, str]]:
    """Only the voices the TwiML builder knows (integrations.twilio.twiml), labelled with their language."""
    return [
        (
            name,
            f"{name.removeprefix('Polly.').removesuffix('-Neural')} ({LANGUAGE_NAMES.get(locale, locale)}, {gender})",
        )
        for name, locale, gender in supported_voices()
    ]


def language_choices() -> list[tuple[str, str]]:
    locales = sorted({locale for _, locale, _ in supported_voices()})
    return [(locale, LANGUAGE_NAMES.get(locale, locale)) for locale in locales]


VOICE_LOCALE = {name: locale for name, locale, _ in supported_voices()}


class AgentSettingsForm(forms.Form):
    agent_name = forms.CharField(max_length=120, label="Agent name")
    personality_type = forms.ChoiceField(choices=AIAgent.Personality.choices, label="Personality")
    language = forms.ChoiceField(choices=language_choices, label="Language")
    voice_model = forms.ChoiceField(choices=voice_choices, label="Voice", help_text="Only voices for the language.")
    voice_mode = forms.ChoiceField(
        choices=AIAgent.VoiceMode.choices, label="Voice mode", required=False,
        help_text="ConversationRelay starts speaking while the reply is written; it must be enabled on your "
        "Twilio account. Gather works everywhere.",
    )  # fmt: skip
    working_hours_start = forms.TimeField(widget=TIME_WIDGET, label="Works from", input_formats=["%H:%M", "%H:%M:%S"])
    working_hours_end = forms.TimeField(widget=TIME_WIDGET, label="Until", input_formats=["%H:%M", "%H:%M:%S"])
    transfer_phone_number = forms.CharField(
        max_length=32, required=False, label="Transfer number",
        help_text="Where 'talk to a human' is dialled, e.g. +14155550199. Empty: no transfers.",
    )  # fmt: skip
    voicemail_message = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Voicemail message",
        help_text="Left on an answering machine. Empty: a short default naming the agent and company.",
    )  # fmt: skip

    def __init__(self, *args, current_voice: str = "", current_language: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        languages = language_choices()
        if current_language and current_language not in dict(languages):
            languages.insert(0, (current_language, f"{current_language} (current)"))
        self.fields["language"].choices = languages
        choices = voice_choices()
        if current_voice and current_voice not in VOICE_LOCALE:
            # A voice set through the API (e.g. an alias) stays selectable, so saving other fields keeps it.
            choices.insert(0, (current_voice, f"{current_voice} (current)"))
        self.fields["voice_model"].choices = choices

    def clean(self):
        data = super().clean()
        voice, language = data.get("voice_model"), data.get("language")
        locale = VOICE_LOCALE.get(voice or "")
        if locale and language and locale != language:
            self.add_error(
                "voice_model",
                f"This voice speaks {LANGUAGE_NAMES.get(locale, locale)}; pick one for "
                f"{LANGUAGE_NAMES.get(language, language)}.",
            )
        start, end = data.get("working_hours_start"), data.get("working_hours_end")
        if isinstance(start, time) and isinstance(end, time) and start >= end:
            # Said here too so both times keep what was typed; agents.services refuses it anyway.
            self.add_error("working_hours_end", "The working day must end after it starts.")
        return data

    def agent_changes(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["agent_name"].strip(),
            "personality_type": d["personality_type"],
            "language": d["language"],
            "voice_model": d["voice_model"],
            **({"voice_mode": d["voice_mode"]} if d.get("voice_mode") else {}),  # absent: unchanged
            "working_hours_start": d["working_hours_start"],
            "working_hours_end": d["working_hours_end"],
            "voicemail_message": d["voicemail_message"].strip(),
        }


class AgentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(AIAgent.Status.PAUSED, "Pause"), (AIAgent.Status.ACTIVE, "Resume")])


class CallingPolicyForm(forms.Form):
    timezone = forms.ChoiceField(
        choices=timezone_choices, label="Timezone", help_text="Working hours and each day's call limit use it."
    )
    daily_call_limit = forms.IntegerField(
        min_value=0, max_value=100_000, label="Outbound calls per day", help_text="0 stops outbound calls."
    )
    disclosure_enabled = forms.BooleanField(required=False, label="Say the disclosure first on every call")
    disclosure_text = forms.CharField(
        max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Disclosure",
        help_text="The first thing every caller and callee hears.",
    )  # fmt: skip
    recording_enabled = forms.BooleanField(required=False, label="Record outbound calls")

    def clean(self):
        data = super().clean()
        if data.get("disclosure_enabled") and not (data.get("disclosure_text") or "").strip():
            self.add_error("disclosure_text", "Write the disclosure, or turn it off.")
        return data


class TwilioCredentialsForm(forms.Form):
    account_sid = forms.RegexField(
        regex=r"^AC[0-9a-fA-F]{32}$", max_length=34, label="Account SID",
        error_messages={"invalid": "An Account SID is AC followed by 32 hexadecimal characters."},
        help_text="In your Twilio console, under Account info.",
    )  # fmt: skip
    auth_token = forms.CharField(
        max_length=64, min_length=16, label="Auth token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Checked with Twilio before it is saved; stored encrypted and never shown again.",
    )  # fmt: skip


class AgentNumberForm(forms.Form):
    phone_number = forms.CharField(max_length=32, required=False, label="Agent phone number")

    def __init__(self, *args, numbers: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if numbers:
            # The client's own account: pick one of its numbers rather than type it.
            self.fields["phone_number"] = forms.ChoiceField(
                choices=[("", "No number"), *numbers], required=False, label="Agent phone number",
                help_text="A number of your Twilio account. Its webhooks are pointed at your agent when you save.",
            )  # fmt: skip
        else:
            self.fields[
                "phone_number"
            ].help_text = "In E.164, e.g. +14155550100. It must be on the Twilio account your calls use."
