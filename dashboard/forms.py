"""The dashboard's forms: they parse and check input shapes; the rules live in the services.

A service's ``ValidationFailed`` names the field it refuses in ``details["fields"]``;
:func:`add_service_error` puts it next to that field, so a person sees the reason where
they typed, and a rule is written once (in the service), not again here.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from functools import lru_cache

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from agents.models import AIAgent
from calls.models import CallSession
from core.errors import DomainError
from customers.models import CustomerProfile
from simulations.personas import PERSONAS

VOICES = [
    ("Polly.Joanna-Neural", "Joanna (US English, female)"),
    ("Polly.Matthew-Neural", "Matthew (US English, male)"),
    ("Polly.Salli-Neural", "Salli (US English, female)"),
    ("Polly.Joey-Neural", "Joey (US English, male)"),
    ("Polly.Amy-Neural", "Amy (British English, female)"),
    ("Polly.Brian-Neural", "Brian (British English, male)"),
    ("Polly.Olivia-Neural", "Olivia (Australian English, female)"),
]
SALES_TECHNIQUES = [
    ("rapport_building", "Rapport building"),
    ("needs_assessment", "Needs assessment"),
    ("solution_presentation", "Solution presentation"),
    ("social_proof", "Social proof"),
    ("trial_close", "Trial close"),
    ("assumptive_close", "Assumptive close"),
    ("urgency", "Urgency"),
    ("spin_selling", "SPIN selling"),
]
MAX_TABLE_ROWS = 50
ANY_YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return [("UTC", "UTC"), *((n, n.replace("_", " ")) for n in names)]


def add_service_error(form: forms.Form, error: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Show a service's refusal on the form: on the field it names, else at the top."""
    fields = (error.details or {}).get("fields") or {}
    placed = False
    for name, messages in fields.items():
        target = (field_map or {}).get(name, name)
        if target in form.fields:
            for message in messages if isinstance(messages, list) else [messages]:
                form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _lines(text: str) -> list[str]:
    return [line.strip(" -•\t") for line in (text or "").splitlines() if line.strip(" -•\t")]


# --- sign-up, sign-in, onboarding ------------------------------------------------------------------


class SignupForm(forms.Form):
    company_name = forms.CharField(max_length=200, label="Company name")
    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password.",
    )
    timezone = forms.ChoiceField(
        choices=timezone_choices, initial="UTC", help_text="Your business's days and working hours use it."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["company_name"].widget.attrs["autocomplete"] = "organization"
        self.fields["full_name"].widget.attrs["autocomplete"] = "name"


class LoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})


class AgentSetupForm(forms.Form):
    """The seed's setup form: who the agent is, when it works, what it sells, what it aims for."""

    agent_name = forms.CharField(max_length=120, label="Agent name", help_text="What the agent calls itself.")
    personality_type = forms.ChoiceField(choices=AIAgent.Personality.choices, label="Personality")
    voice_model = forms.ChoiceField(choices=VOICES, label="Voice")
    working_hours_start = forms.TimeField(
        initial=time(9, 0), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), label="Works from"
    )
    working_hours_end = forms.TimeField(
        initial=time(18, 0), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), label="Until"
    )
    phone_number = forms.CharField(
        max_length=32, required=False, label="Agent phone number",
        help_text="Optional. Its own number in E.164 (+14155550100); inbound calls to it reach the agent.",
    )  # fmt: skip
    company_name = forms.CharField(max_length=200, label="Company name")
    product_description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="What you sell"
    )
    value_proposition = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Why customers buy it"
    )
    target_conversions = forms.IntegerField(
        min_value=0, max_value=1_000_000, required=False, label="Target conversions / month"
    )
    avg_deal_size = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=2, required=False, label="Average deal size"
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("working_hours_start"), data.get("working_hours_end")
        if start and end and start >= end:
            self.add_error("working_hours_end", "The working day must end after it starts.")
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        goals = {}
        if d.get("target_conversions") is not None:
            goals["target_conversions"] = d["target_conversions"]
        if d.get("avg_deal_size") is not None:
            goals["avg_deal_size"] = float(d["avg_deal_size"])
        return {
            "name": d["agent_name"],
            "personality_type": d["personality_type"],
            "voice_model": d["voice_model"],
            "working_hours_start": d["working_hours_start"],
            "working_hours_end": d["working_hours_end"],
            "phone_number": d.get("phone_number") or None,
            "business_info": {
                k: d[k].strip() for k in ("company_name", "product_description", "value_proposition") if d.get(k)
            },
            "sales_goals": goals,
        }


# --- training ------------------------------------------------------------------------------------


class ScriptForm(forms.Form):
    training_content = forms.CharField(
        max_length=10_000, label="Sales script",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "true"}),
        help_text="[NAME] becomes the agent's name and [COMPANY] your company's, when the agent speaks.",
    )  # fmt: skip
    client_instructions = forms.CharField(
        max_length=4000, required=False, label="Instructions for the agent",
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Optional: tone, things to avoid, what to ask for.",
    )  # fmt: skip

    training_type = "script"

    def service_kwargs(self) -> dict:
        return {
            "training_content": self.cleaned_data["training_content"],
            "client_instructions": self.cleaned_data.get("client_instructions", ""),
        }


class ProductForm(forms.Form):
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    pricing = forms.CharField(max_length=300, required=False, help_text="e.g. $0 down, from $89/month")
    features = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="One per line; three give full marks."
    )
    benefits = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="One per line; three give full marks."
    )

    training_type = "product"

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "product_details": {
                "description": d.get("description", ""),
                "pricing": d.get("pricing", ""),
                "features": _lines(d.get("features", ""))[:MAX_TABLE_ROWS],
                "benefits": _lines(d.get("benefits", ""))[:MAX_TABLE_ROWS],
            }
        }


class PairTableForm(forms.Form):
    """An editable two-column table (objection -> answer, question -> answer) posted as parallel lists."""

    key_field = "key"
    value_field = "value"
    training_type = ""
    service_field = ""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.pairs: list[tuple[str, str]] = []
        if data is not None:
            keys = data.getlist(self.key_field)
            values = data.getlist(self.value_field)
            self.pairs = [(k.strip(), v.strip()) for k, v in zip(keys, values, strict=False)]

    def clean(self):
        data = super().clean()
        pairs = [(k, v) for k, v in self.pairs if k or v]
        if any(k and not v for k, v in pairs):
            raise forms.ValidationError("Every row needs an answer (or remove the row).")
        if any(v and not k for k, v in pairs):
            raise forms.ValidationError("Every answer needs its question or objection.")
        if not pairs:
            raise forms.ValidationError("Add at least one row.")
        if len(pairs) > MAX_TABLE_ROWS:
            raise forms.ValidationError(f"At most {MAX_TABLE_ROWS} rows at a time.")
        if any(len(k) > 200 or len(v) > 4000 for k, v in pairs):
            raise forms.ValidationError("Keep each key under 200 characters and each answer under 4,000.")
        data["pairs"] = dict(pairs)
        return data

    def service_kwargs(self) -> dict:
        return {self.service_field: self.cleaned_data["pairs"]}


class ObjectionsForm(PairTableForm):
    key_field = "objection"
    value_field = "answer"
    training_type = "objection_handling"
    service_field = "objection_responses"


class FaqForm(PairTableForm):
    key_field = "question"
    value_field = "faq_answer"
    training_type = "faq"
    service_field = "faq"


class TechniquesForm(forms.Form):
    techniques = forms.MultipleChoiceField(
        choices=SALES_TECHNIQUES, required=False, widget=forms.CheckboxSelectMultiple, label="Techniques"
    )
    other = forms.CharField(
        required=False, label="Other techniques", help_text="One per line.", widget=forms.Textarea(attrs={"rows": 2})
    )

    training_type = "techniques"

    def clean(self):
        data = super().clean()
        picked = list(data.get("techniques") or []) + _lines(data.get("other", ""))
        if not picked:
            raise forms.ValidationError("Pick or type at least one technique.")
        data["picked"] = picked[:MAX_TABLE_ROWS]
        return data

    def service_kwargs(self) -> dict:
        return {"sales_techniques": self.cleaned_data["picked"]}


class CompanyForm(forms.Form):
    company_name = forms.CharField(max_length=200, required=False)
    product_description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    value_proposition = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    training_type = "company_info"

    def service_kwargs(self) -> dict:
        return {"company_info": {k: v for k, v in self.cleaned_data.items() if v}}


TRAINING_FORMS: dict[str, type[forms.Form]] = {
    "script": ScriptForm,
    "product": ProductForm,
    "objections": ObjectionsForm,
    "techniques": TechniquesForm,
    "faq": FaqForm,
    "company": CompanyForm,
}


# --- lists and actions ---------------------------------------------------------------------------


def _choices_with_any(choices, label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


class CallFilterForm(forms.Form):
    call_type = forms.ChoiceField(choices=_choices_with_any(CallSession.CallType.choices), required=False, label="Type")
    status = forms.ChoiceField(choices=_choices_with_any(CallSession.Status.choices), required=False)
    outcome = forms.ChoiceField(choices=_choices_with_any(CallSession.Outcome.choices), required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    # `search`, as in the API's lists: one name for one filter on every door.
    search = forms.CharField(required=False, max_length=100, label="Customer", widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name or number"}))  # fmt: skip


class CustomerFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=100, label="Search", widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name, number or email"}))  # fmt: skip
    interest_level = forms.ChoiceField(
        choices=_choices_with_any(CustomerProfile.InterestLevel.choices), required=False, label="Interest"
    )
    converted = forms.ChoiceField(choices=ANY_YES_NO, required=False)
    dnc = forms.ChoiceField(choices=ANY_YES_NO, required=False, label="Do not call")
    ordering = forms.ChoiceField(
        required=False, label="Sort by",
        choices=[("-created_at", "Newest"), ("name", "Name"), ("-last_contacted_at", "Last contacted"),
                 ("-total_calls", "Most calls")],
    )  # fmt: skip


def yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class StartCallForm(forms.Form):
    phone_number = forms.CharField(max_length=32, required=False, label="Phone number")
    customer_id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    context = forms.CharField(max_length=2000, required=False, label="Why are we calling?")

    def clean(self):
        data = super().clean()
        if not data.get("phone_number") and not data.get("customer_id"):
            raise forms.ValidationError("Enter the number to call.")
        return data


class RescheduleForm(forms.Form):
    when = forms.DateTimeField(
        label="New time", input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    priority = forms.TypedChoiceField(
        choices=[(n, f"{n}{' (most urgent)' if n == 1 else ''}") for n in range(1, 6)], coerce=int, label="Priority"
    )

    def clean_when(self) -> datetime:
        # The browser sends a naive local time: it is the client's (the active timezone).
        when = self.cleaned_data["when"]
        return timezone.make_aware(when) if timezone.is_naive(when) else when


class CsvUploadForm(forms.Form):
    file = forms.FileField(label="Leads file (CSV)", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


class SimulatorDialForm(forms.Form):
    from_number = forms.CharField(max_length=32, initial="+12025550143", label="Call from (your test number)")


class SimulatorSayForm(forms.Form):
    text = forms.CharField(max_length=2000, required=False, label="Say something")


class PersonaSimulationForm(forms.Form):
    personas = forms.MultipleChoiceField(
        choices=[(p.key, p.name) for p in PERSONAS],
        initial=[p.key for p in PERSONAS],
        widget=forms.CheckboxSelectMultiple,
        label="Personas to play",
        error_messages={"required": "Choose at least one persona."},
    )
